"""Slack's workspace export, read: the ZIP an admin downloads from Slack (Settings,
Import/Export Data), as typed records. Pure: reads the archive, writes nothing.

The archive holds ``users.json``; ``channels.json`` (public channels) and, when the
export has them, ``groups.json`` (private channels), ``mpims.json`` (group direct
messages) and ``dms.json`` (direct messages); and a folder per conversation (named as
the channel, or by its id for a direct message) of ``YYYY-MM-DD.json`` files, each a
list of that day's messages. What a message of interest carries: ``ts``, ``user`` (or
``bot_id`` and ``username`` for an integration's), ``text``, ``thread_ts``,
``subtype``, ``reactions`` (``name``, ``users``) and ``files`` (their names; their bytes
are not in an export, only links that need a Slack token).

Messages of the conversation's own making (joins, leaves, topic and name changes, pins)
are left out: they describe Slack's history of the channel, not what people said.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from parley.ids import parse_ts

#: The subtypes of what people (and apps) said; every other is the channel's own.
SAID = {None, "bot_message", "me_message", "thread_broadcast", "file_share"}
#: The index files of each kind of conversation, and the kind.
INDEXES = (
    ("channels.json", "channel"),
    ("groups.json", "private"),
    ("mpims.json", "mpim"),
    ("dms.json", "im"),
)


class ExportError(Exception):
    """The file is not a Slack export Parley can read; the message says why."""


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    real_name: str
    email: str
    is_bot: bool
    deleted: bool
    #: The bot's id (``B…``) of a bot user: integrations' messages name it.
    bot_id: str | None = None


@dataclass(frozen=True)
class SlackChannel:
    id: str
    #: ``channel``, ``private``, ``mpim`` or ``im``.
    kind: str
    name: str
    created: int
    creator: str | None
    archived: bool
    topic: str
    purpose: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class SlackMessage:
    #: Microseconds, as Parley keeps a ``ts``; unique in its conversation.
    ts: int
    user: str | None
    bot_id: str | None
    username: str
    text: str
    thread_ts: int | None
    subtype: str | None
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    files: tuple[str, ...] = ()


@dataclass
class Export:
    users: list[SlackUser] = field(default_factory=list)
    channels: list[SlackChannel] = field(default_factory=list)
    #: Each conversation's messages, by its id, in ``ts`` order.
    messages: dict[str, list[SlackMessage]] = field(default_factory=dict)
    #: Messages left out, by why (a subtype of the channel's own, no author, no ``ts``).
    skipped: dict[str, int] = field(default_factory=dict)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _ts(value: object) -> int | None:
    return parse_ts(value) if isinstance(value, str) else None


def _user(u: dict) -> SlackUser | None:
    if not isinstance(u, dict) or not isinstance(u.get("id"), str) or not u.get("name"):
        return None
    profile = u.get("profile") if isinstance(u.get("profile"), dict) else {}
    return SlackUser(
        id=u["id"],
        name=_text(u.get("name")),
        real_name=_text(u.get("real_name")) or _text(profile.get("real_name")),
        email=_text(profile.get("email")),
        is_bot=bool(u.get("is_bot")),
        deleted=bool(u.get("deleted")),
        bot_id=_text(profile.get("bot_id")) or None,
    )


def _channel(c: dict, kind: str) -> SlackChannel | None:
    if not isinstance(c, dict) or not isinstance(c.get("id"), str):
        return None
    members = tuple(m for m in c.get("members") or () if isinstance(m, str))
    if kind == "im" and isinstance(c.get("user"), str) and not members:
        members = (c["user"],)
    name = _text(c.get("name")) or c["id"]
    topic, purpose = c.get("topic"), c.get("purpose")
    created = c.get("created")
    return SlackChannel(
        id=c["id"],
        kind=kind,
        name=name,
        created=int(created) * 1_000_000 if isinstance(created, (int, float)) else 0,
        creator=c.get("creator") if isinstance(c.get("creator"), str) else None,
        archived=bool(c.get("is_archived")),
        topic=_text(topic.get("value")) if isinstance(topic, dict) else "",
        purpose=_text(purpose.get("value")) if isinstance(purpose, dict) else "",
        members=members,
    )


def _message(m: dict) -> tuple[SlackMessage | None, str]:
    """The message, or ``None`` and why it is left out."""
    if not isinstance(m, dict) or m.get("type", "message") != "message":
        return None, "not a message"
    subtype = m.get("subtype") if isinstance(m.get("subtype"), str) else None
    if subtype not in SAID:
        return None, subtype or "?"
    ts = _ts(m.get("ts"))
    user = m.get("user") if isinstance(m.get("user"), str) else None
    bot_id = m.get("bot_id") if isinstance(m.get("bot_id"), str) else None
    if ts is None or (user is None and bot_id is None):
        return None, "no ts or author"
    thread_ts = _ts(m.get("thread_ts"))
    reactions = tuple(
        (r["name"], tuple(u for u in r.get("users") or () if isinstance(u, str)))
        for r in m.get("reactions") or ()
        if isinstance(r, dict) and isinstance(r.get("name"), str)
    )
    files = tuple(
        _text(f.get("name")) or _text(f.get("title")) or "a file"
        for f in m.get("files") or ()
        if isinstance(f, dict)
    )
    return (
        SlackMessage(
            ts=ts,
            user=user,
            bot_id=bot_id,
            username=_text(m.get("username")),
            text=_text(m.get("text")),
            thread_ts=thread_ts if thread_ts != ts else None,
            subtype=subtype,
            reactions=reactions,
            files=files,
        ),
        "",
    )


def _json(archive: zipfile.ZipFile, name: str) -> object:
    try:
        with archive.open(name) as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{name} is not JSON: {exc}") from exc


def _day_files(names: Iterable[str], folder: str) -> list[str]:
    days = [
        n
        for n in names
        if PurePosixPath(n).parent.name == folder
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}\.json", PurePosixPath(n).name)
    ]
    return sorted(days, key=lambda n: PurePosixPath(n).name)


def read(path: str) -> Export:
    """The export in the ZIP at ``path``; :class:`ExportError` when it is none."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ExportError(f"{path} is not a ZIP archive: {exc}") from exc
    with archive:
        # an export is sometimes zipped from its folder: the index files one level down
        names = archive.namelist()
        index = {
            PurePosixPath(n).name: n for n in names if PurePosixPath(n).parent.parent.name == ""
        }
        if "users.json" not in index or "channels.json" not in index:
            raise ExportError(f"{path} holds no users.json and channels.json: not a Slack export")
        out = Export()
        users = _json(archive, index["users.json"])
        out.users = [u for u in map(_user, users if isinstance(users, list) else []) if u]
        for filename, kind in INDEXES:
            if filename not in index:
                continue
            listed = _json(archive, index[filename])
            for channel in map(
                lambda c: _channel(c, kind), listed if isinstance(listed, list) else []
            ):
                if channel is None:
                    continue
                out.channels.append(channel)
                folder = channel.id if kind == "im" else channel.name
                said: dict[int, SlackMessage] = {}
                for day in _day_files(names, folder):
                    page = _json(archive, day)
                    for m in page if isinstance(page, list) else []:
                        message, why = _message(m)
                        if message is None:
                            out.skipped[why] = out.skipped.get(why, 0) + 1
                        else:
                            said[message.ts] = message  # a message twice: once
                out.messages[channel.id] = [said[ts] for ts in sorted(said)]
        return out
