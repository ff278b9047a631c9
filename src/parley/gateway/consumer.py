"""The gateway's bus consumer: reads every partition in batches, puts each channel's events
in ``seq`` order (:mod:`parley.gateway.sequencer`, filling lost publishes from the store),
hands them to the hub, and acknowledges (commits) what it delivered."""

from __future__ import annotations

import asyncio
import logging

from parley.bus.interface import Event, EventBus
from parley.gateway.hub import Hub
from parley.gateway.sequencer import Sequencer
from parley.pipeline import events
from parley.storage.interface import MessageStore
from parley.tasks import cancel_all

log = logging.getLogger(__name__)


class BusConsumer:
    """One task per partition. Starts at the partition's current end (live events);
    missed history is the resume handshake's job, served from the buffer and the store."""

    def __init__(
        self,
        bus: EventBus,
        hub: Hub,
        store: MessageStore,
        *,
        group: str,
        batch: int = 100,
        reorder_window: float = 0.5,
    ) -> None:
        self._bus = bus
        self._hub = hub
        self._store = store
        self._group = group
        self._batch = batch
        self._window = reorder_window
        self.sequencer = Sequencer(reorder_window)
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        for p in range(self._bus.partitions):
            self._tasks.append(asyncio.create_task(self._run(p), name=f"gateway-consumer-{p}"))
        self._tasks.append(asyncio.create_task(self._fill_gaps(), name="gateway-gap-filler"))

    def _deliver(self, ready: list[Event]) -> None:
        for event in ready:
            try:
                self._hub.deliver(event)
            except Exception:  # one bad subscriber must not stop the partition
                log.exception("delivering %s failed", event.type)

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

    async def _run(self, partition: int) -> None:
        offset = await self._read_end(partition)
        while True:
            try:
                batch = await self._bus.read(partition, offset, self._batch, timeout=1.0)
            except Exception:  # a failing log (NATS restarting): retry the same offset
                log.exception("partition %d: reading the bus failed; retrying", partition)
                await asyncio.sleep(0.5)
                continue
            if batch.truncated:
                log.warning("partition %d: consumer fell behind the bus retention", partition)
            push = self.sequencer.push
            for event in batch.events:
                self._deliver(push(event))
            offset = batch.next_offset
            self._bus.commit(self._group, partition, offset)
            if batch.events:
                # a read that finds events ready does not yield: let requests (and the
                # gateway's flush of this batch) run between batches
                await asyncio.sleep(0)

    async def _read_end(self, partition: int) -> int:
        while True:
            try:
                return await self._bus.end_offset(partition)
            except Exception:
                log.exception("partition %d: the bus has no end offset yet; retrying", partition)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        await cancel_all(self._tasks)
