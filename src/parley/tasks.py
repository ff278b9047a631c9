"""Small asyncio helpers shared by the long-running parts."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    """Cancels ``tasks``, waits until each has stopped, and empties the list."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()
