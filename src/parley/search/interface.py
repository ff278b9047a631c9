"""The search-engine contract: one interface, an engine per storage backend (FTS5 files
beside the SQLite shards, FULLTEXT tables in the MariaDB shards).

An engine holds one document per live message, keyed by the message id, written by
the indexing worker (:mod:`parley.search.indexer`) and never on the send path. It is a
candidate generator: ``search.messages`` checks every hit against the store's current
message and the caller's access before showing it (:mod:`parley.search.service`), so an
index that lags an edit, a deletion or a leave can never show what the caller may not
read today.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from parley.search.query import Query
from parley.storage.router import by_shard

#: Engines count matches up to this many (``total``; deeper than this, paging stops too).
COUNT_CAP = 10_000


class Doc(msgspec.Struct, frozen=True):
    #: The message's id (unique across shards): the document's key.
    id: int
    channel: str
    ts: int
    user: str
    text: str
    has_link: bool


class Scope(msgspec.Struct, frozen=True):
    """Where to look: ``channels`` (never empty: the caller's readable channels, narrowed
    by ``in:``), ``users`` (``from:``; empty = anyone)."""

    channels: tuple[str, ...]
    users: tuple[str, ...] = ()


class Hit(msgspec.Struct, frozen=True):
    channel: str
    ts: int
    #: Higher is better; comparable between the shards of one engine.
    score: float


class Hits(msgspec.Struct, frozen=True):
    total: int
    hits: tuple[Hit, ...]


class SearchIndex(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def apply(self, docs: Sequence[Doc], removed: Sequence[tuple[str, int]]) -> None:
        """Writes ``docs`` (replacing the documents of their ids) and removes ``removed``
        (``(channel, id)`` pairs), as one batch per shard. Idempotent."""
        ...

    async def search(
        self, query: Query, scope: Scope, *, by_time: bool, ascending: bool, limit: int
    ) -> Hits:
        """The best ``limit`` hits (by score, or by ``ts`` when ``by_time``), and how many
        documents match in all, counted up to :data:`COUNT_CAP` per shard."""
        ...

    async def watermark(self) -> int:
        """The time (microseconds) before which every committed message is known to be
        indexed, as :meth:`mark` last moved it (0: never): where recovery starts."""
        ...

    async def mark(self, complete_to: int) -> None:
        """Records that every message committed before ``complete_to`` is indexed (the
        watermark only moves forward)."""
        ...

    async def clear(self) -> None:
        """Removes every document (before a full rebuild)."""
        ...


def shard_batches(
    docs: Sequence[Doc], removed: Sequence[tuple[str, int]], n: int
) -> dict[int, tuple[list[Doc], list[int]]]:
    """Per shard: the documents to write and the message ids to remove there."""
    out: dict[int, tuple[list[Doc], list[int]]] = {}
    for i, group in by_shard(docs, n, lambda d: d.channel).items():
        out.setdefault(i, ([], []))[0].extend(group)
    for i, group in by_shard(removed, n, lambda r: r[0]).items():
        out.setdefault(i, ([], []))[1].extend(message_id for _, message_id in group)
    return out


def merge(found: Sequence[Hits], by_time: bool, ascending: bool, limit: int) -> Hits:
    """The best ``limit`` hits of several shards' answers, in the same order."""
    hits = [h for part in found for h in part.hits]
    if by_time:
        hits.sort(key=lambda h: h.ts, reverse=not ascending)
    else:
        hits.sort(key=lambda h: (h.score, h.ts), reverse=not ascending)
    return Hits(min(sum(part.total for part in found), COUNT_CAP), tuple(hits[:limit]))
