"""The event-log contract (in-process now, NATS JetStream later).

Events are appended to one of P partitions chosen by a stable hash of the channel, so
one channel's events keep their order. Consumers read by cursor, ``(events,
next_offset)``, and commit the offset they have handled (manual acknowledgement): a
consumer that restarts resumes from its committed offset and may see events again
(at-least-once), never fewer.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class Event(msgspec.Struct, frozen=True):
    """One event. ``payload`` is the Slack-shaped JSON, encoded once for every reader;
    ``seq`` is the message's channel sequence (0 for events that are not about one)."""

    type: str
    channel: str
    team: str
    seq: int
    ts: int
    payload: bytes
    #: The user the event is about, for membership and typing events ("" otherwise).
    user: str = ""


class Batch(msgspec.Struct, frozen=True):
    events: tuple[Event, ...]
    next_offset: int
    #: True when the requested offset was older than what the log still retains and
    #: events were skipped; the reader must recover from the store.
    truncated: bool = False


class EventBus(Protocol):
    partitions: int

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    def publish(self, event: Event) -> None:
        """Appends ``event`` to its channel's partition. Order per channel is call order."""
        ...

    async def end_offset(self, partition: int) -> int:
        """The offset the next event published to ``partition`` will have (at least)."""
        ...

    async def read(self, partition: int, offset: int, limit: int, timeout: float) -> Batch:
        """Up to ``limit`` events from ``offset``; waits up to ``timeout`` s for the first."""
        ...

    def committed(self, group: str, partition: int) -> int:
        """The offset ``group`` acknowledged last in ``partition`` (0 if never)."""
        ...

    def commit(self, group: str, partition: int, offset: int) -> None:
        """Acknowledges every event of ``partition`` before ``offset`` for ``group``."""
        ...
