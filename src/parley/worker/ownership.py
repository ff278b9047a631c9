"""Per-partition ownership between the workers of one group: two workers never process
one partition's events at the same time, and a dead worker's partitions are taken over.

How partitions are assigned and handed over:

- Every ``tick`` seconds a worker announces itself to the group (a heartbeat valid for
  ``ttl`` seconds) and gets the list of live workers. Each computes the partitions it
  should own by rendezvous hashing (:mod:`parley.worker.assign`): the same answer on
  every worker, with no coordinator.
- Owning a partition means holding its lease, a key with a ``ttl`` that only its holder
  can renew or delete. A worker claims a partition assigned to it when the lease is
  free, renews its leases every tick, and starts processing a partition only once it
  holds the lease (from the group's committed offset: at-least-once).
- **Hand-over** (a worker joined): the old owner sees the new list, stops processing the
  partitions it no longer should own (its offsets are committed as it goes), and
  deletes their leases; the new owner claims them at its next tick.
- **Take-over** (a worker died): its heartbeat and leases expire after ``ttl`` seconds;
  the survivors' assignment then includes its partitions and they claim them.
- A worker that cannot renew (Redis unreachable) for ``ttl`` seconds stops processing
  everything, since its leases may have passed to others by then.

A worker stalled longer than ``ttl`` (paused, swapped out) may still finish a batch
after its lease passed on: the consumers built on this are idempotent (republishing
and indexing are), so that overlap costs work, never correctness.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from parley.bus.interface import Batch, EventBus
from parley.tasks import cancel_all
from parley.worker.assign import assigned

log = logging.getLogger(__name__)


class Leases(Protocol):
    """The shared registry behind ownership (Redis in a fleet)."""

    async def beat(self, group: str, me: str, ttl: float) -> list[str]:
        """Announces ``me`` alive for ``ttl`` seconds; the live workers of ``group``."""
        ...

    async def hold(self, group: str, partitions: Sequence[int], me: str, ttl: float) -> set[int]:
        """Claims or renews the leases of ``partitions`` for ``ttl`` seconds; the ones
        ``me`` holds now (a lease another worker holds stays theirs)."""
        ...

    async def release(self, group: str, partitions: Sequence[int], me: str) -> None:
        """Deletes the leases of ``partitions`` that ``me`` holds."""
        ...

    async def leave(self, group: str, me: str) -> None:
        """Removes ``me`` from the live workers."""
        ...


def worker_name() -> str:
    """A name for this process, new at every start: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Ownership:
    """Runs the assignment for one worker of ``group`` over ``partitions`` partitions,
    calling ``acquire(p)`` when it may start processing ``p`` and awaiting
    ``release(p)`` before it gives ``p`` up."""

    def __init__(
        self,
        leases: Leases,
        group: str,
        partitions: int,
        *,
        me: str | None = None,
        tick: float = 1.0,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self.group = group
        self._partitions = range(partitions)
        self.me = me or worker_name()
        self._tick = tick
        self._ttl = ttl
        self._clock = clock
        #: The partitions this worker processes now.
        self.held: set[int] = set()
        self._last_ok = clock()

    async def run(
        self, acquire: Callable[[int], None], release: Callable[[int], Awaitable[None]]
    ) -> None:
        """Keeps the assignment until cancelled."""
        while True:
            try:
                await self.step(acquire, release)
                self._last_ok = self._clock()
            except Exception as exc:  # the registry failing: keep what is held, for now
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # a cancel turned into an error
                log.warning("%s: partition leases not renewed: %s", self.group, exc)
                if self.held and self._clock() - self._last_ok >= self._ttl:
                    log.error("%s: leases lost; stopping every partition", self.group)
                    await self._drop(sorted(self.held), release)
            await asyncio.sleep(self._tick)

    async def step(
        self, acquire: Callable[[int], None], release: Callable[[int], Awaitable[None]]
    ) -> None:
        """One round: heartbeat, hand over what is no longer ours, claim and renew."""
        live = await self._leases.beat(self.group, self.me, self._ttl)
        want = assigned(self._partitions, live, self.me)
        handed = sorted(self.held - want)
        if handed:
            await self._drop(handed, release)
            await self._leases.release(self.group, handed, self.me)
        holding = await self._leases.hold(self.group, sorted(want), self.me, self._ttl)
        await self._drop(sorted(self.held - holding), release)  # lost (expired meanwhile)
        for partition in sorted(holding - self.held):
            self.held.add(partition)
            acquire(partition)

    async def _drop(
        self, partitions: Sequence[int], release: Callable[[int], Awaitable[None]]
    ) -> None:
        for partition in partitions:
            self.held.discard(partition)
            await release(partition)

    async def close(self, release: Callable[[int], Awaitable[None]]) -> None:
        """Stops every partition and hands them over at once (a clean shutdown)."""
        held = sorted(self.held)
        await self._drop(held, release)
        try:
            await self._leases.release(self.group, held, self.me)
            await self._leases.leave(self.group, self.me)
        except Exception as exc:  # they expire on their own
            log.warning("%s: leases not released: %s", self.group, exc)


class PartitionWorker:
    """What the workers built on this share: one task per partition of ``bus`` owned
    (every one without ``ownership``) running :meth:`_follow`, started and stopped as
    ownership moves, reading as consumer group ``group``. Subclasses implement
    :meth:`_follow` (starting at :meth:`_start_offset`), may add tasks of their own to
    ``_tasks``, and may forget per-partition state in :meth:`_forget_partition`."""

    #: Names the tasks (``<name>-<partition>``).
    name = "worker"

    def __init__(self, bus: EventBus, group: str, ownership: Ownership | None) -> None:
        self._bus = bus
        self._group = group
        self._partitions = bus.partitions
        self._ownership = ownership
        self._tasks: list[asyncio.Task] = []
        #: The partitions followed, by partition.
        self._follows: dict[int, asyncio.Task] = {}

    def owned(self) -> list[int]:
        """The partitions this worker processes now."""
        return sorted(self._follows)

    def _start_partitions(self) -> None:
        if self._ownership is None:
            for p in range(self._partitions):
                self._acquire(p)
        else:
            run = self._ownership.run(self._acquire, self._release)
            self._tasks.append(asyncio.create_task(run, name=f"{self.name}-ownership"))

    def _acquire(self, partition: int) -> None:
        self._follows[partition] = asyncio.create_task(
            self._follow(partition), name=f"{self.name}-{partition}"
        )

    async def _release(self, partition: int) -> None:
        task = self._follows.pop(partition, None)
        if task is not None:
            await cancel_all([task])
        await self._bus.release(partition, self.name)
        self._forget_partition(partition)

    async def _read(self, partition: int, offset: int, limit: int) -> Batch:
        """The next batch of ``partition`` for this worker (its own cursor in the log)."""
        return await self._bus.read(partition, offset, limit, timeout=1.0, reader=self.name)

    def _forget_partition(self, partition: int) -> None:
        pass

    async def _start_offset(self, partition: int) -> int:
        """Where reading ``partition`` starts: the group's committed offset when the log
        keeps one, else the log's end; asked again until the log answers."""
        while True:  # the log may be restarting
            try:
                offset = await self._bus.fetch_committed(self._group, partition)
                return offset or await self._bus.end_offset(partition)
            except Exception:
                log.exception("%s: positioning partition %d failed", self.name, partition)
                await asyncio.sleep(0.5)

    async def _follow(self, partition: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        await cancel_all(self._tasks)
        if self._ownership is not None:
            await self._ownership.close(self._release)
        await cancel_all(list(self._follows.values()))
        self._follows.clear()
