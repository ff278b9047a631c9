"""``reactions.add``, ``reactions.remove``, ``reactions.get``, ``reactions.list``."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.storage.reacted import Mark

if TYPE_CHECKING:
    from parley.app import Services

_NAME_RE = re.compile(r"^[a-z0-9_+'\-]{1,100}$")
#: The most messages one ``reactions.list`` page shows (each is a read of its own).
MAX_LISTED = 200


def _mark(key: str) -> Mark:
    """A ``reactions.list`` cursor's key back as the page's start
    (``invalid_cursor`` for one that is not such)."""
    added, _, rest = key.partition(".")
    channel, _, ts = rest.rpartition(".")
    if not (added.isdigit() and ts.isdigit() and channel):
        raise ApiError(Code.INVALID_CURSOR)
    return int(added), channel, int(ts)


def reaction_name(args: Args) -> str:
    """``name`` without surrounding colons (``:thumbsup:`` -> ``thumbsup``); ``invalid_name``
    unless it is 1-100 of ``a-z 0-9 _ + ' -``."""
    raw = args.str("name", required=True, missing=Code.INVALID_NAME, max_len=200)
    name = raw.strip().strip(":") if raw else ""
    if not _NAME_RE.match(name):
        raise ApiError(Code.INVALID_NAME)
    return name


def register(api: Api, svc: Services) -> None:
    sender, access, store = svc.sender, svc.access, svc.store

    def target(args: Args) -> tuple[str | None, int]:
        channel = args.str("channel", max_len=32)
        ts = args.message_ts("timestamp")
        return channel, ts

    async def add(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel, ts = target(args)
        await sender.react(ctx.user, channel, ts, reaction_name(args), add=True)
        return {}

    async def remove(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel, ts = target(args)
        await sender.react(ctx.user, channel, ts, reaction_name(args), add=False)
        return {}

    async def get(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel_id, ts = target(args)
        channel = await access.visible(ctx.user, channel_id)
        m = await store.message(channel.id, ts)
        if m is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        return {"type": "message", "channel": channel.id, "message": wire.message(m)}

    async def list_(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The messages ``user`` (the caller by default) reacted to, newest reaction
        first, with their reactions: only those in conversations the caller may see
        now, none deleted. A page may show fewer than ``limit`` for that; its cursor
        goes on from the last one read."""
        user_id = args.str("user", max_len=32) or ctx.user.id
        if user_id != ctx.user.id:
            other = await svc.directory.user(user_id)
            if other is None or other.team_id != ctx.user.team_id:
                raise ApiError(Code.USER_NOT_FOUND)
        limit = paging.limit(args, default=100, maximum=MAX_LISTED)
        after = paging.after_key(args, "reacted")
        before = _mark(after) if after is not None else None
        marks = await store.reacted(user_id, before, limit + 1)
        more, marks = len(marks) > limit, marks[:limit]
        seen: dict[str, bool] = {}
        for _added, channel_id, _ts in marks:
            if channel_id not in seen:
                try:
                    await access.visible(ctx.user, channel_id)
                    seen[channel_id] = True
                except ApiError:
                    seen[channel_id] = False
        shown = [(c, ts) for _a, c, ts in marks if seen[c]]
        found = await asyncio.gather(*(store.message(c, ts) for c, ts in shown))
        items = [
            {"type": "message", "channel": m.channel, "message": wire.message(m)}
            for m in found
            if m is not None and not m.deleted
        ]
        last = ".".join(map(str, marks[-1])) if marks else None
        return {"items": items, **paging.metadata("reacted", last, more)}

    api.add("reactions.add", add)
    api.add("reactions.remove", remove)
    api.add("reactions.get", get, read=True)
    api.add("reactions.list", list_, read=True)
