"""``conversations.*``: create, open (direct messages, group ones), list, info, join,
leave, invite, kick, members, history, replies, archive, unarchive, setTopic,
setPurpose, rename.

A change of topic, purpose or name is written to the directory, then told to the
channel in a message the server writes (subtypes ``channel_topic``,
``channel_purpose``, ``channel_name``, as Slack's): it takes the next ``seq``, so every
member sees it in order, and it is in the history. A rename is also an event,
``channel_rename`` to the whole team for a public channel, ``group_rename`` to the
members of a private one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from parley import wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.ims import MAX_GROUP_OTHERS, Closing, Ims
from parley.api.methods.ims import announce_join as ims_announce
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id, encode_id, format_ts, wall_us
from parley.pipeline import events, scopes
from parley.storage.models import Channel, Message

if TYPE_CHECKING:
    from parley.app import Services

_NAME_RE = re.compile(r"^[a-z0-9_\-]+$")
_MAX_NAME = 80
_FOREVER = 1 << 62
#: The most unread messages counted for ``unread_count`` (a count is a range scan).
UNREAD_CAP = 10_000
#: The longest topic or purpose (Slack's: 250 characters).
_MAX_ABOUT = 250


def check_name(name: str | None) -> str:
    """Slack's channel-name rules: lower-case letters, digits, ``-`` and ``_``, at most 80."""
    if name is None or not name.strip():
        raise ApiError("invalid_name_required")
    if len(name) > _MAX_NAME:
        raise ApiError("invalid_name_maxlength")
    if not _NAME_RE.match(name):
        raise ApiError(
            Code.INVALID_NAME, data={"detail": "use lower-case letters, digits, '-' and '_'"}
        )
    if not re.search(r"[a-z0-9]", name):
        raise ApiError("invalid_name_punctuation")
    return name


class Types(NamedTuple):
    """Which kinds of conversation a listing asked for (``types``), as the directory's
    ``channels`` takes them (``**types._asdict()``)."""

    public: bool
    private: bool
    ims: bool
    mpims: bool

    def require(self, provided: frozenset[str]) -> None:
        """``missing_scope`` unless ``provided`` may read every kind asked for."""
        kinds = (scopes.PUBLIC, scopes.PRIVATE, scopes.IM, scopes.MPIM)
        for wanted, kind in zip(self, kinds, strict=True):
            if wanted:
                scopes.require_for_channel("read", kind, provided)


#: ``types``' names, in :class:`Types`' order.
_TYPES = ("public_channel", "private_channel", "im", "mpim")


def types_filter(args: Args) -> Types:
    """``types`` (public channels when left out); ``invalid_types`` for a name not in
    :data:`_TYPES`."""
    raw = args.list("types")
    if not raw:
        return Types(True, False, False, False)
    if any(t not in _TYPES for t in raw):
        raise ApiError("invalid_types", data={"detail": f"types must be among {list(_TYPES)}"})
    return Types(*(t in raw for t in _TYPES))


def not_for_ims(channel: Channel, *, group_ok: bool = False) -> None:
    """Joining, leaving, inviting to, removing from, renaming and archiving a direct
    message or a group one are refused (their members are fixed); ``group_ok``: a group
    one is allowed (its topic and purpose)."""
    if channel.is_im or (channel.is_mpim and not group_ok):
        raise ApiError(Code.METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE)


def bounds(args: Args) -> tuple[int, int]:
    """``latest``/``oldest``/``inclusive`` as exclusive bounds ``(before, after)``."""
    latest = args.ts("latest", invalid=Code.INVALID_TS_LATEST)
    oldest = args.ts("oldest", invalid=Code.INVALID_TS_OLDEST)
    inclusive = args.bool("inclusive")
    before = _FOREVER if latest is None else latest + (1 if inclusive else 0)
    after = -1 if oldest is None else oldest - (1 if inclusive else 0)
    return before, after


