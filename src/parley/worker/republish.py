"""The republishing worker: a message a node committed but never published reaches the
event log anyway.

An API node acknowledges a message once it is durable in its shard and publishes the
event afterwards, from an in-memory outbox. A node killed between the two leaves a
committed message that no gateway hears of until the channel's next message reveals
the gap (the gateway's sequencer then reads it from the store), or that the client
only gets when it reconnects. This worker closes that hole: it reads the event log and
notes, per channel, the highest message ``seq`` the log has carried; every ``interval``
seconds it asks the store which channels committed messages recently (their tails)
and, for a tail that is ahead of the log by more than ``grace`` seconds, reads the
missing messages from the store and publishes them again. The event's identity is its
JetStream ``Nats-Msg-Id``, so an event the log already holds is not stored twice, and a
gateway drops anything at or below what it has delivered: a republish is idempotent,
and two workers doing the same work are harmless.

Several workers split the partitions between them (:mod:`parley.worker.ownership`):
each follows, and repairs the channels of, only the partitions it owns.

The core (:class:`Carried`) is pure; :class:`Republisher` is the I/O shell. A channel
the worker has not yet seen in the log since it started (or took its partition over) is
taken to be complete up to its tail when first seen (the worker cannot know what was
lost before it ran).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from parley.bus.interface import EventBus
from parley.ids import wall_us
from parley.pipeline import events
from parley.storage.interface import MessageStore
from parley.worker.ownership import Ownership, PartitionWorker

log = logging.getLogger(__name__)

GROUP = "republisher"


class Carried:
    """Per channel, the highest new-message ``seq`` the event log has carried."""

    def __init__(self) -> None:
        self._seq: dict[str, int] = {}

    def forget(self, which: Callable[[str], bool]) -> None:
        """Drops the channels ``which`` selects (their partition went to another worker)."""
        self._seq = {c: s for c, s in self._seq.items() if not which(c)}

    def saw(self, kind: str, channel: str, seq: int) -> None:
        if kind == "message" and seq > self._seq.get(channel, 0):
            self._seq[channel] = seq

    def missing(
        self, tails: list[tuple[str, int, int]], before_ts: int
    ) -> list[tuple[str, int, int]]:
        """``(channel, after, count)`` for each tail ahead of the log and committed at
        or before ``before_ts``: the store's ``count`` messages after ``after`` should
        be published again. A channel seen for the first time counts as complete."""
        out = []
        for channel, seq, ts in tails:
            carried = self._seq.get(channel)
            if carried is None:
                self._seq[channel] = seq
            elif seq > carried and ts <= before_ts:
                out.append((channel, carried, seq - carried))
        return out


class Republisher(PartitionWorker):
    name = "republisher"

    def __init__(
        self,
        bus: EventBus,
        store: MessageStore,
        *,
        interval: float = 2.0,
        grace: float = 5.0,
        horizon: float = 600.0,
        ownership: Ownership | None = None,
        clock_us: Callable[[], int] = wall_us,
    ) -> None:
        """``ownership`` splits the partitions with the group's other workers; without
        one this worker takes them all."""
        super().__init__(bus, GROUP, ownership)
        self._store = store
        self._interval = interval
        self._grace_us = int(grace * 1e6)
        self._horizon_us = int(horizon * 1e6)
        self._clock_us = clock_us
        self.carried = Carried()
        self.republished = 0

    def start(self) -> None:
        self._start_partitions()
        self._tasks.append(asyncio.create_task(self._repair_loop(), name="republisher"))

    def _forget_partition(self, partition: int) -> None:
        of = self._bus.partition_of
        self.carried.forget(lambda channel: of(channel) == partition)

    async def _follow(self, partition: int) -> None:
        """Reads the partition from the group's committed offset (its end the first
        time), noting what it carries and acknowledging each batch once noted."""
        offset = await self._start_offset(partition)
        while True:
            try:
                batch = await self._read(partition, offset, 100)
            except Exception:  # the log restarting: the same offset again
                log.exception("republisher: reading partition %d failed; retrying", partition)
                await asyncio.sleep(0.5)
                continue
            for event in batch.events:
                self.carried.saw(event.type, event.channel, event.seq)
            offset = batch.next_offset
            self._bus.commit(GROUP, partition, offset)

    async def _repair_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.repair()
            except Exception:  # a failing store: the next round tries again
                log.exception("republisher: a repair round failed")

    async def repair(self) -> int:
        """One round: publishes again what the store has and the log lacks; returns how
        many events it published."""
        now = self._clock_us()
        tails = await self._store.recent_tails(now - self._horizon_us)
        if self._ownership is not None:
            of, mine = self._bus.partition_of, self._follows
            tails = [t for t in tails if of(t[0]) in mine]
        sent = 0
        for channel, after, count in self.carried.missing(tails, now - self._grace_us):
            page = await self._store.since(channel, after, min(count, 1000))
            for message in page.rows:
                self._bus.publish(events.as_stored(message))
                self.carried.saw("message", channel, message.seq)
                sent += 1
        if sent:
            log.warning("republished %d committed messages the event log lacked", sent)
            self.republished += sent
        return sent
