"""``auth.test``, ``auth.revoke`` and ``api.test``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError
from parley.pipeline import scopes

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
            # Slack sends these as the x-oauth-scopes header; Parley also puts them here
            "scopes": scopes.encode(ctx.scopes),
        }
        if ctx.user.bot_id:
            out["bot_id"] = ctx.user.bot_id
        return out

    async def auth_revoke(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Revokes the calling token (``test=true``: only says it would). Takes effect at
        once here; in other processes at once with Redis (cache evictions), else within
        their token-cache TTL."""
        if args.bool("test"):
            return {"revoked": False}
        await svc.auth.revoke(ctx.token)
        return {"revoked": True}

    async def api_test(args: Args, _base_url: str) -> dict[str, Any]:
        """Slack's check of calling code, with no token: the arguments back; with
        ``error``, an error of that name (and the arguments)."""
        echoed = {k: v for k, v in args.all().items() if isinstance(v, str)}
        error = args.str("error", max_len=100)
        if error:
            raise ApiError(error, data={"args": echoed})
        return {"args": echoed}

    api.add_public("api.test", api_test)
    api.add("auth.test", auth_test, read=True)
    api.add("auth.revoke", auth_revoke, read=True)
