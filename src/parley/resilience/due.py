"""Work kept for later in the durable retry table (:mod:`parley.resilience.store`) and
done when due: scheduled messages, reminders, notices of account changes.

:class:`DueWork` is the worker's loop they share: every ``interval`` seconds it claims
the step's records due now, up to :data:`BATCH` at a time (each leased until
``lease_us`` from now, so no other worker takes it meanwhile, and a worker that dies
mid-way leaves it due again when the lease ends), and hands each to ``handle``, which
settles it (done, due again later, a dead letter). Several workers may run it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from parley.resilience.retries import Retry
from parley.resilience.store import RetryStore
from parley.tasks import cancel_all, every

#: Due records claimed per look.
BATCH = 100


class DueWork:
    """Claims ``step``'s due records and has ``handle`` do each (see the module)."""

    def __init__(
        self,
        retries: RetryStore,
        step: str,
        handle: Callable[[Retry], Awaitable[None]],
        *,
        clock_us: Callable[[], int],
        interval: float,
        lease_us: int,
        what: str,
    ) -> None:
        self._retries = retries
        self._step = step
        self._handle = handle
        self._clock_us = clock_us
        self._interval = interval
        self._lease_us = lease_us
        self._what = what
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        looking = every(self._interval, self._all_due, f"{self._what}: looking for due work")
        self._task = asyncio.get_running_loop().create_task(looking, name=self._what)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_all([self._task])
            self._task = None

    async def _all_due(self) -> None:
        while await self.run_due() == BATCH:
            pass  # more were due than one batch holds

    async def run_due(self) -> int:
        """Claims what is due now and handles each, in turn; how many there were."""
        now = self._clock_us()
        due = await self._retries.claim_due(self._step, now, BATCH, now + self._lease_us)
        for record in due:
            await self._handle(record)
        return len(due)
