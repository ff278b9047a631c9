"""``stars.add``, ``stars.remove``, ``stars.list``: the messages a person saved for
later, as Slack's stars (its "Save for later").

A person saves a message of a conversation they may read (``message_not_found`` for
none, or a deleted one; ``already_starred``; ``not_starred``); their own connections
are told (``star_added``, ``star_removed``), so their other devices show it. The list
gives the saved messages as they are now, the newest saved first, a page at a time; a
message deleted since, or in a conversation the person can no longer read (a private
channel they left), is left out. Saves are kept in the directory, never read on the
send path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code, ParleyError
from parley.ids import wall_us
from parley.pipeline import events
from parley.storage.models import Message, Star

if TYPE_CHECKING:
    from parley.app import Services

CURSOR = "star"


def register(api: Api, svc: Services) -> None:
    access, store, directory, bus = svc.access, svc.store, svc.directory, svc.bus

    async def saved_message(ctx: Ctx, args: Args) -> Message:
        """The message ``timestamp`` of ``channel``, which the caller may read."""
        channel = await access.visible(ctx.user, args.str("channel", max_len=32))
        ts = args.message_ts("timestamp")
        m = await store.message(channel.id, ts)
        if m is None or m.deleted:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        return m

    async def add(ctx: Ctx, args: Args) -> dict[str, Any]:
        m = await saved_message(ctx, args)
        at = wall_us()
        if not await directory.add_star(Star(ctx.user.id, m.channel, m.ts, at)):
            raise ApiError("already_starred")
        bus.publish(events.starred(m, ctx.user.id, True, at))
        return {}

    async def remove(ctx: Ctx, args: Args) -> dict[str, Any]:
        m = await saved_message(ctx, args)
        if not await directory.remove_star(ctx.user.id, m.channel, m.ts):
            raise ApiError("not_starred")
        bus.publish(events.starred(m, ctx.user.id, False, wall_us()))
        return {}

    async def readable(ctx: Ctx, channel_id: str) -> bool:
        try:
            await access.visible(ctx.user, channel_id)
        except ParleyError:
            return False
        return True

    async def list_stars(ctx: Ctx, args: Args) -> dict[str, Any]:
        limit = paging.limit(args, default=100, maximum=1000)
        after = _star_after(ctx.user.id, paging.after_key(args, CURSOR))
        page = await directory.stars(ctx.user.id, after, limit + 1)
        more, page = len(page) > limit, page[:limit]
        found = await store.messages_at([(s.channel_id, s.ts) for s in page])
        by_key = {(m.channel, m.ts): m for m in found if not m.deleted}
        allowed = {c: await readable(ctx, c) for c in {s.channel_id for s in page}}
        items = [
            {
                "type": "message",
                "channel": s.channel_id,
                "message": wire.message(by_key[(s.channel_id, s.ts)]),
                "date_create": s.created // 1_000_000,
            }
            for s in page
            if (s.channel_id, s.ts) in by_key and allowed[s.channel_id]
        ]
        last = f"{page[-1].created}.{page[-1].channel_id}.{page[-1].ts}" if page else None
        return {"items": items, **paging.metadata(CURSOR, last, more)}

    api.add("stars.add", add)
    api.add("stars.remove", remove)
    api.add("stars.list", list_stars, read=True)


def _star_after(user_id: str, key: str | None) -> Star | None:
    """The star a cursor's key (``created.channel.ts``) names; ``invalid_cursor`` when
    it is not one."""
    if key is None:
        return None
    created, _, rest = key.partition(".")
    channel_id, _, ts = rest.partition(".")
    if not (created.isdigit() and channel_id and ts.isdigit()):
        raise ApiError(Code.INVALID_CURSOR)
    return Star(user_id, channel_id, int(ts), int(created))
