"""Resume: what a reconnecting client missed, in channel order, before any live event.

``rtm.connect(resume={"C0123": 41})`` names the last ``seq`` the client holds per channel.
After ``hello`` the connection replays, per channel, every message with a higher ``seq``,
ascending (from the recent-message buffer when it still covers the gap, else from the
store), then sends ``{"type": "resume_done", "channels": {channel: last_seq}}``, then live
events. Live events that arrive during the replay are held and sent after it, minus the
messages the replay already carried. A gap of more than :data:`MAX_REPLAY` messages
replays the newest ones and first sends ``resume_gap`` with how many were left out and a
``conversations.history`` cursor that serves them.

The pure parts (:func:`parse_resume`, :class:`Held`) have no I/O; :class:`Replayer` reads
the buffer and the store.
"""

from __future__ import annotations

import ast
from typing import Any

import orjson

from parley import cursors
from parley.bus.interface import Event
from parley.cache.recent import RecentMessages
from parley.errors import ApiError, Code
from parley.pipeline import events
from parley.storage.interface import MessageStore

MAX_REPLAY = 1000
MAX_RESUME_CHANNELS = 10_000


def parse_resume(value: Any) -> dict[str, int]:
    """``{"C…": seq}`` with non-negative integer seqs, else ``invalid_arguments``.

    Accepts an object, its JSON text, or the Python literal that ``slack_sdk`` sends when
    given a dict (``WebClient.rtm_connect(resume={"C1": 4})`` puts ``{'C1': 4}`` in the
    query string); the literal is read with :func:`ast.literal_eval`, never evaluated.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = _decode(value)
    if not isinstance(value, dict) or len(value) > MAX_RESUME_CHANNELS:
        raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "resume"})
    out = {}
    for channel, seq in value.items():
        if (
            not isinstance(channel, str)
            or len(channel) > 32
            or isinstance(seq, bool)
            or not isinstance(seq, int)
            or not 0 <= seq < 1 << 62
        ):
            raise ApiError(
                Code.INVALID_ARGUMENTS,
                data={"arg": "resume", "detail": "resume maps channel ids to non-negative seqs"},
            )
        out[channel] = seq
    return out


def _decode(text: str) -> Any:
    if len(text) > 1 << 20:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    # TypeError: a dict literal with an unhashable key (``{[1]: 2}``)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


class Floor:
    """After a replay: the live new-message events it already carried, to be dropped.

    A replay covers at least every message published before it (the embedded buffer is
    written before the event is published; the Redis one proves it reaches the store's
    last seq; the store has every committed message), so it can carry a message whose
    live event the gateway's consumer has not delivered yet; that event must not reach
    the client a second time. ``replayed`` maps channel to the last replayed seq; a
    channel's floor is forgotten at its first newer message (events of a channel arrive
    in seq order), so the check costs nothing once the client is caught up.
    """

    __slots__ = ("_floor",)

    def __init__(self, replayed: dict[str, int]) -> None:
        self._floor = {channel: seq for channel, seq in replayed.items() if seq > 0}

    def __bool__(self) -> bool:
        return bool(self._floor)

    def merge(self, other: Floor) -> None:
        """Adds ``other``'s channels (a channel caught up after the resume)."""
        for channel, seq in other._floor.items():
            self._floor[channel] = max(seq, self._floor.get(channel, 0))

    def admits(self, event: Event) -> bool:
        """``False`` for a new-message event at or below its channel's floor."""
        if event.type != "message":
            return True
        floor = self._floor.get(event.channel)
        if floor is None:
            return True
        if event.seq <= floor:
            return False
        del self._floor[event.channel]
        return True


class Held:
    """Live events held while a replay runs; released without what the replay covered."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.events: list[Event] = []

    def add(self, event: Event) -> bool:
        """Holds ``event``; ``False`` once more than ``limit`` are held (drop the client)."""
        self.events.append(event)
        return len(self.events) <= self.limit

    def release(self, floor: Floor) -> list[Event]:
        """The held events in arrival order, minus new-message events the replay already
        delivered (those ``floor`` does not admit)."""
        return [e for e in self.events if floor.admits(e)]


def gap_frame(channel: str, missing: int, first_seq: int, before_ts: int) -> bytes:
    return orjson.dumps(
        {
            "type": "resume_gap",
            "channel": channel,
            "missing": missing,
            "first_seq": first_seq,
            "last_seq": first_seq + missing - 1,
            "history": {
                "method": "conversations.history",
                "channel": channel,
                "cursor": cursors.encode("history", before_ts),
            },
        }
    )


def done_frame(replayed: dict[str, int]) -> bytes:
    return orjson.dumps({"type": "resume_done", "channels": replayed})


class Replayer:
    def __init__(self, recent: RecentMessages, store: MessageStore) -> None:
        self._recent = recent
        self._store = store

    async def frames(self, channel: str, seq: int) -> tuple[list[bytes], int]:
        """The frames that bring a client holding ``seq`` in ``channel`` up to date, and
        the last ``seq`` they carry: :meth:`events`' payloads, after a ``resume_gap``
        frame when older messages were left out."""
        found, last, skipped = await self.events(channel, seq)
        frames = [e.payload for e in found]
        if skipped:
            frames.insert(0, gap_frame(channel, skipped, seq + 1, found[0].ts))
        return frames, last

    async def events(self, channel: str, seq: int) -> tuple[list[Event], int, int]:
        """The message events after ``seq`` in ``channel`` (at most :data:`MAX_REPLAY`,
        the newest), the last ``seq`` they carry, and how many older ones were left out.
        Called after the connection is registered in the hub: the buffer answers only
        when it covers every message published before the call
        (:meth:`RecentMessages.since`), so nothing delivered before the registration is
        missing."""
        buffered = await self._recent.since(channel, seq)
        if buffered is not None and len(buffered) <= MAX_REPLAY:
            return list(buffered), buffered[-1].seq if buffered else seq, 0
        last = await self._store.last_seq(channel)
        if last <= seq:
            return [], seq, 0
        start = max(seq, last - MAX_REPLAY)
        found: list[Event] = []
        after = start
        while True:
            page = await self._store.since(channel, after, MAX_REPLAY)
            found.extend(events.as_stored(m) for m in page.rows)
            after = page.rows[-1].seq if page.rows else after
            if not page.has_more or not page.rows:
                break
        return found, after, start - seq if found else 0
