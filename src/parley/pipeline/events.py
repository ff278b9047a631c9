"""Bus events for what was committed, shaped as Slack RTM events and encoded once.

Pure functions. Every message-bearing event carries ``channel``, ``ts`` and the message's
``seq``, and everything a gateway needs to deliver it without reading the store.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from parley import wire
from parley.bus.interface import (
    APP_HOME_OPENED,
    APP_REQUEST,
    ASSISTANT_THREAD_STARTED,
    EPHEMERAL,
    JOIN_NOTICE,
    Event,
)
from parley.ids import format_ts
from parley.pipeline import scopes
from parley.storage.models import Channel, Message, ReactionChange, User, UserGroup


def encode(body: dict[str, Any]) -> bytes:
    """``body`` as compact JSON in a ``bytes`` of its own size, fit to be kept.

    An event's payload is kept for a while after it is delivered (the bus's retention,
    the recent-message buffer: up to ``2 * partitions * bus_retention`` of them), and
    orjson (3.12 and later) returns its output in the buffer it wrote it to, at least
    4 KiB, never shrunk: a 300-byte payload held 4 KiB, a server whose bus had filled
    held 622 MiB instead of 179, and at 5,000 msg/s its event loop spent a tenth of its
    time faulting in fresh pages for them. One copy (tens of ns) gives the buffer back
    to be reused at once."""
    return b"".join((orjson.dumps(body), b""))  # two parts: join copies, never aliases


def _event(
    kind: str, channel: str, team: str, seq: int, ts: int, body: dict[str, Any], user: str = ""
) -> Event:
    return Event(kind, channel, team, seq, ts, encode(body), user)


def message_posted(m: Message, rid: str = "") -> Event:
    body = wire.message(m)
    body["event_ts"] = body["ts"]
    return Event("message", m.channel, m.team, m.seq, m.ts, encode(body), "", rid, m.id)


def as_stored(m: Message) -> Event:
    """The event that shows a stored message as it is now: posted, or deleted."""
    return message_deleted(m, m.edited_ts or m.ts) if m.deleted else message_posted(m)


def message_changed(m: Message) -> Event:
    ts = format_ts(m.edited_ts or m.ts)
    body = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": m.channel,
        "ts": ts,
        "event_ts": ts,
        "seq": m.seq,
        "message": wire.message(m),
    }
    return _event("message_changed", m.channel, m.team, m.seq, m.ts, body)


def message_deleted(m: Message, at: int) -> Event:
    ts = format_ts(at)
    body = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": m.channel,
        "ts": ts,
        "event_ts": ts,
        "seq": m.seq,
        "deleted_ts": format_ts(m.ts),
    }
    if m.thread_ts is not None:
        body["thread_ts"] = format_ts(m.thread_ts)
    return _event("message_deleted", m.channel, m.team, m.seq, m.ts, body)


def reaction(change: ReactionChange) -> Event:
    m = change.message
    ts = format_ts(change.at)
    kind = "reaction_added" if change.added else "reaction_removed"
    body = {
        "type": kind,
        "user": change.user,
        "reaction": change.name,
        "item": {"type": "message", "channel": m.channel, "ts": format_ts(m.ts)},
        "item_user": m.user,
        "channel": m.channel,
        "seq": m.seq,
        "ts": ts,
        "event_ts": ts,
    }
    return _event(kind, m.channel, m.team, m.seq, m.ts, body)


def pin(m: Message, user_id: str, at: int, added: bool, pinned: int) -> Event:
    """``pin_added`` or ``pin_removed``: ``user_id`` pinned or unpinned ``m``, which
    leaves ``pinned`` pins in the channel (ordered after ``m``, as a reaction is)."""
    kind = "pin_added" if added else "pin_removed"
    ts = format_ts(at)
    body: dict[str, Any] = {
        "type": kind,
        "user": user_id,
        "channel_id": m.channel,
        "item": {
            "type": "message",
            "channel": m.channel,
            "created": at // 1_000_000,
            "created_by": user_id,
            "message": wire.message(m),
        },
        "item_user": m.user,
        "pin_count": pinned,
        "event_ts": ts,
    }
    if not added:
        body["has_pins"] = pinned > 0
    return _event(kind, m.channel, m.team, m.seq, m.ts, body)


def membership(kind: str, channel: Channel, user_id: str, at: int, seq: int = 0) -> Event:
    """``member_joined_channel`` or ``member_left_channel``; ``seq`` is the channel's
    last message ``seq`` read before a join was committed (0 for a leave)."""
    ts = format_ts(at)
    body = {
        "type": kind,
        "user": user_id,
        "channel": channel.id,
        "team": channel.team_id,
        "channel_type": "D" if channel.is_im else "G" if channel.is_private else "C",
        "event_ts": ts,
        "ts": ts,
    }
    return _event(kind, channel.id, channel.team_id, seq, at, body, user_id)


def joined(channel: Channel, user_id: str, at: int, seq: int) -> tuple[Event, Event]:
    """A join, as the two events to publish: ``member_joined_channel`` for the channel's
    partition and its :data:`JOIN_NOTICE` copy for the team's, which brings the joiner's
    gateway every message after ``seq`` (the channel's last before the join)."""
    event = membership("member_joined_channel", channel, user_id, at, seq)
    return event, msgspec.structs.replace(event, type=JOIN_NOTICE)


def from_notice(notice: Event) -> Event:
    """The ``member_joined_channel`` a :data:`JOIN_NOTICE` copies."""
    return msgspec.structs.replace(notice, type="member_joined_channel")


def archived(channel: Channel, user_id: str, is_archived: bool, at: int) -> Event:
    """``channel_archive`` or ``channel_unarchive`` for a public channel (to the whole
    team, which lists it), ``group_archive`` or ``group_unarchive`` for a private one
    (to its members), as Slack sends them; ``user_id`` did it."""
    kind = f"{'group' if channel.is_private else 'channel'}_{'' if is_archived else 'un'}archive"
    body = {
        "type": kind,
        "channel": channel.id,
        "user": user_id,
        "is_moved": 0,
        "event_ts": format_ts(at),
    }
    return _event(kind, channel.id, channel.team_id, 0, at, body)


def renamed(channel: Channel, at: int) -> Event:
    """``channel_rename`` for a public channel (to the whole team), ``group_rename`` for a
    private one (to its members), as Slack sends them."""
    kind = "group_rename" if channel.is_private else "channel_rename"
    ts = format_ts(at)
    body = {
        "type": kind,
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "created": channel.created // 1_000_000,
        },
        "event_ts": ts,
    }
    return _event(kind, channel.id, channel.team_id, 0, at, body)


