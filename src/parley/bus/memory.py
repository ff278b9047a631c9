"""The in-process event bus: P bounded, append-only partitions in memory.

Suits one process; it keeps the newest ``retention`` to ``2 * retention`` events per
partition (older ones are dropped and a reader behind them gets ``truncated``). Not
durable across restarts: the store is, and readers that fall behind recover from it by
``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from parley.bus.interface import Batch, Event, routing_key
from parley.bus.offsets import Offsets
from parley.storage.router import partition_for

log = logging.getLogger(__name__)


class _Tail:
    """One reader fed in the publisher's call (:meth:`InProcessBus.tail`)."""

    __slots__ = ("offset", "sink", "reader", "feeding")

    def __init__(self, offset: int, sink: Callable[[Batch], None], reader: str) -> None:
        self.offset = offset
        self.sink = sink
        self.reader = reader
        self.feeding = False  # in ``sink`` now: a publish meanwhile waits for its return


class _Partition:
    __slots__ = ("events", "base", "waiters", "retention", "tails")

    def __init__(self, retention: int) -> None:
        self.retention = retention
        self.events: list[Event] = []  # trimmed to ``retention`` once it doubles: O(1) amortized
        self.base = 0  # offset of events[0]
        self.waiters: list[asyncio.Future] = []
        self.tails: list[_Tail] = []

    @property
    def end(self) -> int:
        return self.base + len(self.events)

    def batch(self, offset: int, limit: int) -> Batch:
        """Up to ``limit`` events from ``offset`` (``truncated`` if it was dropped)."""
        truncated = offset < self.base
        start = max(offset, self.base) - self.base
        stop = min(start + limit, len(self.events))
        events = tuple(self.events[start:stop])
        next_offset = self.base + stop if events else max(offset, self.base)
        return Batch(events, next_offset, truncated)


class InProcessBus:
    """:class:`~parley.bus.interface.EventBus` in memory."""

    def __init__(self, partitions: int, retention: int) -> None:
        self.partitions = partitions
        self.dropped = 0  # publishing appends in place: nothing waits, nothing is lost
        self.retried = 0
        self.reopened = 0  # nothing to open again: readers read the partitions in place
        self._lag: dict[tuple[str, int], int] = {}
        self._parts = [_Partition(retention) for _ in range(partitions)]
        self._offsets = Offsets()

    def queued(self) -> int:
        return 0

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        for part in self._parts:
            for w in part.waiters:
                if not w.done():
                    w.cancel()
            part.waiters.clear()

    def partition_of(self, key: str) -> int:
        return partition_for(key, self.partitions)

    def publish(self, event: Event) -> None:
        part = self._parts[partition_for(routing_key(event), self.partitions)]
        part.events.append(event)
        if len(part.events) >= 2 * part.retention:
            drop = len(part.events) - part.retention
            del part.events[:drop]
            part.base += drop
        waiters, part.waiters = part.waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)
        for tail in tuple(part.tails):  # a sink may stop a tail
            self._feed(part, tail)

    def tail(
        self, partition: int, offset: int, sink: Callable[[Batch], None], reader: str = ""
    ) -> Callable[[], None]:
        """:meth:`~parley.bus.interface.LocalTail.tail`."""
        part = self._parts[partition]
        tail = _Tail(offset, sink, reader)
        part.tails.append(tail)
        self._feed(part, tail)
        self._lag[(reader, partition)] = 0  # fed as published: never behind

        def stop() -> None:
            with contextlib.suppress(ValueError):
                part.tails.remove(tail)
            self._lag.pop((reader, partition), None)

        return stop

    def _feed(self, part: _Partition, tail: _Tail) -> None:
        if tail.feeding:
            return
        tail.feeding = True
        try:
            while tail.offset < part.end:
                batch = part.batch(tail.offset, len(part.events))
                tail.offset = batch.next_offset
                try:
                    tail.sink(batch)
                except Exception:  # a reader's failure is its own, never the publisher's
                    log.exception("a tail of the in-process bus failed")
        finally:
            tail.feeding = False

    async def release(self, partition: int, reader: str = "") -> None:
        self._lag.pop((reader, partition), None)  # a reader holds nothing else here

    async def end_offset(self, partition: int) -> int:
        return self._parts[partition].end

    async def read(
        self, partition: int, offset: int, limit: int, timeout: float, reader: str = ""
    ) -> Batch:
        part = self._parts[partition]
        if offset >= part.end and timeout > 0:
            waiter = asyncio.get_running_loop().create_future()
            part.waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        batch = part.batch(offset, limit)
        self._lag[(reader, partition)] = part.end - batch.next_offset
        return batch

    def lag(self) -> dict[tuple[str, int], int]:
        return dict(self._lag)

    def committed(self, group: str, partition: int) -> int:
        return self._offsets.get(group, partition)

    async def fetch_committed(self, group: str, partition: int) -> int:
        return self._offsets.get(group, partition)  # one process: nothing else moves it

    def commit(self, group: str, partition: int, offset: int) -> None:
        self._offsets.advance(group, partition, offset)
