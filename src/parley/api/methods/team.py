"""``team.info``: the caller's workspace; ``team.profile.get``: the fields its profiles
have beyond Slack's standard ones (none: Parley's profiles have only those,
:mod:`parley.pipeline.profiles`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    async def info(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The caller's team; ``team``, when given, must name it (a workspace sees no
        other: ``team_not_found``)."""
        asked = args.str("team", max_len=32)
        if asked and asked != ctx.user.team_id:
            raise ApiError(Code.TEAM_NOT_FOUND)
        team = await svc.directory.team(ctx.user.team_id)
        if team is None:
            raise ApiError(Code.TEAM_NOT_FOUND)
        return {"team": wire.team(team)}

    async def profile(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The workspace's custom profile fields, as Slack lists them: none."""
        return {"profile": {"fields": [], "sections": []}}

    api.add("team.info", info, read=True)
    api.add("team.profile.get", profile, read=True)
