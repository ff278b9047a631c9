"""``pins.add``, ``pins.remove``, ``pins.list``: messages pinned in a channel, as Slack's.

A member pins or unpins a message of the channel (``message_not_found`` for none, or a
deleted one; ``already_pinned``; ``no_pin``; at most :data:`MOST` pins a channel:
``too_many_pins``). The channel is told (``pin_added``, ``pin_removed``, with
``pin_count``). ``pins.list`` gives the channel's pinned messages as they are now, the
newest pin first. A pinned message deleted since is left out and not counted; its pin
is forgotten when the channel reaches the limit. Pins are kept in the directory (they
are few, and are read when a channel is opened, not on the send path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import wall_us
from parley.pipeline import events
from parley.storage.models import Channel, Message, Pin, User

if TYPE_CHECKING:
    from parley.app import Services

#: Pins a channel may have (Slack's: 100).
MOST = 100


def register(api: Api, svc: Services) -> None:
    access, store, directory, bus = svc.access, svc.store, svc.directory, svc.bus

    async def pinned_message(ctx: Ctx, args: Args) -> tuple[Channel, Message]:
        """The channel, where the caller may post, and its message ``timestamp``."""
        channel = await access.writable(ctx.user, args.str("channel", max_len=32))
        ts = args.message_ts("timestamp")
        m = await store.message(channel.id, ts)
        if m is None or m.deleted:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        return channel, m

    async def live(channel_id: str) -> tuple[list[tuple[Pin, Message]], list[Pin]]:
        """The channel's pins with their messages, newest first, and the pins whose
        message was deleted since."""
        pins = await directory.pins(channel_id)
        found = await store.messages_at([(p.channel_id, p.ts) for p in pins])
        by_ts = {m.ts: m for m in found if not m.deleted}
        kept = [(p, by_ts[p.ts]) for p in pins if p.ts in by_ts]
        return kept, [p for p in pins if p.ts not in by_ts]

    async def tell(user: User, m: Message, at: int, added: bool, channel: Channel) -> None:
        kept, _gone = await live(channel.id)
        bus.publish(events.pin(m, user.id, at, added, len(kept)))

    async def add(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel, m = await pinned_message(ctx, args)
        at = wall_us()
        pin = Pin(channel.id, m.ts, ctx.user.id, at)
        refused = await directory.add_pin(pin, MOST)
        if refused == "too_many_pins":  # the pins of deleted messages make room
            _kept, gone = await live(channel.id)
            for old in gone:
                await directory.remove_pin(channel.id, old.ts)
            if gone:
                refused = await directory.add_pin(pin, MOST)
        if refused:
            raise ApiError(refused)
        await tell(ctx.user, m, at, True, channel)
        return {}

    async def remove(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel, m = await pinned_message(ctx, args)
        if not await directory.remove_pin(channel.id, m.ts):
            raise ApiError("no_pin")
        at = wall_us()
        await tell(ctx.user, m, at, False, channel)
        return {}

    async def list_pins(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await access.visible(ctx.user, args.str("channel", max_len=32))
        kept, _gone = await live(channel.id)
        items = [
            {
                "type": "message",
                "channel": channel.id,
                "created": p.created // 1_000_000,
                "created_by": p.user_id,
                "message": wire.message(m),
            }
            for p, m in kept
        ]
        return {"items": items}

    api.add("pins.add", add)
    api.add("pins.remove", remove)
    api.add("pins.list", list_pins, read=True)
