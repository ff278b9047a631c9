"""Small asyncio helpers shared by the long-running parts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


#: Seconds between two cancellations of a task that is still running.
RECANCEL = 0.1


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    """Cancels ``tasks``, waits until each has stopped, and empties the list. A task that
    had failed is logged. A task still running after :data:`RECANCEL` seconds is
    cancelled again: a library that turned the cancellation into an error of its own
    (redis-py does, mid-command) lets a loop that catches errors go on. Cancelling the
    caller while it waits cancels the caller (the wait never swallows the caller's own
    cancellation)."""
    pending = set(tasks)
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=RECANCEL)
        for task in pending:
            task.cancel()
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s had failed", task.get_name(), exc_info=task.exception())
    tasks.clear()


async def every(seconds: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """``work()`` every ``seconds`` until cancelled; a failure is logged (as ``what``)
    and waits for the next turn."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)