#: A person closed a direct (``im_close``) or group direct message (``mpim_close``), or
#: opened it again (``im_open``, ``mpim_open``): for their own connections (Slack's).
SHOWN = frozenset({"im_open", "im_close", "mpim_open", "mpim_close"})


def shown(channel: Channel, user_id: str, is_open: bool, at: int) -> Event:
    """``user_id`` closed the direct or group direct message ``channel``
    (``conversations.close``), or opened it again: for their own connections (the
    event's ``user``), so their other devices show it or hide it too."""
    kind = f"{'mpim' if channel.is_mpim else 'im'}_{'open' if is_open else 'close'}"
    body = {"type": kind, "user": user_id, "channel": channel.id, "event_ts": format_ts(at)}
    return _event(kind, channel.id, channel.team_id, 0, at, body, user_id)


#: A person saved a message for later, or unsaved it (``stars.*``): for their own
#: connections (Slack's ``star_added``, ``star_removed``).
STARRED = frozenset({"star_added", "star_removed"})


def starred(m: Message, user_id: str, added: bool, at: int) -> Event:
    """``user_id`` saved ``m`` for later (``added``) or unsaved it: for their own
    connections (the event's ``user``), so their other devices show it too."""
    kind = "star_added" if added else "star_removed"
    item = {"type": "message", "channel": m.channel, "message": wire.message(m)}
    if added:
        item["date_create"] = at // 1_000_000
    body = {"type": kind, "user": user_id, "item": item, "event_ts": format_ts(at)}
    return _event(kind, m.channel, m.team, 0, at, body, user_id)


#: The bus types of a read mark, by kind of channel (Slack's names).
MARKED = {
    "public": "channel_marked",
    "private": "group_marked",
    "im": "im_marked",
    "mpim": "mpim_marked",
}


def marked(channel: Channel, user_id: str, ts: int, unread: int, at: int) -> Event:
    """``user_id`` read ``channel`` up to ``ts`` (``conversations.mark``): for that user's
    own connections (the event's ``user``), so their other devices clear what was read,
    with what is still unread after it."""
    kind = MARKED[scopes.kind_of(channel)]
    body = {
        "type": kind,
        "channel": channel.id,
        "ts": format_ts(ts),
        "unread_count": unread,
        "unread_count_display": unread,
        "event_ts": format_ts(at),
    }
    return _event(kind, channel.id, channel.team_id, 0, at, body, user_id)


#: Parley's RTM events of an app's modal (``parley.apps.views``), for the person it is
#: shown to: opened, updated, errors on a submission, closed.
VIEW_OPENED, VIEW_UPDATED, VIEW_ERRORS, VIEW_CLOSED = (
    "view_opened",
    "view_updated",
    "view_errors",
    "view_closed",
)
VIEW_EVENTS = frozenset({VIEW_OPENED, VIEW_UPDATED, VIEW_ERRORS, VIEW_CLOSED})


