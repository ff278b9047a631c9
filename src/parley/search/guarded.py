"""The search engine behind its circuit breaker (``search``): while it keeps failing,
``search.messages`` answers 503 ``fatal_error`` with ``Retry-After`` at once and the
indexer waits for the breaker instead of hammering it; after ``open_seconds`` a few calls
probe it, and it serves again by itself."""

from __future__ import annotations

from collections.abc import Sequence

from parley.resilience.board import Breakers
from parley.search.interface import Doc, Hits, Scope, SearchIndex
from parley.search.query import Query

#: The name of the search engine's breaker.
BREAKER = "search"


class GuardedSearch:
    """:class:`~parley.search.interface.SearchIndex` around ``inner`` (see the module)."""

    def __init__(self, inner: SearchIndex, breakers: Breakers) -> None:
        self.inner = inner
        self._breakers = breakers
        breakers.get(BREAKER)  # reported from the start

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def apply(self, docs: Sequence[Doc], removed: Sequence[tuple[str, int]]) -> None:
        await self._breakers.call(BREAKER, lambda: self.inner.apply(docs, removed))

    async def search(
        self, query: Query, scope: Scope, *, by_time: bool, ascending: bool, limit: int
    ) -> Hits:
        return await self._breakers.call(
            BREAKER,
            lambda: self.inner.search(
                query, scope, by_time=by_time, ascending=ascending, limit=limit
            ),
        )

    async def watermark(self) -> int:
        return await self._breakers.call(BREAKER, self.inner.watermark)

    async def mark(self, complete_to: int) -> None:
        await self._breakers.call(BREAKER, lambda: self.inner.mark(complete_to))

    async def clear(self) -> None:
        await self.inner.clear()
