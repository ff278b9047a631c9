"""The gateway's bus consumer: reads the partitions its clients need, in batches, puts each
channel's events in ``seq`` order (:mod:`parley.gateway.sequencer`, filling lost publishes
from the store), hands them to the hub, and acknowledges (commits) what it delivered.

**Which partitions.** A gateway reads a partition only while one of its connections
follows a channel of it, or belongs to a team whose workspace-wide events it carries
(:func:`~parley.bus.interface.routing_key`): adding a gateway adds readers only where its
own clients are, and does not multiply the work of the others. A connection asks for its
partitions with :meth:`BusConsumer.listen` before it reads anything it will replay: a
partition not yet read starts at its current end, taken then, so every event published
after that point reaches the hub, and everything committed before it is the replay's
(resume, or a join's catch-up). A partition no connection has needed for ``linger``
seconds stops being read, and the sequencer forgets its channels.

A restarted gateway has no clients; each reconnecting client resumes from its own last
``seq`` per channel (:mod:`parley.gateway.resume`), which is the position that matters
to it, and the partitions it needs are read from their end onwards. The offsets the
gateway commits per partition measure how far it has read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from parley.bus.interface import Batch, Event, EventBus, LocalTail
from parley.errors import ParleyError
from parley.gateway.hub import Hub
from parley.gateway.sequencer import Sequencer
from parley.metrics import Metrics
from parley.pipeline import events
from parley.storage.interface import MessageStore
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

#: This consumer's name among the readers of the bus in one process.
READER = "gateway"


class BusUnavailable(ParleyError):
    """A partition could not be positioned (the event log is unreachable)."""


class BusConsumer:
    """One task per partition read, plus the gap filler and the sweeper of partitions no
    longer needed."""

    def __init__(
        self,
        bus: EventBus,
        hub: Hub,
        store: MessageStore,
        *,
        group: str,
        batch: int = 100,
        reorder_window: float = 0.5,
        linger: float = 30.0,
        start_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self._bus = bus
        self._metrics = metrics or Metrics()
        self._hub = hub
        self._store = store
        self._group = group
        self._batch = batch
        self._window = reorder_window
        self._linger = linger
        self._start_timeout = start_timeout
        self._clock = clock
        self.sequencer = Sequencer(reorder_window)
        #: The partitions read: their reader task, and a future done once positioned.
        self._readers: dict[int, tuple[asyncio.Task, asyncio.Future]] = {}
        #: Partitions read but needed by no connection, since when.
        self._unneeded: dict[int, float] = {}
        #: Last-seq reads in flight, by channel, and the bound on how many run at once.
        self._expecting: dict[str, asyncio.Future] = {}
        self._reading = asyncio.Semaphore(16)
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._fill_gaps(), name="gateway-gap-filler"))
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="gateway-sweeper"))

    def partitions(self) -> list[int]:
        """The partitions this gateway reads now."""
        return sorted(self._readers)

    async def listen(self, keys: Iterable[str], *, channels: bool = True) -> None:
        """Returns once the partitions of ``keys`` (channels, or teams with ``channels``
        false) are read, each from a position taken no earlier than this call, and the
        channels the sequencer did not know are started at their last ``seq`` in the
        store; raises :class:`BusUnavailable` if the log cannot be positioned within
        ``start_timeout`` seconds."""
        keys = list(keys)
        await self._position(keys)
        if channels:
            await self._expect([k for k in keys if not self.sequencer.knows(k)])

    async def _expect(self, channels: list[str]) -> None:
        """Starts these channels at the store's last seq; a channel already being read
        for another connection (a burst of connections to a cold gateway) is read once."""
        reads = []
        for channel in channels:
            read = self._expecting.get(channel)
            if read is None:
                read = self._expecting[channel] = asyncio.ensure_future(self._read_last(channel))
                read.add_done_callback(lambda _, c=channel: self._expecting.pop(c, None))
            reads.append(asyncio.shield(read))
        for channel, outcome in zip(
            channels, await asyncio.gather(*reads, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, BaseException):  # ordering of first messages only
                log.warning("reading the last seq of %s failed: %s", channel, outcome)
            else:
                self.sequencer.expect(channel, outcome)

    async def _read_last(self, channel: str) -> int:
        async with self._reading:
            return await self._store.last_seq(channel)

    async def _position(self, keys: list[str]) -> None:
        waits = []
        for partition in {self._bus.partition_of(key) for key in keys}:
            self._unneeded.pop(partition, None)
            reader = self._readers.get(partition)
            if reader is None:
                started = asyncio.get_running_loop().create_future()
                task = asyncio.create_task(
                    self._run(partition, started), name=f"gateway-consumer-{partition}"
                )
                reader = self._readers[partition] = (task, started)
            if not reader[1].done():
                waits.append(reader[1])
        if not waits:
            return
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.gather(*waits)), self._start_timeout)
        except TimeoutError:
            raise BusUnavailable("the event log is unreachable") from None

    def _deliver(self, ready: list[Event]) -> None:
        delivered, latency = self._metrics.delivered, self._metrics.delivery_latency
        fanout = self._metrics.stage["fanout"]
        for event in ready:
            began = time.perf_counter()
            try:
                sent = self._hub.deliver(event)
            except Exception:  # one bad subscriber must not stop the partition
                log.exception("delivering %s failed", event.type)
                continue
            if sent and event.type == "message":
                fanout.observe(time.perf_counter() - began)
                delivered.inc(sent)
                latency.observe(max(0.0, time.time() - event.ts / 1e6))
                if log.isEnabledFor(logging.DEBUG):
                    where = {"channel": event.channel, "seq": event.seq, "connections": sent}
                    log.debug("message handed out", extra={"rid": event.rid, **where})

    async def _fill_gaps(self) -> None:
        """Reads from the store the messages of gaps open past the reorder window (a
        publish lost or far behind) and delivers them in order."""
        while True:
            await asyncio.sleep(self._window / 2)
            for channel, after, missing in self.sequencer.due():
                try:
                    page = await self._store.since(channel, after, min(missing, 1000))
                except Exception:
                    log.exception("filling %s after seq %d from the store failed", channel, after)
                    continue
                found = [events.as_stored(m) for m in page.rows]
                self._deliver(self.sequencer.fill(channel, found))

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self._linger / 3, 0.01))
            await self.sweep()

    async def sweep(self) -> list[int]:
        """Stops reading the partitions no connection has needed for ``linger`` seconds;
        returns them."""
        now = self._clock()
        needed = {self._bus.partition_of(key) for key in self._hub.routing_keys()}
        stopped = []
        for partition in list(self._readers):
            if partition in needed:
                self._unneeded.pop(partition, None)
            elif now - self._unneeded.setdefault(partition, now) >= self._linger:
                stopped.append(partition)
        of = self._bus.partition_of
        for partition in stopped:
            task, _ = self._readers.pop(partition)
            del self._unneeded[partition]
            task.cancel()
        if stopped:
            gone = set(stopped)
            self.sequencer.forget(lambda channel: of(channel) in gone)
        for partition in stopped:
            try:
                await self._bus.release(partition, READER)
            except Exception:
                log.exception("partition %d: releasing its reader failed", partition)
        return stopped

    async def _run(self, partition: int, started: asyncio.Future) -> None:
        offset = await self._read_end(partition)
        started.set_result(offset)
        if isinstance(self._bus, LocalTail):  # handed each event as it is published
            stop = self._bus.tail(
                partition, offset, lambda batch: self._take(partition, batch), READER
            )
            try:
                await asyncio.get_running_loop().create_future()  # until swept or closed
            finally:
                stop()
            return
        while True:
            try:
                batch = await self._bus.read(
                    partition, offset, self._batch, timeout=1.0, reader=READER
                )
            except Exception:  # a failing log (NATS restarting): retry the same offset
                log.exception("partition %d: reading the bus failed; retrying", partition)
                await asyncio.sleep(0.5)
                continue
            self._take(partition, batch)
            offset = batch.next_offset
            if batch.events:
                # a read that finds events ready does not yield: let requests (and the
                # gateway's flush of this batch) run between batches
                await asyncio.sleep(0)

    def _take(self, partition: int, batch: Batch) -> None:
        """Delivers a batch read from ``partition`` in order and commits past it."""
        if batch.truncated:
            log.warning("partition %d: consumer fell behind the bus retention", partition)
        push = self.sequencer.push
        for event in batch.events:
            self._deliver(push(event))
        self._bus.commit(self._group, partition, batch.next_offset)

    async def _read_end(self, partition: int) -> int:
        while True:
            try:
                return await self._bus.end_offset(partition)
            except Exception:
                log.exception("partition %d: the bus has no end offset yet; retrying", partition)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        await cancel_all(self._tasks + [task for task, _ in self._readers.values()])
        self._readers.clear()
