"""Everyone's notification preferences for the push worker, read again from the
directory every ``ttl`` seconds: a change applies to pushes within that time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from parley.notify.prefs import Snapshot
from parley.storage.interface import Directory

#: Seconds a snapshot of the preferences is used.
PREFS_TTL = 5.0


class PrefsCache:
    def __init__(
        self,
        directory: Directory,
        ttl: float = PREFS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._ttl = ttl
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._taken = float("-inf")
        self._loading = asyncio.Lock()

    async def current(self) -> Snapshot:
        """The snapshot, read again when older than ``ttl`` (one read at a time; a failed
        read raises, and the next call tries again)."""
        if self._snapshot is not None and self._clock() - self._taken < self._ttl:
            return self._snapshot
        async with self._loading:
            if self._snapshot is None or self._clock() - self._taken >= self._ttl:
                taken = self._clock()
                self._snapshot = Snapshot(await self._directory.push_prefs(None))
                self._taken = taken
            return self._snapshot
