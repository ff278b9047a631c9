"""A Parley workspace written as Slack's workspace export (``parley export slack``): the
ZIP :mod:`.read` reads, and that tools made for Slack's exports read.

Everything of the workspace, whoever is in it: ``users.json`` (people and bots, the
deactivated too, with their addresses), ``channels.json`` (public channels),
``groups.json`` (private ones), ``mpims.json`` and ``dms.json`` (group and direct
messages), each with its members; and a folder per conversation (its name, or its id for
a direct message) of ``YYYY-MM-DD.json`` files (UTC), each that day's messages as the Web
API shows them (``wire.message``: text, author, ``ts``, thread, reactions, edits, files'
objects), replies among them in ``ts`` order. Deleted messages are left out. Files'
bytes are not in it (their objects link to this server), as in Slack's exports.

It reads the store the server writes, so it runs with the server stopped, or on a
backup's copy (``parley backup``, then ``--data-dir`` the backup).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from parley import wire
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import Channel, Message, Team

PAGE = 1000


@dataclass
class Written:
    """What ``parley export slack`` wrote."""

    users: int = 0
    channels: int = 0
    messages: int = 0


def day_of(ts: int) -> str:
    """The UTC day of a ``ts`` (microseconds), as Slack names its files."""
    return datetime.fromtimestamp(ts // 1_000_000, UTC).strftime("%Y-%m-%d")


def kind_of(c: Channel) -> str:
    """Which index file lists ``c``."""
    if c.is_im:
        return "dms.json"
    if c.is_mpim:
        return "mpims.json"
    return "groups.json" if c.is_private else "channels.json"


def channel_doc(c: Channel, members: list[str]) -> dict:
    """``c`` as an export's index lists it."""
    if c.is_im:
        return {"id": c.id, "created": c.created // 1_000_000, "members": members}
    return {
        "id": c.id,
        "name": c.name,
        "created": c.created // 1_000_000,
        "creator": c.creator,
        "is_archived": c.is_archived,
        "is_general": False,
        "members": members,
        "topic": {"value": c.topic, "creator": "", "last_set": 0},
        "purpose": {"value": c.purpose, "creator": "", "last_set": 0},
    }


def message_doc(m: Message) -> dict:
    """``m`` as an export's day file holds it: as the Web API shows it."""
    return wire.message(m)


async def _pages(read, *args) -> AsyncIterator:
    after = ""
    while True:
        page = await read(*args, after, PAGE)
        for row in page.rows:
            yield row
        if not page.has_more or not page.rows:
            return
        after = page.rows[-1].id


async def _messages(store: MessageStore, channel: str) -> AsyncIterator[Message]:
    seq = 0
    while True:
        page = await store.since(channel, seq, PAGE)
        for m in page.rows:
            yield m
        if not page.has_more or not page.rows:
            return
        seq = page.rows[-1].seq


async def write(directory: Directory, store: MessageStore, team: Team, path: Path) -> Written:
    """Writes ``team`` to the ZIP at ``path`` (made at a temporary name, then renamed:
    never a partial file there); what it wrote."""
    written = Written()
    partial = path.with_name(path.name + ".partial")
    indexes: dict[str, list[dict]] = defaultdict(list)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            users = [wire.user(u, email=True) async for u in _pages(directory.users, team.id)]
            z.writestr("users.json", json.dumps(users, indent=1))
            written.users = len(users)
            async for c in _pages(directory.all_channels, team.id):
                members = sorted(await directory.members(c.id))
                indexes[kind_of(c)].append(channel_doc(c, members))
                written.channels += 1
                days: dict[str, list[dict]] = defaultdict(list)
                async for m in _messages(store, c.id):
                    if not m.deleted:
                        days[day_of(m.ts)].append(message_doc(m))
                folder = c.id if c.is_im else c.name
                for day, messages in sorted(days.items()):
                    z.writestr(f"{folder}/{day}.json", json.dumps(messages, indent=1))
                    written.messages += len(messages)
            for name in ("channels.json", "groups.json", "mpims.json", "dms.json"):
                z.writestr(name, json.dumps(indexes.get(name, []), indent=1))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