def for_user(kind: str, channel_id: str, team_id: str, user_id: str, body: dict) -> Event:
    """An event for ``user_id``'s connections that follow ``channel_id`` (``kind`` one of
    the hub's events for their user alone, :data:`VIEW_EVENTS`)."""
    return _event(kind, channel_id, team_id, 0, 0, {"type": kind, **body}, user_id)


def ephemeral(
    channel: Channel,
    to_user: str,
    sender: User,
    text: str,
    at: int,
    *,
    thread_ts: int | None = None,
    rich: str | None = None,
) -> Event:
    """``chat.postEphemeral``'s message, shaped as Slack's clients receive it (a
    ``message`` with ``is_ephemeral``): no ``seq``, since it has no place in the
    channel's history, and addressed to ``to_user`` (the event's ``user``)."""
    ts = format_ts(at)
    body: dict[str, Any] = {
        "type": "message",
        "is_ephemeral": True,
        "user": sender.id,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": channel.team_id,
        "channel": channel.id,
    }
    if sender.bot_id:
        body["bot_id"] = sender.bot_id
    if thread_ts is not None:
        body["thread_ts"] = format_ts(thread_ts)
    if rich:
        body.update(orjson.loads(rich))
    return _event(EPHEMERAL, channel.id, channel.team_id, 0, at, body, to_user)


def app_request(
    channel: Channel, bot_id: str, at: int, kind: str, payload: dict[str, Any], answers: bool
) -> Event:
    """A request for the Socket Mode connection of the app of ``bot_id`` (``kind``:
    ``slash_commands``, ``interactive``): its payload is the envelope but for its
    ``envelope_id``, which each connection puts first; ``answers``: whether the
    acknowledgement may carry a reply (``accepts_response_payload``)."""
    body = {"type": kind, "accepts_response_payload": answers, "payload": payload}
    return _event(APP_REQUEST, channel.id, channel.team_id, 0, at, body, bot_id)


def for_app(kind: str, channel_id: str, team_id: str, bot_id: str, at: int, body: dict) -> Event:
    """An event for the app of the bot user ``bot_id`` alone (:data:`.TO_ONE_APP`: a
    link on its domains shared), named by ``channel_id``; not stored."""
    return _event(kind, channel_id, team_id, 0, at, body, bot_id)


def app_home_opened(
    channel_id: str, team_id: str, user_id: str, bot_id: str, at: int, view: dict | None
) -> Event:
    """``user_id`` opened the home tab of ``bot_id``'s app (``channel_id``: their direct
    message with the bot), for the app alone (the event's ``user`` is the bot; the
    payload's, the person, as Slack's); ``view``: the home view as the app sees it."""
    body: dict[str, Any] = {
        "type": APP_HOME_OPENED,
        "user": user_id,
        "channel": channel_id,
        "tab": "home",
        "event_ts": format_ts(at),
    }
    if view is not None:
        body["view"] = view
    return _event(APP_HOME_OPENED, channel_id, team_id, 0, at, body, bot_id)


def assistant_thread_started(
    channel_id: str, team_id: str, user_id: str, bot_id: str, thread_ts: int, context: str, at: int
) -> Event:
    """``user_id`` began a chat with ``bot_id``'s app in their direct message with it,
    ``channel_id``, in the thread of ``thread_ts`` (Slack's ``assistant_thread_started``;
    ``context``: the conversation they were looking at, or ``""``), for the app alone."""
    body = {
        "type": ASSISTANT_THREAD_STARTED,
        "assistant_thread": {
            "user_id": user_id,
            "context": {"channel_id": context, "team_id": team_id, "enterprise_id": ""},
            "channel_id": channel_id,
            "thread_ts": format_ts(thread_ts),
        },
        "event_ts": format_ts(at),
    }
    return _event(ASSISTANT_THREAD_STARTED, channel_id, team_id, 0, at, body, bot_id)


#: Parley's events of a channel's bookmarks (``bookmarks.*``), for its connections.
BOOKMARK_ADDED, BOOKMARK_CHANGED, BOOKMARK_REMOVED = (
    "bookmark_added",
    "bookmark_changed",
    "bookmark_removed",
)


def bookmark(kind: str, channel: Channel, shown: dict[str, Any], at: int) -> Event:
    """A bookmark of ``channel`` added, changed or removed (``kind``), ``shown`` as
    ``bookmarks.list`` shows it; for the channel's connections, not stored."""
    body = {"type": kind, "channel_id": channel.id, "bookmark": shown, "event_ts": format_ts(at)}
    return _event(kind, channel.id, channel.team_id, 0, at, body)


#: The events of files shared and deleted (Slack's).
FILE_SHARED, FILE_DELETED = "file_shared", "file_deleted"


