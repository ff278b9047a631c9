"""``reactions.add``, ``reactions.remove``, ``reactions.get``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code

if TYPE_CHECKING:
    from parley.app import Services

_NAME_RE = re.compile(r"^[a-z0-9_+'\-]{1,100}$")


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
        ts = args.ts(
            "timestamp",
            required=True,
            missing=Code.MESSAGE_NOT_FOUND,
            invalid=Code.MESSAGE_NOT_FOUND,
        )
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

    api.add("reactions.add", add)
    api.add("reactions.remove", remove)
    api.add("reactions.get", get, read=True)
