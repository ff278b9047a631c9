"""How late the bench's own client processes ran.

The subscribers time a delivery when their process reads it, and the senders send when
theirs wakes; on two cores shared with the server, either may wait for a core (or be
busy with a burst of its own) for tens of milliseconds, and every delivery of that
moment reads as late by as much, as if the server had been. So each client process times
its own event loop while it runs: a task sleeps :data:`STEP_S` over and over, and a
wake-up :data:`LATE_MS` or more after it was due is recorded, with how long the thread
ran meanwhile. A process that ran for most of it was busy (a burst of frames to read,
which a server's stall also makes: the backlog arrives at once), one that did not was
waiting for a core, the load generator's own delay (or, for a sender, partly in its
blocking last wait before a send, ``FINE_WAIT``, 2 ms at most). Beside the other processes' CPU
(:mod:`parley.bench.noise`), it says whose a latency spike was.

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
    late: list[tuple[int, float, float]],
    *,
    clock: Callable[[], int] = time.monotonic_ns,
    ran: Callable[[], int] = time.thread_time_ns,
) -> None:
    """Until ``stop`` is set, appends to ``late`` each wake-up :data:`LATE_MS` or more
    past due, as ``(due, ms late, ms the thread ran since it went to sleep)`` (``due``
    on ``clock``, monotonic ns; ``ran``, the thread's CPU time in ns)."""
    step = int(STEP_S * 1e9)
    while not stop.is_set():
        due, began = clock() + step, ran()
        await asyncio.sleep(STEP_S)
        behind = (clock() - due) / 1e6
        if behind >= LATE_MS:
            late.append((due, round(behind, 1), round((ran() - began) / 1e6, 1)))


def waited(late_ms: float, ran_ms: float) -> bool:
    """Whether a late wake-up was mostly spent waiting for a core: the thread ran for
    less than half of the time from going to sleep to waking."""
    return ran_ms < (STEP_S * 1e3 + late_ms) / 2


def summary(late: list[tuple[int, float, float]], start_ns: int) -> dict[str, Any]:
    """The JSON figures of one client process's :func:`watch`: how many times it was
    late, how many of them it mostly waited for a core (:func:`waited`), the longest,
    and each ``[t, ms late, ms running]``, ``t`` in seconds from the first scheduled
    send (``start_ns``)."""
    times = [[round((due - start_ns) / 1e9, 3), ms, ran] for due, ms, ran in late]
    return {
        "count": len(times),
        "waiting": sum(waited(ms, ran) for _, ms, ran in times),
        "max_ms": max((ms for _, ms, _ in times), default=0.0),
        "late": times,
    }
