"""``auth.test``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    async def auth_test(ctx: Ctx, args: Args) -> dict[str, Any]:
        team = await svc.directory.team(ctx.user.team_id)
        out: dict[str, Any] = {
            "url": ctx.base_url,
            "team": team.name if team else "",
            "user": ctx.user.name,
            "team_id": ctx.user.team_id,
            "user_id": ctx.user.id,
            "is_enterprise_install": False,
        }
        if ctx.user.bot_id:
            out["bot_id"] = ctx.user.bot_id
        return out

    api.add("auth.test", auth_test, read=True)
