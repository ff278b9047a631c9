"""Token buckets: the arithmetic (pure, on an injected clock) and the in-memory store.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a call
takes one. :func:`take` is the whole rule; a store keeps one bucket per key and applies
it. The store interface is async so that a shared Redis store (one script call per
check, atomic across nodes) drops in behind it for a fleet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


def take(
    tokens: float, at: float, now: float, rate: float, burst: float
) -> tuple[float, float, float]:
    """One call against a bucket that held ``tokens`` at time ``at``.

    Returns ``(tokens, at, wait)``: the bucket's new state and ``0.0`` if the call is
    allowed, else the seconds until it would be (the state is then unchanged but for the
    refill). A bucket never holds more than ``burst`` tokens; time going backwards (a
    clock step) refills nothing.
    """
    tokens = min(burst, tokens + max(0.0, now - at) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, now, 0.0
    return tokens, now, (1.0 - tokens) / rate


class RateStore(Protocol):
    async def take(self, key: str, rate: float, burst: float) -> float:
        """Takes a token from ``key``'s bucket: ``0.0`` if allowed, else seconds to wait."""
        ...


class MemoryRateStore:
    """Buckets in this process's memory (the embedded default).

    Holds at most about ``max_keys`` buckets: when it passes that, buckets that have
    refilled completely (the same as no bucket) are dropped, so memory follows the number
    of recently active keys, not of all keys ever seen.
    """

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, at, time the bucket is full again)
        self._buckets: dict[str, tuple[float, float, float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str, rate: float, burst: float) -> float:
        return self.take_now(key, rate, burst)

    def take_now(self, key: str, rate: float, burst: float) -> float:
        """:meth:`take` without the await, for callers that are not coroutines."""
        now = self._clock()
        state = self._buckets.get(key)
        if state is None:
            if len(self._buckets) >= self._max_keys:
                self._sweep(now)
            tokens, at = burst, now
        else:
            tokens, at = state[0], state[1]
        tokens, at, wait = take(tokens, at, now, rate, burst)
        self._buckets[key] = (tokens, at, at + (burst - tokens) / rate)
        return wait

    def _sweep(self, now: float) -> None:
        full = [key for key, (_t, _a, full_at) in self._buckets.items() if full_at <= now]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys // 2:
            # mostly busy buckets (keys are authenticated users and channels, so bounded):
            # grow instead of sweeping on every new key
            self._max_keys *= 2
