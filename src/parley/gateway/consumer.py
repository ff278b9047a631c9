"""The gateway's bus consumer: reads every partition in batches, hands events to the hub,
and acknowledges (commits) what it delivered."""

from __future__ import annotations

import asyncio
import logging

from parley.bus.interface import EventBus
from parley.gateway.hub import Hub
from parley.tasks import cancel_all

log = logging.getLogger(__name__)


class BusConsumer:
    """One task per partition. Starts at the partition's current end (live events);
    missed history is the resume handshake's job, served from the buffer and the store."""

    def __init__(self, bus: EventBus, hub: Hub, *, group: str, batch: int = 100) -> None:
        self._bus = bus
        self._hub = hub
        self._group = group
        self._batch = batch
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        for p in range(self._bus.partitions):
            self._tasks.append(asyncio.create_task(self._run(p), name=f"gateway-consumer-{p}"))

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
            for event in batch.events:
                try:
                    self._hub.deliver(event)
                except Exception:  # one bad subscriber must not stop the partition
                    log.exception("delivering %s failed", event.type)
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
