"""The embedded search engine: SQLite FTS5, one ``search-<i>.db`` beside each shard file.

A file of its own, with its own writer thread (:mod:`.statements`: a C thread that never
takes the GIL, where the extension is built), so indexing never holds the lock a shard's
message writes need (the send path), nor the event loop. Documents are an FTS5 table
(``unicode61`` tokenizer, diacritics folded), keyed by the message id as rowid, with the
channel, ts, sender and has-link flag stored unindexed for filtering; ranking is BM25.
Written with ``synchronous=NORMAL``: an index is rebuilt from the store (``parley search
reindex``), so a power cut may cost its last writes, never a message.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import orjson

from parley.config import Settings
from parley.search.interface import COUNT_CAP, Doc, Hit, Hits, Scope, merge, shard_batches
from parley.search.query import Query
from parley.storage.router import by_shard
from parley.storage.sqlite.db import Readers
from parley.storage.sqlite.statements import Statement, make_statement_writer

#: The index writers' nice value: their FTS5 work (and its segment merges, seconds
#: apart) yields the cores to the event loop and to the clients; the index is allowed to
#: lag, a delivery is not.
BACKGROUND_NICE = 10

MIGRATIONS = [
    # v1
    """
    CREATE VIRTUAL TABLE docs USING fts5(
        text, channel UNINDEXED, ts UNINDEXED, user UNINDEXED, has_link UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """,
]


def search_filename(index: int) -> str:
    return f"search-{index}.db"


def match_expression(query: Query) -> str | None:
    """The FTS5 MATCH text for ``query``'s terms (``None`` when it has none): a word
    matches words it starts, a phrase its words in a row; excluded terms are ``NOT``."""
    if not query.terms:
        return None
    parts = [f'"{t[0]}"*' if len(t) == 1 else '"' + " ".join(t) + '"' for t in query.terms]
    expression = "(" + " AND ".join(parts) + ")"
    for term in query.excluded:
        expression += ' NOT "' + " ".join(term) + '"'
    return expression


#: One statement for a whole batch, its rows passed as one JSON array: ``executemany``
#: lets go of the GIL and takes it back for every row, and each time it takes it back
#: the event loop, busy with the send path, must hand it over (600 hand-offs for a
#: tenth of a second's 300 messages at 3,000 msg/s).
_DELETE = "DELETE FROM docs WHERE rowid IN (SELECT value FROM json_each(?))"
_INSERT = (
    "INSERT INTO docs (rowid, text, channel, ts, user, has_link) "
    "SELECT d ->> 0, d ->> 1, d ->> 2, d ->> 3, d ->> 4, d ->> 5 "
    "FROM (SELECT value AS d FROM json_each(?))"
)


_MARK = (
    "INSERT INTO state VALUES ('watermark', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)"
)
_CLEAR: list[Statement] = [("DELETE FROM docs", None), ("DELETE FROM state", None)]


def apply_statements(docs: Sequence[Doc], removed: Sequence[int]) -> list[Statement]:
    """What writes ``docs`` (replacing any document of the same id) and removes
    ``removed``: two statements whatever their number. A NUL in a text is indexed as a
    space (the tokenizer separates words there anyway; SQLite's JSON would cut the text
    short)."""
    statements: list[Statement] = []
    ids = [d.id for d in docs] + list(removed)
    if ids:
        statements.append((_DELETE, orjson.dumps(ids).decode()))
    if docs:
        rows = [
            (d.id, d.text.replace("\0", " "), d.channel, d.ts, d.user, int(d.has_link))
            for d in docs
        ]
        statements.append((_INSERT, orjson.dumps(rows).decode()))
    return statements


def _where(query: Query, scope: Scope) -> tuple[str, list]:
    clauses = ["channel IN (SELECT value FROM json_each(?))"]
    args: list = [orjson.dumps(scope.channels).decode()]
    expression = match_expression(query)
    if expression is not None:
        clauses.insert(0, "docs MATCH ?")
        args.insert(0, expression)
    elif query.excluded:  # exclusions alone: no MATCH to hang a NOT on
        clauses.append("rowid NOT IN (SELECT rowid FROM docs WHERE docs MATCH ?)")
        args.append(" OR ".join('"' + " ".join(t) + '"' for t in query.excluded))
    if scope.users:
        clauses.append("user IN (SELECT value FROM json_each(?))")
        args.append(orjson.dumps(scope.users).decode())
    if query.after_us is not None:
        clauses.append("ts >= ?")
        args.append(query.after_us)
    if query.before_us is not None:
        clauses.append("ts < ?")
        args.append(query.before_us)
    if query.has_link:
        clauses.append("has_link = 1")
    return " AND ".join(clauses), args


def q_search(
    conn: sqlite3.Connection, query: Query, scope: Scope, by_time: bool, ascending: bool, limit: int
) -> Hits:
    where, args = _where(query, scope)
    matched = match_expression(query) is not None
    if matched and not by_time:  # FTS5's own rank (BM25, lower is better) sorts fastest
        order = "rank DESC" if ascending else "rank"
    else:
        order = "ts ASC" if ascending else "ts DESC"
    score = "-rank" if matched else "0.0"
    rows = conn.execute(
        f"SELECT channel, ts, {score} FROM docs WHERE {where} ORDER BY {order} LIMIT ?",
        [*args, limit],
    ).fetchall()
    if len(rows) < limit:  # all of them: no count needed
        total = len(rows)
    else:
        total = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM docs WHERE {where} LIMIT ?)",
            [*args, COUNT_CAP],
        ).fetchone()[0]
    return Hits(total, tuple(Hit(r[0], r[1], r[2]) for r in rows))


def q_watermark(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM state WHERE key = 'watermark'").fetchone()
    return row[0] if row else 0


class SqliteSearch:
    """:class:`~parley.search.interface.SearchIndex` on FTS5 files, one per shard."""

    def __init__(self, settings: Settings, shards: int, *, native: bool | None = None) -> None:
        """``native``: the writers on the C extension's threads (None: where it is
        built; False: the Python threads, as where it is not)."""
        root = Path(settings.data_dir)
        self._n = shards
        paths = [root / search_filename(i) for i in range(shards)]
        self._writers = [
            make_statement_writer(
                path,
                MIGRATIONS,
                synchronous="NORMAL",
                name=f"parley-search-{i}",
                nice=BACKGROUND_NICE,
                native=native,
            )
            for i, path in enumerate(paths)
        ]
        self._readers = Readers(paths, 2, "parley-search-read")

    async def start(self) -> None:
        for w in self._writers:
            w.start()

    async def close(self) -> None:
        for w in self._writers:
            await w.close()
        self._readers.close()

    async def apply(self, docs: Sequence[Doc], removed: Sequence[tuple[str, int]]) -> None:
        batches = shard_batches(docs, removed, self._n)
        await asyncio.gather(
            *(self._writers[i].run(apply_statements(d, r)) for i, (d, r) in batches.items())
        )

    async def search(
        self, query: Query, scope: Scope, *, by_time: bool, ascending: bool, limit: int
    ) -> Hits:
        groups = by_shard(scope.channels, self._n, str)
        found = await asyncio.gather(
            *(
                self._readers.run(
                    i, q_search, query, Scope(tuple(chs), scope.users), by_time, ascending, limit
                )
                for i, chs in groups.items()
            )
        )
        return merge(found, by_time or not query.terms, ascending, limit)

    async def watermark(self) -> int:
        return await self._readers.run(0, q_watermark)  # kept in the first file

    async def mark(self, complete_to: int) -> None:
        await self._writers[0].run([(_MARK, complete_to)])

    async def clear(self) -> None:
        await asyncio.gather(*(w.run(_CLEAR) for w in self._writers))
