"""``bookmarks.add``, ``bookmarks.edit``, ``bookmarks.list``, ``bookmarks.remove``:
links kept at the top of a channel, as Slack's.

A member adds, edits or removes them where they may post (an archived channel's are
kept but not changed: ``is_archived``); whoever may see the channel lists them, the
oldest first. A link is an http(s) URL (``invalid_link``), its title 1 to
:data:`MAX_TITLE` characters; ``type`` is ``link``, the only kind
(``invalid_bookmark_type``); at most :data:`MOST` a channel (``too_many_bookmarks``).
The channel's connections are told (Parley's ``bookmark_added``, ``bookmark_changed``,
``bookmark_removed``). Bookmarks are kept in the directory: few, and read when a
channel is opened, never on the send path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.content import is_emoji_name
from parley.errors import ApiError, Code
from parley.ids import base32, wall_us
from parley.pipeline import events
from parley.storage.models import Bookmark, Channel

if TYPE_CHECKING:
    from parley.app import Services

#: Bookmarks a channel may have, and the longest title and link.
MOST = 100
MAX_TITLE = 255
MAX_LINK = 2000
INVALID_LINK = "invalid_link"


def _link(text: str | None) -> str:
    link = (text or "").strip()
    if not link.startswith(("https://", "http://")) or len(link) > MAX_LINK or " " in link:
        raise ApiError(INVALID_LINK)
    return link


def _title(text: str | None) -> str:
    title = (text or "").strip()
    if not 0 < len(title) <= MAX_TITLE:
        raise ApiError(
            Code.INVALID_ARGUMENTS, data={"arg": "title", "detail": f"1 to {MAX_TITLE} characters"}
        )
    return title


def _emoji(text: str | None) -> str:
    if text and not is_emoji_name(text):
        raise ApiError(
            Code.INVALID_ARGUMENTS, data={"arg": "emoji", "detail": "an emoji's name, :link:"}
        )
    return text or ""


def register(api: Api, svc: Services) -> None:
    access, directory, bus, ids = svc.access, svc.directory, svc.bus, svc.ids

    async def channel_of(ctx: Ctx, args: Args, *, write: bool) -> Channel:
        channel_id = args.str("channel_id", max_len=32)
        if write:
            return await access.writable(ctx.user, channel_id)
        return await access.visible(ctx.user, channel_id)

    async def find(channel: Channel, bookmark_id: str | None) -> Bookmark:
        kept = await directory.bookmarks(channel.id)
        found = next((b for b in kept if b.id == bookmark_id), None)
        if found is None:
            raise ApiError("not_found")
        return found

    def tell(kind: str, channel: Channel, b: Bookmark) -> dict[str, Any]:
        shown = wire.bookmark(b, channel.team_id)
        bus.publish(events.bookmark(kind, channel, shown, wall_us()))
        return {"bookmark": shown}

    async def add(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await channel_of(ctx, args, write=True)
        if (args.str("type", max_len=16) or "link") != "link":
            raise ApiError("invalid_bookmark_type")
        now = wall_us()
        b = Bookmark(
            id="Bk" + base32(ids.next()),
            channel_id=channel.id,
            title=_title(args.str("title", max_len=MAX_TITLE + 1)),
            link=_link(args.str("link", max_len=2 * MAX_LINK)),
            emoji=_emoji(args.str("emoji", max_len=100)),
            created_by=ctx.user.id,
            updated_by=ctx.user.id,
            created=now,
            updated=now,
        )
        if not await directory.add_bookmark(b, MOST):
            raise ApiError("too_many_bookmarks")
        return tell(events.BOOKMARK_ADDED, channel, b)

    async def edit(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await channel_of(ctx, args, write=True)
        b = await find(channel, args.str("bookmark_id", max_len=32))
        title = args.str("title", max_len=MAX_TITLE + 1)
        link = args.str("link", max_len=2 * MAX_LINK)
        emoji = args.str("emoji", max_len=100)
        b = Bookmark(
            id=b.id,
            channel_id=b.channel_id,
            title=_title(title) if title is not None else b.title,
            link=_link(link) if link is not None else b.link,
            emoji=_emoji(emoji) if emoji is not None else b.emoji,
            created_by=b.created_by,
            updated_by=ctx.user.id,
            created=b.created,
            updated=wall_us(),
        )
        await directory.put_bookmark(b)
        return tell(events.BOOKMARK_CHANGED, channel, b)

    async def remove(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await channel_of(ctx, args, write=True)
        b = await find(channel, args.str("bookmark_id", max_len=32))
        if not await directory.remove_bookmark(channel.id, b.id):
            raise ApiError("not_found")  # removed meanwhile
        tell(events.BOOKMARK_REMOVED, channel, b)
        return {}

    async def list_(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await channel_of(ctx, args, write=False)
        found = await directory.bookmarks(channel.id)
        return {"bookmarks": [wire.bookmark(b, channel.team_id) for b in found]}

    api.add("bookmarks.add", add)
    api.add("bookmarks.edit", edit)
    api.add("bookmarks.remove", remove)
    api.add("bookmarks.list", list_, read=True)
