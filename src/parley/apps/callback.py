"""The Events API's ``event_callback``: what an app receives for one event, over Socket
Mode (:mod:`parley.gateway.socket_mode`) or HTTP (:mod:`parley.apps.events`), and what
it also gets beside a message (:func:`derived`): ``app_mention`` when it mentions its
bot, ``message_metadata_posted`` when it carries metadata. Pure."""

from __future__ import annotations

from typing import Any

import orjson

from parley.bus.interface import TEAM_CHANGES, Event
from parley.ids import Kind
from parley.notify.policy import mentioned
from parley.storage.models import Channel, User

#: The bus events an app receives (the Events API's, of the channels its bot is in);
#: typing, presence, read marks and ephemeral messages are not among them, as in Slack.
APP_EVENTS = frozenset(
    {
        "message",
        "message_changed",
        "message_deleted",
        "reaction_added",
        "reaction_removed",
        "pin_added",
        "pin_removed",
        "member_joined_channel",
        "member_left_channel",
        "channel_created",
        "channel_rename",
        "group_rename",
        "channel_archive",
        "channel_unarchive",
        "group_archive",
        "group_unarchive",
        "user_change",
        "team_join",
        "subteam_created",
        "subteam_updated",
        "emoji_changed",
        "app_home_opened",
        "assistant_thread_started",
        "link_shared",
        "file_shared",
        "file_deleted",
        "tokens_revoked",
        "app_uninstalled",
    }
)

#: Events of :data:`APP_EVENTS` every app of the team gets, its bot in the channel or not.
TEAM_EVENTS = TEAM_CHANGES


#: The bus types of the message events: an app's carry their channel's kind,
#: ``channel_type`` (:func:`channel_type`), as Slack's ``message.channels``,
#: ``message.groups``, ``message.im`` and ``message.mpim`` do.
MESSAGE_EVENTS = frozenset({"message", "message_changed", "message_deleted"})


def channel_type(channel: Channel) -> str:
    """Slack's ``channel_type`` of ``channel``: ``channel`` (public), ``group`` (private),
    ``im`` or ``mpim``."""
    if channel.is_im:
        return "im"
    if channel.is_mpim:
        return "mpim"
    return "group" if channel.is_private else "channel"


def type_by_id(channel_id: str) -> str | None:
    """The ``channel_type`` a channel's id alone tells (a direct or group direct
    message's); ``None`` for a ``C…`` channel, public or private."""
    if channel_id.startswith(Kind.IM):
        return "im"
    if channel_id.startswith(Kind.MPIM):
        return "mpim"
    return None


def type_of_join(notice: Event) -> str | None:
    """The ``channel_type`` of the channel a ``member_joined_channel`` (or its notice) is
    about, from the kind it carries (``C``, ``G`` or ``D``)."""
    by_id = type_by_id(notice.channel)
    if by_id is not None:
        return by_id
    kind = orjson.loads(notice.payload).get("channel_type")
    return {"C": "channel", "G": "group"}.get(kind)


#: The fields of a message an ``app_mention`` carries (Slack's).
_MENTION_FIELDS = ("user", "text", "ts", "channel", "event_ts", "thread_ts", "blocks", "team")


def app_mention(event: Event, bot_id: str) -> Event | None:
    """The ``app_mention`` of the app whose bot is ``bot_id`` in ``event``: a new message
    (a file's share too; not an edit, a deletion or the server's note) that mentions
    ``<@bot_id>``, by someone else; ``None`` for any other. The bytes are searched first,
    so an event that does not mention the bot costs no decoding."""
    if event.type != "message" or b"<@" + bot_id.encode() not in event.payload:
        return None
    message = orjson.loads(event.payload)
    if message.get("subtype") not in (None, "thread_broadcast", "file_share"):
        return None
    if message.get("user") == bot_id or bot_id not in mentioned(message.get("text", "")):
        return None
    body = {"type": "app_mention"}
    body.update((k, message[k]) for k in _MENTION_FIELDS if k in message)
    payload = orjson.dumps(body)
    return Event("app_mention", event.channel, event.team, event.seq, event.ts, payload)


def metadata_posted(event: Event) -> Event | None:
    """Slack's ``message_metadata_posted`` for a new message (not an edit, a deletion or
    the server's note) that carries ``metadata`` (:func:`parley.content.with_metadata`):
    who posted it (its app, for a bot's) and the metadata; ``None`` for any other. The
    bytes are searched first, so a message without metadata costs no decoding."""
    if event.type != "message" or b'"metadata"' not in event.payload:
        return None
    message = orjson.loads(event.payload)
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or message.get("subtype") not in (None, "thread_broadcast"):
        return None
    bot_id = message.get("bot_id")
    body = {
        "type": "message_metadata_posted",
        "app_id": "A" + bot_id[1:] if bot_id else None,
        "bot_id": bot_id,
        "user_id": message.get("user"),
        "team_id": event.team,
        "channel_id": event.channel,
        "metadata": metadata,
        "message_ts": message.get("ts"),
        "event_ts": message.get("ts"),
    }
    payload = orjson.dumps(body)
    return Event("message_metadata_posted", event.channel, event.team, event.seq, event.ts, payload)


def derived(event: Event, bot_id: str) -> list[Event]:
    """The events an app whose bot is ``bot_id`` gets beside ``event``: its
    ``app_mention``, and ``message_metadata_posted``."""
    return [e for e in (app_mention(event, bot_id), metadata_posted(event)) if e is not None]


def app_id(user: User) -> str:
    """The app's id, as Slack's ``A…``: its bot's id after its first letter."""
    return "A" + (user.bot_id or user.id)[1:]


def event_callback(
    event: Event, user: User, event_id: str, kind: str | None = None
) -> dict[str, Any]:
    """``event`` as ``user``'s app receives it, its RTM payload carried as it was encoded
    once (``orjson.Fragment``: encode the result with orjson); a message event with
    ``channel_type`` ``kind`` added, when known."""
    payload = event.payload
    if kind and event.type in MESSAGE_EVENTS:
        payload = b'%s,"channel_type":"%s"}' % (payload[:-1], kind.encode())
    return {
        "token": "",
        "team_id": user.team_id,
        "api_app_id": app_id(user),
        "event": orjson.Fragment(payload),
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event.ts // 1_000_000,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": user.team_id,
                "user_id": user.id,
                "is_bot": user.is_bot,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