def file_shared(channel: Channel, file_id: str, user_id: str, at: int) -> Event:
    """Slack's ``file_shared``: ``user_id`` shared the file ``file_id`` in ``channel``,
    for its connections and apps; not stored (the share's message is)."""
    body = {
        "type": FILE_SHARED,
        "channel_id": channel.id,
        "file_id": file_id,
        "user_id": user_id,
        "file": {"id": file_id},
        "event_ts": format_ts(at),
    }
    return _event(FILE_SHARED, channel.id, channel.team_id, 0, at, body)


def file_deleted(channel_id: str, team_id: str, file_id: str, at: int) -> Event:
    """Slack's ``file_deleted``: a file shared in ``channel_id`` was deleted, for its
    connections and apps (``channel_ids`` names only that channel, so no one learns of
    the others it was in); not stored."""
    body = {
        "type": FILE_DELETED,
        "file_id": file_id,
        "channel_ids": [channel_id],
        "event_ts": format_ts(at),
    }
    return _event(FILE_DELETED, channel_id, team_id, 0, at, body)


def typing(channel: str, team: str, user_id: str, at: int) -> Event:
    """``user_typing``, for the channel's other members."""
    body = {"type": "user_typing", "channel": channel, "user": user_id}
    return _event("user_typing", channel, team, 0, at, body, user_id)


def assistant_status(
    channel: str,
    team: str,
    user_id: str,
    thread_ts: int,
    status: str,
    loading_messages: list[str],
    at: int,
) -> Event:
    """Parley's ``assistant_thread_status``: an app says what it is doing in a thread
    (``assistant.threads.setStatus``; an empty status clears it), for the channel's
    other members, shown until the app answers there."""
    body = {
        "type": "assistant_thread_status",
        "channel": channel,
        "thread_ts": format_ts(thread_ts),
        "user": user_id,
        "status": status,
        "loading_messages": loading_messages,
        "event_ts": format_ts(at),
    }
    return _event("assistant_thread_status", channel, team, 0, at, body, user_id)


def user_change(user: User, at: int) -> Event:
    """``user_change``: a user's profile changed; for the whole team, the user as
    ``users.info`` shows them (without their email)."""
    body = {"type": "user_change", "user": wire.user(user), "event_ts": format_ts(at)}
    return _event("user_change", "", user.team_id, 0, at, body, user.id)


def team_join(user: User, at: int) -> Event:
    """``team_join``: ``user`` joined the workspace; for the whole team and its apps,
    the user as ``users.info`` shows them."""
    body = {"type": "team_join", "user": wire.user(user), "event_ts": format_ts(at)}
    return _event("team_join", "", user.team_id, 0, at, body, user.id)


def emoji_added(team_id: str, name: str, value: str, at: int) -> Event:
    """``emoji_changed`` (``add``): the workspace has a new emoji, ``value`` its image's
    URL or ``alias:<name>``; for the whole team."""
    body = {
        "type": "emoji_changed",
        "subtype": "add",
        "name": name,
        "value": value,
        "event_ts": format_ts(at),
    }
    return _event("emoji_changed", "", team_id, 0, at, body)


def emoji_removed(team_id: str, names: list[str], at: int) -> Event:
    """``emoji_changed`` (``remove``): these emoji (one and its aliases) are gone."""
    body = {"type": "emoji_changed", "subtype": "remove", "names": names, "event_ts": format_ts(at)}
    return _event("emoji_changed", "", team_id, 0, at, body)


def usergroup_changed(kind: str, group: UserGroup, at: int) -> Event:
    """``subteam_created`` or ``subteam_updated`` (its members too): for the whole team,
    the group with its members."""
    body = {
        "type": kind,
        "subteam": wire.usergroup(group, include_users=True),
        "event_ts": format_ts(at),
    }
    return _event(kind, "", group.team_id, 0, at, body)


def channel_created(channel: Channel, at: int) -> Event:
    ts = format_ts(at)
    body = {
        "type": "channel_created",
        "event_ts": ts,
        "ts": ts,
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "created": at // 1_000_000,
            "creator": channel.creator,
            "is_private": channel.is_private,
        },
    }
    return _event("channel_created", channel.id, channel.team_id, 0, at, body)


def presence(team: str, user_id: str, state: str, at: int) -> Event:
    """``presence_change`` (``active`` when a user's first connection opens, ``away``
    when the last closes), for the team's connections that watch the user; partitioned
    by the team id."""
    return _event("presence_change", team, team, 0, at, _presence_body(user_id, state), user_id)


def presence_frame(user_id: str, state: str) -> bytes:
    """The same ``presence_change`` as one connection's answer to ``presence_sub``."""
    return orjson.dumps(_presence_body(user_id, state))


def _presence_body(user_id: str, state: str) -> dict[str, str]:
    return {"type": "presence_change", "user": user_id, "presence": state}