def register(api: Api, svc: Services) -> None:
    access, directory, store = svc.access, svc.directory, svc.store

    closing = Closing(directory, store, svc.bus)

    async def info_of(channel: Channel, user_id: str, with_count: bool = True) -> dict:
        members = await access.members(channel.id)
        direct = channel.is_im or channel.is_mpim
        return wire.channel(
            channel,
            is_member=user_id in members,
            num_members=len(members) if with_count else None,
            im_user=wire.im_user(channel, members, user_id),
            is_open=not (direct and await closing.closed(user_id, [channel])),
        )

    async def visible(ctx: Ctx, args: Args, family: str) -> Channel:
        """The named channel if the caller may see it, and if the token's scopes allow
        ``family`` on a channel of its kind (private channels need the ``groups:``
        scope); checked in that order, so a hidden channel stays ``channel_not_found``."""
        channel = await access.visible(ctx.user, args.str("channel", max_len=32))
        scopes.require_for_channel(family, scopes.kind_of(channel), ctx.scopes)
        return channel

    async def create(ctx: Ctx, args: Args) -> dict[str, Any]:
        name = check_name(args.str("name", max_len=1000))
        is_private = args.bool("is_private")
        kind = scopes.PRIVATE if is_private else scopes.PUBLIC
        scopes.require_for_channel("write", kind, ctx.scopes)
        now = wall_us()
        channel = Channel(
            id=encode_id(Kind.CHANNEL, svc.ids.next()),
            team_id=ctx.user.team_id,
            name=name,
            is_private=is_private,
            creator=ctx.user.id,
            created=now,
        )
        channel = await directory.create_channel(channel)
        await access.forget(channel.id)
        if not is_private:  # a private channel is announced to nobody but its members
            svc.bus.publish(events.channel_created(channel, now))
        announce_join(channel, ctx.user.id, now, 0)
        return {"channel": await info_of(channel, ctx.user.id)}

    async def list_(ctx: Ctx, args: Args) -> dict[str, Any]:
        types = types_filter(args)
        types.require(ctx.scopes)
        limit = paging.limit(args, default=100, maximum=1000)
        after = paging.after_key(args, "channels") or ""
        page = await directory.channels(
            ctx.user.team_id,
            ctx.user.id,
            exclude_archived=args.bool("exclude_archived"),
            after=after,
            limit=limit,
            **types._asdict(),
        )
        last = page.rows[-1][0].id if page.rows else None
        direct = [c for c, _n, _m in page.rows if c.is_im or c.is_mpim]
        shut = await closing.closed(ctx.user.id, direct) if direct else set()
        listed = []
        for c, n, m in page.rows:
            other = wire.im_user(c, await access.members(c.id), ctx.user.id) if c.is_im else None
            listed.append(
                wire.channel(c, is_member=m, num_members=n, im_user=other, is_open=c.id not in shut)
            )
        return {
            "channels": listed,
            **paging.metadata("channels", last, page.has_more),
        }

    async def info(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The channel; for a member also their read mark (``last_read``) and how many
        messages the history shows after it from others (``unread_count``, at most
        :data:`UNREAD_CAP`)."""
        channel = await visible(ctx, args, "read")
        out = await info_of(channel, ctx.user.id, args.bool("include_num_members", default=True))
        if out["is_member"]:
            last_read = await directory.last_read(channel.id, ctx.user.id)
            if last_read is not None:
                unread = await store.unread(channel.id, last_read, ctx.user.id, UNREAD_CAP)
                out["last_read"] = format_ts(last_read)
                out["unread_count"] = out["unread_count_display"] = unread
        return {"channel": out}

    async def mark(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Sets the caller's read mark in a channel they are in to ``ts`` (any message's
        ts, earlier than before too); their connections get ``channel_marked`` (or
        ``group_marked``, ``im_marked``) with what is still unread."""
        channel = await visible(ctx, args, "write")
        ts = args.ts(
            "ts", required=True, missing=Code.INVALID_TIMESTAMP, invalid=Code.INVALID_TIMESTAMP
        )
        if not await directory.mark_read(channel.id, ctx.user.id, ts):
            raise ApiError(Code.NOT_IN_CHANNEL)
        unread = await store.unread(channel.id, ts, ctx.user.id, UNREAD_CAP)
        svc.bus.publish(events.marked(channel, ctx.user.id, ts, unread, wall_us()))
        return {}

    ims = Ims(directory, access, svc.bus)

    def announce_join(channel: Channel, user_id: str, at: int, before: int) -> None:
        ims_announce(svc.bus, channel, user_id, at, before)

    async def open_(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The direct message with one other user (``users``), or the group one with 2 to
        :data:`MAX_GROUP_OTHERS` (the caller left out, repeats ignored; more:
        ``too_many_users``), created on first use; or, with ``channel``, a direct or
        group message the caller is in."""
        if args.has("channel") and not args.has("users"):
            channel = await visible(ctx, args, "read")
            if not (channel.is_im or channel.is_mpim):
                raise ApiError(Code.METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE)
            reopened = await closing.reopen(ctx.user, channel)
            out = {"channel": await info_of(channel, ctx.user.id)}
            return out if reopened else {**out, "already_open": True}
        users = args.list("users", required=True, missing="users_list_not_supplied", max_items=100)
        others = [u for u in dict.fromkeys(users) if u != ctx.user.id] or [ctx.user.id]
        if len(others) > MAX_GROUP_OTHERS:
            raise ApiError("too_many_users", data={"detail": f"at most {MAX_GROUP_OTHERS}"})
        if len(others) > 1:
            scopes.require_for_channel("write", scopes.MPIM, ctx.scopes)
            channel, opened = await ims.open_group(ctx.user, others)
        else:
            scopes.require_for_channel("write", scopes.IM, ctx.scopes)
            channel, opened = await ims.open(ctx.user, others[0])
        reopened = await closing.reopen(ctx.user, channel)
        out: dict[str, Any] = {"channel": {"id": channel.id}}
        if args.bool("return_im"):
            out["channel"] = await info_of(channel, ctx.user.id)
        if not (opened or reopened):
            out["already_open"] = True
        return out

    async def close(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Closes one of the caller's direct or group direct messages for them (see
        :class:`.Closing`); ``no_op`` and ``already_closed`` when it was."""
        channel = await visible(ctx, args, "write")
        if not (channel.is_im or channel.is_mpim):
            raise ApiError(Code.METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE)
        if await closing.close(ctx.user, channel):
            return {}
        return {"no_op": True, "already_closed": True}

    async def join(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await access.visible(ctx.user, args.str("channel", max_len=32))
        not_for_ims(channel)
        if channel.is_archived:
            raise ApiError(Code.IS_ARCHIVED)
        before = await svc.store.last_seq(channel.id)
        added = await directory.add_members(channel.id, [ctx.user.id])
        await access.forget(channel.id)
        out: dict[str, Any] = {"channel": await info_of(channel, ctx.user.id)}
        if added:
            announce_join(channel, ctx.user.id, wall_us(), before)
        else:
            out["already_in_channel"] = True
        return out

    async def leave(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await visible(ctx, args, "write")
        not_for_ims(channel)
        if channel.is_archived:
            raise ApiError(Code.IS_ARCHIVED)
        removed = await directory.remove_member(channel.id, ctx.user.id)
        await access.forget(channel.id)
        if not removed:
            return {"not_in_channel": True}
        svc.bus.publish(events.membership("member_left_channel", channel, ctx.user.id, wall_us()))
        return {}

    async def invite(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await access.writable(ctx.user, args.str("channel", max_len=32))
        scopes.require_for_channel("write", scopes.kind_of(channel), ctx.scopes)
        not_for_ims(channel)
        user_ids = args.list("users", required=True, missing=Code.NO_USER, max_items=1000)
        if ctx.user.id in user_ids:
            raise ApiError(Code.CANT_INVITE_SELF)
        for uid in user_ids:
            user = await directory.user(uid) if decode_id(Kind.USER, uid) is not None else None
            if user is None or user.team_id != ctx.user.team_id or user.deleted:
                raise ApiError(Code.USER_NOT_FOUND, data={"user": uid})
        before = await svc.store.last_seq(channel.id)
        added = await directory.add_members(channel.id, user_ids)
        await access.forget(channel.id)
        if not added:
            raise ApiError(Code.ALREADY_IN_CHANNEL)
        now = wall_us()
        for uid in added:
            announce_join(channel, uid, now, before)
        return {"channel": await info_of(channel, ctx.user.id)}

    async def members(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await visible(ctx, args, "read")
        limit = paging.limit(args, default=100, maximum=1000)
        after = paging.after_key(args, "members") or ""
        page = await directory.members_page(channel.id, after, limit)
        last = page.rows[-1] if page.rows else None
        return {"members": list(page.rows), **paging.metadata("members", last, page.has_more)}

    async def history(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await visible(ctx, args, "history")
        before, after = bounds(args)
        cursor = paging.after_int(args, "history")
        if cursor is not None:
            before = min(before, cursor)
        limit = paging.limit(args, default=100, maximum=999)
        page = await store.history(channel.id, before=before, after=after, limit=limit)
        last = page.rows[-1].ts if page.rows else None
        return {
            "messages": [wire.message(m) for m in page.rows],
            "has_more": page.has_more,
            "pin_count": 0,
            **paging.metadata("history", last, page.has_more),
        }

    async def thread_parent(channel_id: str, ts: int) -> Message | None:
        """The message at ``ts``, or, deleted, its tombstone while replies keep it."""
        found = await store.message(channel_id, ts)
        if found is None:
            [found] = await store.messages_at([(channel_id, ts)]) or [None]
            if found is not None and not found.reply_count:
                return None
        return found

    async def replies(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = await visible(ctx, args, "history")
        ts = args.ts(
            "ts", required=True, missing=Code.THREAD_NOT_FOUND, invalid=Code.THREAD_NOT_FOUND
        )
        parent = await thread_parent(channel.id, ts)
        if parent is not None and parent.thread_ts is not None:  # a reply names its thread
            parent = await thread_parent(channel.id, parent.thread_ts)
        if parent is None:
            raise ApiError(Code.THREAD_NOT_FOUND)
        before, after = bounds(args)
        cursor = paging.after_int(args, "replies")
        if cursor is not None:
            after = max(after, cursor)
        limit = paging.limit(args, default=100, maximum=1000)
        page = await store.replies(channel.id, parent.ts, after=after, before=before, limit=limit)
        last = page.rows[-1].ts if page.rows else None
        return {
            "messages": [wire.message(parent), *(wire.message(m) for m in page.rows)],
            "has_more": page.has_more,
            **paging.metadata("replies", last, page.has_more),
        }

    async def set_archived(ctx: Ctx, args: Args, archived: bool) -> dict[str, Any]:
        channel = await visible(ctx, args, "write")
        not_for_ims(channel)
        if ctx.user.id not in await access.members(channel.id):
            raise ApiError(Code.NOT_IN_CHANNEL)
        if channel.is_archived == archived:
            raise ApiError(Code.ALREADY_ARCHIVED if archived else Code.NOT_ARCHIVED)
        await directory.set_archived(channel.id, archived)
        await access.forget(channel.id)
        svc.bus.publish(events.archived(channel, ctx.user.id, archived, wall_us()))
        return {}

    async def archive(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await set_archived(ctx, args, True)

    async def unarchive(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await set_archived(ctx, args, False)

    async def member_of(ctx: Ctx, args: Args, *, group_ok: bool = False) -> Channel:
        """The named channel (not a direct message, nor a group one unless ``group_ok``;
        not archived) if the caller is a member and the token may write to a channel of
        its kind."""
        channel = await access.writable(ctx.user, args.str("channel", max_len=32))
        scopes.require_for_channel("write", scopes.kind_of(channel), ctx.scopes)
        not_for_ims(channel, group_ok=group_ok)
        return channel

    async def changed(ctx: Ctx, channel: Channel, subtype: str, text: str, **change) -> Channel:
        """Writes ``change`` to the directory, forgets the cached channel everywhere and
        tells the channel in a message of ``subtype``; the channel as it now is. The
        directory goes first, so a refused change (``name_taken``) is never told; should
        the store then fail, the change stands, untold, and the call answers the store's
        error."""
        now = await directory.update_channel(channel.id, **change)
        if now is None:  # deleted meanwhile
            raise ApiError(Code.CHANNEL_NOT_FOUND)
        await access.forget(channel.id)
        await svc.sender.announce(ctx.user, now, subtype, text)
        return now

    def about(args: Args, name: str) -> str:
        """A topic or purpose: any text up to :data:`_MAX_ABOUT` characters (``""``
        clears it)."""
        if not args.given(name):
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": name, "detail": "required"})
        value = args.str(name, default="", max_len=100_000) or ""
        if len(value) > _MAX_ABOUT:
            raise ApiError(Code.TOO_LONG)
        return value

    async def set_about(ctx: Ctx, args: Args, field: str) -> dict[str, Any]:
        """``setTopic`` (``field`` ``topic``) and ``setPurpose`` (``purpose``), also of a
        group direct message."""
        channel = await member_of(ctx, args, group_ok=True)
        value = about(args, field)
        said = f"<@{ctx.user.id}> set the channel {field}: {value}"
        now = await changed(ctx, channel, f"channel_{field}", said, **{field: value})
        return {"channel": await info_of(now, ctx.user.id)}

    async def set_topic(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await set_about(ctx, args, "topic")

    async def set_purpose(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await set_about(ctx, args, "purpose")

    async def rename(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Only the channel's creator may rename it (Parley has no workspace admins);
        a public channel's new name goes to the whole team, a private one's to its
        members."""
        channel = await member_of(ctx, args)
        name = check_name(args.str("name", max_len=1000))
        if channel.creator != ctx.user.id:
            raise ApiError(Code.NOT_AUTHORIZED)
        if name == channel.name:
            return {"channel": await info_of(channel, ctx.user.id)}
        said = f'<@{ctx.user.id}> renamed the channel from "{channel.name}" to "{name}"'
        now = await changed(ctx, channel, "channel_name", said, name=name)
        svc.bus.publish(events.renamed(now, wall_us()))
        return {"channel": await info_of(now, ctx.user.id)}

    async def kick(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Removes ``user`` from a channel the caller is in; they see their own leave,
        as after ``conversations.leave``, and stop receiving the channel."""
        channel = await member_of(ctx, args)
        user_id = args.str("user", required=True, missing=Code.USER_NOT_FOUND, max_len=32)
        if user_id == ctx.user.id:
            raise ApiError(Code.CANT_KICK_SELF)
        if user_id not in await access.members(channel.id):
            raise ApiError(Code.NOT_IN_CHANNEL)
        if await directory.remove_member(channel.id, user_id):
            await access.forget(channel.id)
            svc.bus.publish(events.membership("member_left_channel", channel, user_id, wall_us()))
        return {}

    api.add("conversations.create", create)
    api.add("conversations.list", list_, read=True)
    api.add("conversations.info", info, read=True)
    api.add("conversations.mark", mark)
    api.add("conversations.open", open_)
    api.add("conversations.close", close)
    api.add("conversations.join", join)
    api.add("conversations.leave", leave)
    api.add("conversations.invite", invite)
    api.add("conversations.members", members, read=True)
    api.add("conversations.history", history, read=True)
    api.add("conversations.replies", replies, read=True)
    api.add("conversations.archive", archive)
    api.add("conversations.unarchive", unarchive)
    api.add("conversations.setTopic", set_topic)
    api.add("conversations.setPurpose", set_purpose)
    api.add("conversations.rename", rename)
    api.add("conversations.kick", kick)
