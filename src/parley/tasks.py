"""Small asyncio helpers shared by the long-running parts."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    """Cancels ``tasks``, waits until each has stopped, and empties the list. A task that
    had failed is logged. Cancelling the caller while it waits cancels the caller (the
    wait never swallows the caller's own cancellation)."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s had failed", task.get_name(), exc_info=task.exception())
    tasks.clear()
