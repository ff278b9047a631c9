"""The search engine on MariaDB/MySQL shards: an InnoDB FULLTEXT index in each shard.

Documents live in ``search_docs`` beside the shard's messages (schema v3), written by
the indexing worker in one transaction per shard and batch, never by the send path.
Queries use boolean mode: ``+word*`` for a word (it matches the words it starts),
``+"a phrase"``, ``-word``; the relevance is InnoDB's. InnoDB does not index words
shorter than ``innodb_ft_min_token_size`` (3 by default): such words are matched with
``LIKE`` on the candidates instead (and every shown hit is checked against the query
in its current text, ``parley.search.service``). The index is built without a stopword
list, so "the" or "is" are words like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from parley.search.interface import COUNT_CAP, Doc, Hit, Hits, Scope, merge, shard_batches
from parley.search.query import Query
from parley.storage.router import by_shard

#: InnoDB's default ``innodb_ft_min_token_size``: shorter words are not in the index.
MIN_TOKEN = 3


def _indexed(term: tuple[str, ...]) -> bool:
    return all(len(w) >= MIN_TOKEN for w in term)


def _quoted(term: tuple[str, ...]) -> str:
    return term[0] if len(term) == 1 else '"' + " ".join(term) + '"'


def boolean_expression(query: Query) -> tuple[str | None, list[str]]:
    """The ``MATCH ... AGAINST`` text for ``query`` (``None`` if no term can use the
    index), and the ``LIKE`` patterns for the terms that cannot."""
    parts: list[str] = []
    likes: list[str] = []
    for term in query.terms:
        if _indexed(term):
            parts.append(f"+{term[0]}*" if len(term) == 1 else f"+{_quoted(term)}")
        else:
            likes.append("%" + "%".join(term) + "%")
    if parts:
        parts += [f"-{_quoted(t)}" for t in query.excluded if _indexed(t)]
    return (" ".join(parts) if parts else None), likes


def _exclusions(query: Query, expression: str | None) -> tuple[list[str], list]:
    """Clauses for the excluded terms the expression does not carry."""
    clauses: list[str] = []
    args: list = []
    indexed = [t for t in query.excluded if _indexed(t)]
    if expression is None and indexed:
        clauses.append("NOT MATCH (text) AGAINST (%s IN BOOLEAN MODE)")
        args.append(" ".join(_quoted(t) for t in indexed))
    for term in query.excluded:
        if not _indexed(term):
            clauses.append("text NOT LIKE %s")
            args.append("%" + "%".join(term) + "%")
    return clauses, args


def _in(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _where(query: Query, scope: Scope, expression: str | None, likes: list[str]):
    clauses = [f"channel IN ({_in(scope.channels)})"]
    args: list[Any] = list(scope.channels)
    if expression is not None:
        clauses.append("MATCH (text) AGAINST (%s IN BOOLEAN MODE)")
        args.append(expression)
    for pattern in likes:
        clauses.append("text LIKE %s")
        args.append(pattern)
    excluding, excluded_args = _exclusions(query, expression)
    clauses += excluding
    args += excluded_args
    if scope.users:
        clauses.append(f"user IN ({_in(scope.users)})")
        args += scope.users
    if query.after_us is not None:
        clauses.append("ts >= %s")
        args.append(query.after_us)
    if query.before_us is not None:
        clauses.append("ts < %s")
        args.append(query.before_us)
    if query.has_link:
        clauses.append("has_link = 1")
    return " AND ".join(clauses), args


async def q_search(
    cur: Any, query: Query, scope: Scope, by_time: bool, ascending: bool, limit: int
) -> Hits:
    expression, likes = boolean_expression(query)
    where, args = _where(query, scope, expression, likes)
    direction = "ASC" if ascending else "DESC"
    if expression is not None:
        score, score_args = "MATCH (text) AGAINST (%s IN BOOLEAN MODE)", [expression]
    else:
        score, score_args = "0.0", []
    order = f"ts {direction}" if by_time or expression is None else f"score {direction}, ts DESC"
    await cur.execute(
        f"SELECT channel, ts, {score} AS score FROM search_docs WHERE {where} "
        f"ORDER BY {order} LIMIT %s",
        [*score_args, *args, limit],
    )
    rows = await cur.fetchall()
    if len(rows) < limit:  # all of them: no count needed
        total = len(rows)
    else:
        await cur.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM search_docs WHERE {where} LIMIT %s) AS m",
            [*args, COUNT_CAP],
        )
        total = int((await cur.fetchone())[0])
    return Hits(total, tuple(Hit(r[0], int(r[1]), float(r[2])) for r in rows))


async def q_apply(cur: Any, docs: list[Doc], removed: list[int]) -> None:
    if removed:
        await cur.execute(f"DELETE FROM search_docs WHERE id IN ({_in(removed)})", removed)
    if docs:
        await cur.execute(
            "INSERT INTO search_docs (id, channel, ts, user, text, has_link) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(docs))
            + " ON DUPLICATE KEY UPDATE text = VALUES(text), has_link = VALUES(has_link)",
            [v for d in docs for v in (d.id, d.channel, d.ts, d.user, d.text, int(d.has_link))],
        )


async def q_mark(cur: Any, complete_to: int) -> None:
    await cur.execute(
        "INSERT INTO search_state VALUES ('watermark', %s) "
        "ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value))",
        (complete_to,),
    )


async def q_watermark(cur: Any) -> int:
    await cur.execute("SELECT value FROM search_state WHERE name = 'watermark'")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def q_clear(cur: Any) -> None:
    await cur.execute("DELETE FROM search_docs")
    await cur.execute("DELETE FROM search_state")


class MysqlSearch:
    """:class:`~parley.search.interface.SearchIndex` in the shards of ``store`` (a
    :class:`~parley.storage.mysql.messages.MysqlMessageStore`, whose primaries it uses)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._n = store.shards

    async def start(self) -> None:
        pass  # the tables come with the shard schema

    async def close(self) -> None:
        pass  # the pools are the store's

    async def apply(self, docs: Sequence[Doc], removed: Sequence[tuple[str, int]]) -> None:
        batches = shard_batches(docs, removed, self._n)
        await asyncio.gather(
            *(self._store.primary(i).transaction(q_apply, d, r) for i, (d, r) in batches.items())
        )

    async def search(
        self, query: Query, scope: Scope, *, by_time: bool, ascending: bool, limit: int
    ) -> Hits:
        groups = by_shard(scope.channels, self._n, str)
        found = await asyncio.gather(
            *(
                self._store.primary(i).run(
                    q_search,
                    query,
                    Scope(tuple(chs), scope.users),
                    by_time,
                    ascending,
                    limit,
                )
                for i, chs in groups.items()
            )
        )
        expression, _ = boolean_expression(query)
        return merge(found, by_time or expression is None, ascending, limit)

    async def watermark(self) -> int:
        return await self._store.primary(0).run(q_watermark)  # kept in the first shard

    async def mark(self, complete_to: int) -> None:
        await self._store.primary(0).run(q_mark, complete_to)

    async def clear(self) -> None:
        await asyncio.gather(*(self._store.primary(i).transaction(q_clear) for i in range(self._n)))
