"""A search engine that fails on command, for fault tests and drills: it passes every
call to the real engine it wraps unless told otherwise.

- ``down``: every call raises :class:`~parley.errors.StorageUnavailable`, as an engine
  that cannot be reached;
- ``refuse``: a write whose documents hold one of these words raises
  :class:`~parley.errors.StorageError`, as an engine refusing a document.

Put it under a running server's breaker: ``svc.search_index.inner = FaultyIndex(...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from parley.errors import StorageError, StorageUnavailable
from parley.search.interface import Doc, Hits, Scope, SearchIndex
from parley.search.query import Query


class FaultyIndex:
    """:class:`~parley.search.interface.SearchIndex` around ``inner`` (see the module)."""

    def __init__(self, inner: SearchIndex) -> None:
        self.inner = inner
        self.down = False
        self.refuse: frozenset[str] = frozenset()

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable("search engine unreachable (a drill)")

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def apply(self, docs: Sequence[Doc], removed: Sequence[tuple[str, int]]) -> None:
        self._check()
        if any(word in d.text.split() for d in docs for word in self.refuse):
            raise StorageError("the search engine refuses this document (a drill)")
        await self.inner.apply(docs, removed)

    async def search(
        self, query: Query, scope: Scope, *, by_time: bool, ascending: bool, limit: int
    ) -> Hits:
        self._check()
        return await self.inner.search(
            query, scope, by_time=by_time, ascending=ascending, limit=limit
        )

    async def watermark(self) -> int:
        self._check()
        return await self.inner.watermark()

    async def mark(self, complete_to: int) -> None:
        self._check()
        await self.inner.mark(complete_to)

    async def clear(self) -> None:
        await self.inner.clear()
