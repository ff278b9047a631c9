"""``users.list``, ``users.info``, ``users.getPresence``, ``users.conversations``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.conversations import types_filter
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id
from parley.pipeline import scopes

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

    async def conversations(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The conversations ``user`` (the caller when left out) is a member of, of the
        ``types`` asked (``public_channel`` by default), by id. For another user, private
        channels and direct messages only where the caller is a member too: nothing the
        caller could not see."""
        public, private, ims = types_filter(args)
        for wanted, kind in ((public, scopes.PUBLIC), (private, scopes.PRIVATE), (ims, scopes.IM)):
            if wanted:
                scopes.require_for_channel("read", kind, ctx.scopes)
        user_id = args.str("user", max_len=32) or ctx.user.id
        if user_id != ctx.user.id:
            user = await svc.directory.user(user_id) if decode_id(Kind.USER, user_id) else None
            if user is None or user.team_id != ctx.user.team_id:
                raise ApiError(Code.USER_NOT_FOUND)
        limit = paging.limit(args, default=100, maximum=1000)
        page = await svc.directory.channels(
            ctx.user.team_id,
            user_id,
            public=public,
            private=private,
            ims=ims,
            exclude_archived=args.bool("exclude_archived"),
            after=paging.after_key(args, "channels") or "",
            limit=limit,
            member_only=True,
            viewer=ctx.user.id,
        )
        listed = []
        for c, n, mine in page.rows:  # is_member, as everywhere, says the caller's
            other = (
                wire.im_user(c, await svc.access.members(c.id), ctx.user.id) if c.is_im else None
            )
            listed.append(wire.channel(c, is_member=mine, num_members=n, im_user=other))
        last = page.rows[-1][0].id if page.rows else None
        return {"channels": listed, **paging.metadata("channels", last, page.has_more)}

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
    api.add("users.conversations", conversations, read=True)
    api.add("users.info", users_info, read=True)
    api.add("users.getPresence", get_presence, read=True)
