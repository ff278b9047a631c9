"""How late the bench's own client processes ran.

The subscribers time a delivery when their process reads it, and the senders send when
theirs wakes; on two cores shared with the server, either may wait for a core (or be
busy with a burst of its own) for tens of milliseconds, and every delivery of that
moment reads as late by as much, as if the server had been. So each client process times
its own event loop while it runs: a task sleeps :data:`STEP_S` over and over, and a
wake-up :data:`LATE_MS` or more after it was due is recorded. Beside the other
processes' CPU (:mod:`parley.bench.noise`), it says whose a latency spike was: the
machine's, the load generator's, or, when neither was late, the server's.

- :func:`watch`: the task, on a client process's loop;
- :func:`summary`: the figures, pure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

#: How long the watching task sleeps each time (s): a wake-up is due this long after
#: it went to sleep.
STEP_S = 0.005
#: A wake-up this much past due or more (ms) is recorded: above what a loop's
#: millisecond timers and a sender's blocking last wait (``FINE_WAIT``) make of it.
LATE_MS = 5.0


async def watch(
    stop: asyncio.Event,
    late: list[tuple[int, float]],
    *,
    clock: Callable[[], int] = time.monotonic_ns,
) -> None:
    """Until ``stop`` is set, appends to ``late`` each wake-up :data:`LATE_MS` or more
    past due, as ``(due, ms late)`` (``due`` on ``clock``, monotonic ns)."""
    step = int(STEP_S * 1e9)
    while not stop.is_set():
        due = clock() + step
        await asyncio.sleep(STEP_S)
        behind = (clock() - due) / 1e6
        if behind >= LATE_MS:
            late.append((due, round(behind, 1)))


def summary(late: list[tuple[int, float]], start_ns: int) -> dict[str, Any]:
    """The JSON figures of one client process's :func:`watch`: how many times it was
    late, the longest, and each ``[t, ms]``, ``t`` in seconds from the first scheduled
    send (``start_ns``)."""
    times = [[round((due - start_ns) / 1e9, 3), ms] for due, ms in late]
    return {"count": len(times), "max_ms": max((ms for _, ms in times), default=0.0), "late": times}
