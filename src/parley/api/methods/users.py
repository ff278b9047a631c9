"""``users.list``, ``users.info``, ``users.getPresence``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    async def users_list(ctx: Ctx, args: Args) -> dict[str, Any]:
        limit = paging.limit(args, default=200, maximum=1000)
        after = paging.after_key(args, "users") or ""
        page = await svc.directory.users(ctx.user.team_id, after, limit)
        last = page.rows[-1].id if page.rows else None
        return {
            "members": [wire.user(u) for u in page.rows],
            "cache_ts": 0,
            **paging.metadata("users", last, page.has_more),
        }

    async def users_info(ctx: Ctx, args: Args) -> dict[str, Any]:
        user_id = args.str("user", required=True, missing=Code.USER_NOT_FOUND, max_len=32)
        user = None
        if decode_id(Kind.USER, user_id) is not None:
            user = await svc.directory.user(user_id)
        if user is None or user.team_id != ctx.user.team_id:
            raise ApiError(Code.USER_NOT_FOUND)
        return {"user": wire.user(user)}

    async def get_presence(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Presence anywhere in the fleet (:mod:`parley.gateway.presence`), not only on
        the node that answers."""
        user_id = args.str("user", max_len=32) or ctx.user.id
        if user_id != ctx.user.id:
            user = None
            if decode_id(Kind.USER, user_id) is not None:
                user = await svc.directory.user(user_id)
            if user is None or user.team_id != ctx.user.team_id:
                raise ApiError(Code.USER_NOT_FOUND)
        online = await svc.presence.online(ctx.user.team_id, [user_id])
        return {"presence": "active" if user_id in online else "away"}

    api.add("users.list", users_list, read=True)
    api.add("users.info", users_info, read=True)
    api.add("users.getPresence", get_presence, read=True)
