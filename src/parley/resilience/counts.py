"""How many retries and dead letters wait, per step, for ``/metrics``: read from the
directory every ``every`` seconds by a task of the node, so a scrape costs no query."""

from __future__ import annotations

import asyncio
import logging

from parley.metrics import Row, gauge
from parley.resilience.store import RetryStore
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

#: The steps that keep retries and dead letters (each reported, at 0 when none wait).
STEPS = ("index", "push")


class RetryCounts:
    """``parley_retries_pending{step}`` and ``parley_dead_letters{step}``."""

    def __init__(self, store: RetryStore, every: float = 5.0) -> None:
        self._store = store
        self._every = every
        self._counts: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="retry-counts")

    async def close(self) -> None:
        if self._task is not None:
            await cancel_all([self._task])
            self._task = None

    async def refresh(self) -> None:
        self._counts = await self._store.retry_counts()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # the directory failing: the figures wait for the next
                log.warning("retry counts not read", exc_info=True)
            await asyncio.sleep(self._every)

    def metric_rows(self) -> list[Row]:
        steps = sorted({*STEPS, *(step for step, _ in self._counts)})
        return [
            gauge(
                "parley_retries_pending",
                "Items waiting for a retry, per delivery step.",
                [((s,), self._counts.get((s, "retries"), 0)) for s in steps],
                ["step"],
            ),
            gauge(
                "parley_dead_letters",
                "Items given up after their attempts, per delivery step (parley dlq).",
                [((s,), self._counts.get((s, "dead_letters"), 0)) for s in steps],
                ["step"],
            ),
        ]
