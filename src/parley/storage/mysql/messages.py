"""Messages and reactions on MySQL shard databases, shared by every node of a fleet.

Numbering (the seq rule): a channel's ``seq`` and ``ts`` come from its row in
``channel_tails``, read ``FOR UPDATE`` inside the transaction that inserts the messages
and moves the tail. Two nodes posting to one channel therefore take turns on that row:
the second reads the tail the first committed, so ``seq`` is gap-free and ``ts``
strictly increasing in commit order, whatever the nodes' clocks say (``ts`` is the
clock, but always after the tail's). A channel with no tail row yet is numbered from
its messages; two nodes racing on its very first message collide on the primary key
``(channel, seq)`` and the loser re-runs its batch. ``client_msg_id`` is looked up
under the same lock (and is a unique key), so a retried post on any node returns the
original. Edits, deletions and reactions lock the message row they change.

Each shard has one :class:`~parley.storage.mysql.writer.GroupWriter` per process: a
batch is a handful of round trips whatever its size (lock the tails, look up
``client_msg_id``\\s and the messages it touches, then one multi-row INSERT for the new
messages, one for the tails, and the commit).

Reads: ``history``, ``replies`` and ``since`` prefer the shard's read replica
(``PARLEY_SHARD_REPLICAS``) and fall back to the primary when the replica fails (then
the replica rests for :data:`REPLICA_REST` seconds). A replica lags: ``since`` (the
resume path, which must not miss a message) checks a short page against the primary's
last ``seq`` and reads the primary when the replica is behind. ``message`` and
``last_seq`` always read the primary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from parley.config import Settings
from parley.errors import ConfigError, StorageError
from parley.ids import wall_us
from parley.metrics import Row
from parley.storage import expiry, reacted
from parley.storage.interface import AfterCommit
from parley.storage.models import (
    Message,
    Page,
    PostRequest,
    PostResult,
    ReactionChange,
    message_from_row,
)
from parley.storage.mysql import db, migrations
from parley.storage.mysql import plan as p
from parley.storage.mysql.urls import DbUrl, Topology
from parley.storage.mysql.writer import GroupWriter
from parley.storage.router import by_shard, shard_for

log = logging.getLogger(__name__)

#: Seconds a replica that failed is left alone before it is tried again.
REPLICA_REST = 5.0

COLS = (
    "id, channel, team, seq, ts, user, bot_id, text, thread_ts, subtype, client_msg_id, "
    "version, edited_ts, edited_by, deleted, reply_count, reply_users, latest_reply, rich"
)
INSERT = f"INSERT INTO messages ({COLS}) VALUES ({', '.join(['%s'] * 19)})"
_REWRITE = (
    INSERT
    + " ON DUPLICATE KEY UPDATE "
    + ", ".join(
        f"{c} = VALUES({c})"
        for c in (
            "text",
            "version",
            "edited_ts",
            "edited_by",
            "deleted",
            "reply_count",
            "reply_users",
            "latest_reply",
            "rich",
        )
    )
)
_TAILS = (
    "INSERT INTO channel_tails (channel, seq, ts) VALUES (%s, %s, %s) "
    "ON DUPLICATE KEY UPDATE seq = VALUES(seq), ts = VALUES(ts)"
)
#: What a channel's history shows: top-level messages and thread broadcasts, and a
#: deleted thread parent while it has replies (as a tombstone, ``parley.wire``).
_TOP_LEVEL = (
    "(deleted = 0 OR reply_count > 0) AND (thread_ts IS NULL OR subtype = 'thread_broadcast')"
)

#: What counts as unread: a live message the history shows (not a reply in a thread).
_UNREAD = "deleted = 0 AND (thread_ts IS NULL OR subtype = 'thread_broadcast')"


def marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def message_row(m: Message) -> tuple:
    return (
        m.id,
        m.channel,
        m.team,
        m.seq,
        m.ts,
        m.user,
        m.bot_id,
        m.text,
        m.thread_ts,
        m.subtype,
        m.client_msg_id,
        m.version,
        m.edited_ts,
        m.edited_by,
        int(m.deleted),
        m.reply_count,
        ",".join(m.reply_users),
        m.latest_reply,
        m.rich,
    )


# -- a batch: load (with locks), plan, write ------------------------------------------------


def _any_of(clause: str, n: int) -> str:
    return " OR ".join([f"({clause})"] * n)


async def _messages(cur: Any, keys: Sequence[p.Key]) -> dict[p.Key, Message]:
    await cur.execute(
        f"SELECT {COLS} FROM messages WHERE {_any_of('channel = %s AND ts = %s', len(keys))} "
        "FOR UPDATE",
        [v for k in keys for v in k],
    )
    return {(r[1], r[4]): message_from_row(r) for r in await cur.fetchall()}


async def _marks(cur: Any, keys: Sequence[p.Key]) -> dict[p.Key, list[p.Mark]]:
    await cur.execute(
        "SELECT channel, ts, name, user, added FROM reactions "
        f"WHERE {_any_of('channel = %s AND ts = %s', len(keys))}",
        [v for k in keys for v in k],
    )
    out: dict[p.Key, list[p.Mark]] = {}
    for channel, ts, name, user, added in await cur.fetchall():
        out.setdefault((channel, ts), []).append((name, user, added))
    return out


async def load(cur: Any, ops: Sequence[p.Op]) -> p.Loaded:
    """Everything ``ops`` read, row-locked: the tails, then the messages they change."""
    need = p.needs(ops)
    loaded = p.Loaded()
    if need.channels:
        await cur.execute(
            "SELECT channel, seq, ts FROM channel_tails "
            f"WHERE channel IN ({marks(len(need.channels))}) FOR UPDATE",
            need.channels,
        )
        loaded.tails = {c: (s, t) for c, s, t in await cur.fetchall()}
        missing = [c for c in need.channels if c not in loaded.tails]
        if missing:  # new channels (or tails lost): numbered from their messages
            await cur.execute(
                "SELECT channel, MAX(seq), MAX(ts) FROM messages "
                f"WHERE channel IN ({marks(len(missing))}) GROUP BY channel",
                missing,
            )
            loaded.tails.update({c: (s, t) for c, s, t in await cur.fetchall()})
    if need.client_ids:
        clause = "channel = %s AND user = %s AND client_msg_id = %s"
        await cur.execute(
            f"SELECT {COLS} FROM messages WHERE {_any_of(clause, len(need.client_ids))}",
            [v for k in need.client_ids for v in k],
        )
        for r in await cur.fetchall():
            loaded.client_ids[(r[1], r[5], r[10])] = message_from_row(r)
    if need.keys:
        loaded.messages = await _messages(cur, need.keys)
        more = p.followups(ops, loaded.messages)
        if more:
            loaded.messages.update(await _messages(cur, more))
        if loaded.messages:
            loaded.reactions = await _marks(cur, sorted(loaded.messages))
    return loaded


async def write(cur: Any, done: p.Plan) -> None:
    """The rows ``done`` changed: a multi-row statement per kind."""
    if done.inserts:
        await cur.executemany(INSERT, [message_row(m) for m in done.inserts])
    if done.rewrites:
        await cur.executemany(_REWRITE, [message_row(m) for m in done.rewrites])
    if done.tails:
        await cur.executemany(_TAILS, [(c, s, t) for c, (s, t) in done.tails.items()])
    if done.reactions_added:
        await cur.executemany(
            "INSERT INTO reactions (channel, ts, name, user, added) VALUES (%s, %s, %s, %s, %s)",
            done.reactions_added,
        )
    if done.reactions_removed:
        clause = "channel = %s AND ts = %s AND name = %s AND user = %s"
        await cur.execute(
            f"DELETE FROM reactions WHERE {_any_of(clause, len(done.reactions_removed))}",
            [v for k in done.reactions_removed for v in k],
        )


async def tx_expire(cur: Any, channel: str, before: int, limit: int) -> expiry.Expired:
    """The shard's side of :meth:`MysqlMessageStore.expire`, in one transaction. It locks
    the channel's tail row first, as every post does, so a reply cannot land in a thread
    being removed: it waits, then finds no parent (``thread_not_found``)."""
    await cur.execute("SELECT seq FROM channel_tails WHERE channel = %s FOR UPDATE", (channel,))
    row = await cur.fetchone()
    if row is None:
        await cur.execute("SELECT MAX(seq) FROM messages WHERE channel = %s", (channel,))
        row = await cur.fetchone()
    tail_seq = int(row[0] or 0)
    if not tail_seq:
        return expiry.Expired()
    await cur.execute(
        expiry.THREADS.format(p="%s") + " FOR UPDATE", (channel, before, before, tail_seq, limit)
    )
    threads = await cur.fetchall()
    gone = [(int(ts), int(mid)) for _seq, ts, mid, _latest in threads]
    for _seq, ts, _mid, latest in threads:
        if latest is not None:
            await cur.execute(
                expiry.REPLIES.format(p="%s") + " FOR UPDATE", (channel, ts, tail_seq)
            )
            gone += [(int(r_ts), int(r_id)) for _s, r_ts, r_id in await cur.fetchall()]
    for chunk in expiry.chunks([ts for ts, _ in gone]):
        await cur.execute(expiry.delete_messages(len(chunk), "%s"), (channel, *chunk))
        await cur.execute(expiry.delete_reactions(len(chunk), "%s"), (channel, *chunk))
    await cur.execute(expiry.TAIL.format(p="%s") + " FOR UPDATE", (channel, tail_seq, before))
    tail = await cur.fetchone()
    if tail is not None:
        await cur.execute(expiry.EMPTY.format(p="%s"), (channel, tail[0]))
        await cur.execute(expiry.delete_reactions(1, "%s"), (channel, tail[0]))
        gone.append((int(tail[0]), int(tail[1])))
    return expiry.Expired(tuple(gone), more=len(threads) == limit)


async def q_expiring(cur: Any, channel: str, before: int) -> bool:
    """Whether :func:`tx_expire` would find anything (a read that takes no lock)."""
    await cur.execute("SELECT MAX(seq) FROM messages WHERE channel = %s", (channel,))
    tail_seq = int((await cur.fetchone())[0] or 0)
    if not tail_seq:
        return False
    await cur.execute(expiry.THREADS.format(p="%s"), (channel, before, before, tail_seq, 1))
    if await cur.fetchone() is not None:
        return True
    await cur.execute(expiry.TAIL.format(p="%s"), (channel, tail_seq, before))
    return await cur.fetchone() is not None


# -- reads ---------------------------------------------------------------------------------


async def _with_reactions(cur: Any, rows: Sequence[Sequence]) -> list[Message]:
    if not rows:
        return []
    found = await _marks(cur, [(r[1], r[4]) for r in rows])
    out = []
    for r in rows:
        m = message_from_row(r)
        got = found.get((m.channel, m.ts))
        out.append(msgspec.structs.replace(m, reactions=p.reactions_of(got)) if got else m)
    return out


async def _page(cur: Any, limit: int) -> Page:
    rows = await cur.fetchall()
    return Page(tuple(await _with_reactions(cur, rows[:limit])), len(rows) > limit)


async def q_message(cur: Any, channel: str, ts: int) -> Message | None:
    await cur.execute(f"SELECT {COLS} FROM messages WHERE channel = %s AND ts = %s", (channel, ts))
    row = await cur.fetchone()
    if row is None or row[14]:
        return None
    return (await _with_reactions(cur, [row]))[0]


async def q_history(cur: Any, channel: str, before: int, after: int, limit: int) -> Page:
    await cur.execute(
        f"SELECT {COLS} FROM messages WHERE channel = %s AND ts < %s AND ts > %s "
        f"AND {_TOP_LEVEL} ORDER BY ts DESC LIMIT %s",
        (channel, before, after, limit + 1),
    )
    return await _page(cur, limit)


async def q_replies(
    cur: Any, channel: str, thread_ts: int, after: int, before: int, limit: int
) -> Page:
    await cur.execute(
        f"SELECT {COLS} FROM messages WHERE channel = %s AND thread_ts = %s AND ts > %s "
        "AND ts < %s AND deleted = 0 ORDER BY ts LIMIT %s",
        (channel, thread_ts, after, before, limit + 1),
    )
    return await _page(cur, limit)


async def q_unread(cur: Any, channel: str, after: int, not_by: str, cap: int) -> int:
    await cur.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE channel = %s AND ts > %s "
        f"AND {_UNREAD} AND user != %s LIMIT %s) AS unread",
        (channel, after, not_by, cap),
    )
    row = await cur.fetchone()
    return int(row[0])


async def q_last_seq(cur: Any, channel: str) -> int:
    await cur.execute("SELECT MAX(seq) FROM messages WHERE channel = %s", (channel,))
    row = await cur.fetchone()
    return int(row[0] or 0)


async def q_recent_tails(cur: Any, after_ts: int) -> list[tuple[str, int, int]]:
    await cur.execute("SELECT channel, seq, ts FROM channel_tails WHERE ts > %s", (after_ts,))
    return [(r[0], int(r[1]), int(r[2])) for r in await cur.fetchall()]


async def q_messages_at(cur: Any, keys: list[tuple[str, int]]) -> list[Message]:
    out = []
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        await cur.execute(
            f"SELECT {COLS} FROM messages WHERE {_any_of('channel = %s AND ts = %s', len(chunk))}",
            [v for key in chunk for v in key],
        )
        out += [message_from_row(r) for r in await cur.fetchall()]
    return out


_REACTED = reacted.query("%s")


async def q_reacted(cur: Any, user: str, before: reacted.Mark | None, limit: int) -> list:
    await cur.execute(_REACTED, reacted.params(user, before, limit))
    return [(int(r[0]), r[1], int(r[2])) for r in await cur.fetchall()]


async def q_changed_since(cur: Any, after_ts: int) -> list[tuple[str, int]]:
    await cur.execute(
        "SELECT channel, ts FROM messages WHERE ts > %s OR edited_ts > %s", (after_ts, after_ts)
    )
    return [(r[0], int(r[1])) for r in await cur.fetchall()]


async def q_since(cur: Any, channel: str, seq: int, limit: int) -> Page:
    await cur.execute(
        f"SELECT {COLS} FROM messages WHERE channel = %s AND seq > %s ORDER BY seq LIMIT %s",
        (channel, seq, limit + 1),
    )
    return await _page(cur, limit)


class ShardReads:
    """Where one shard's reads go: the replica while it answers, else the primary."""

    def __init__(
        self,
        primary: db.Pool,
        replica: db.Pool | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self._monotonic = monotonic
        self._rest_until = 0.0

    async def preferred(self, fn: Callable, *args: Any) -> tuple[Any, bool]:
        """``fn``'s result and whether the replica gave it."""
        if self.replica is not None and self._monotonic() >= self._rest_until:
            try:
                return await self.replica.run(fn, *args), True
            except StorageError as exc:
                self._rest_until = self._monotonic() + REPLICA_REST
                log.warning(
                    "replica %s failed, reading the primary for %g s: %s",
                    self.replica.url.redacted(),
                    REPLICA_REST,
                    exc,
                )
        return await self.primary.run(fn, *args), False

    async def close(self) -> None:
        await self.primary.close()
        if self.replica is not None:
            await self.replica.close()


# -- the backend ---------------------------------------------------------------------------


async def check_index(url: DbUrl, index: int, *, timeout: float, claim: bool) -> None:
    """Checks that the shard database at ``url`` is shard ``index``; with ``claim``, a
    database that is no shard yet becomes it. Another shard's database is a ConfigError
    (the shard URLs were reordered), and so is an unclaimed one without ``claim`` (a
    wrong URL: the messages placed on that shard are elsewhere)."""

    async def read(cur: Any) -> int | None:
        if claim:
            await cur.execute(
                "INSERT INTO parley_info (name, value) VALUES ('shard_index', %s) "
                "ON DUPLICATE KEY UPDATE name = name",
                (index,),
            )
        await cur.execute("SELECT value FROM parley_info WHERE name = 'shard_index'")
        row = await cur.fetchone()
        return int(row[0]) if row else None

    pool = db.Pool(url, size=1, timeout=timeout)
    try:
        held = await pool.transaction(read)
    finally:
        await pool.close()
    if held is None:
        raise ConfigError(
            f"PARLEY_SHARDS entry {index + 1} ({url.redacted()}) holds no Parley shard, but "
            "the directory records messages placed on it: is the URL right?"
        )
    if held != index:
        raise ConfigError(
            f"PARLEY_SHARDS entry {index + 1} ({url.redacted()}) holds shard {held + 1}: "
            "the shard URLs must keep their order"
        )


class MysqlMessageStore:
    """:class:`~parley.storage.interface.MessageStore` on the shard databases of
    ``topology``; placement is :func:`~parley.storage.router.shard_for` over their count."""

    def __init__(
        self,
        settings: Settings,
        topology: Topology,
        *,
        clock_us: Callable[[], int] = wall_us,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topology = topology
        self._n = len(topology.shards)
        self._timeout = settings.mysql_timeout
        self._clock_us = clock_us
        self._writers = [
            GroupWriter(
                url,
                self._run,
                timeout=settings.mysql_timeout,
                max_batch=settings.commit_batch,
                name=f"parley-mysql-shard-{i}",
            )
            for i, url in enumerate(topology.shards)
        ]
        self._reads = [
            ShardReads(
                db.Pool(url, size=settings.mysql_pool, timeout=settings.mysql_timeout),
                db.Pool(replica, size=settings.mysql_pool, timeout=settings.mysql_timeout)
                if replica is not None
                else None,
                monotonic=monotonic,
            )
            for url, replica in zip(topology.shards, topology.replicas, strict=True)
        ]

    async def start(self, *, claim: bool = True) -> None:
        """Creates and migrates each shard database as needed, checks it is the shard its
        position says (``claim``: a new database becomes it, see :func:`check_index`),
        and starts the writers."""
        for i, url in enumerate(self.topology.shards):
            await db.prepare(url, "shard", migrations.SHARD, timeout=self._timeout)
            await check_index(url, i, timeout=self._timeout, claim=claim)
        for w in self._writers:
            await w.start()

    async def close(self) -> None:
        for w in self._writers:
            await w.close()
        for r in self._reads:
            await r.close()

    def metric_rows(self) -> list[Row]:
        return []  # MariaDB syncs its own log; its server reports it

    async def _run(self, cur: Any, ops: list[p.Op]) -> list[tuple[bool, Any]]:
        loaded = await load(cur, ops)
        done = p.plan(ops, loaded, self._clock_us)
        if done.writes:
            await write(cur, done)
        return done.results

    def _write(self, channel: str, op: p.Op, after_commit: AfterCommit | None):
        return self._writers[shard_for(channel, self._n)].submit(op, after_commit)

    async def post(self, req: PostRequest, after_commit: AfterCommit | None = None) -> PostResult:
        return await self._write(req.channel, p.Post(req), after_commit)

    async def update(
        self,
        channel: str,
        ts: int,
        user: str,
        text: str,
        expected_version: int | None,
        after_commit: AfterCommit | None = None,
        *,
        rich_patch: str | None = None,
        edited: bool = True,
    ) -> Message:
        op = p.Update(channel, ts, user, text, expected_version, rich_patch, edited)
        return await self._write(channel, op, after_commit)

    async def delete(
        self, channel: str, ts: int, user: str, after_commit: AfterCommit | None = None
    ) -> Message:
        return await self._write(channel, p.Delete(channel, ts, user), after_commit)

    async def react(
        self,
        channel: str,
        ts: int,
        user: str,
        name: str,
        add: bool,
        after_commit: AfterCommit | None = None,
    ) -> ReactionChange:
        return await self._write(channel, p.React(channel, ts, user, name, add), after_commit)

    @property
    def shards(self) -> int:
        return self._n

    def primary(self, index: int) -> db.Pool:
        """The connection pool of shard ``index``'s primary (for the search engine)."""
        return self._reads[index].primary

    def _shard(self, channel: str) -> ShardReads:
        return self._reads[shard_for(channel, self._n)]

    async def expire(self, channel: str, before: int, limit: int) -> expiry.Expired:
        primary = self._shard(channel).primary
        if not await primary.run(q_expiring, channel, before):
            return expiry.Expired()
        return await primary.transaction(tx_expire, channel, before, limit)

    async def message(self, channel: str, ts: int) -> Message | None:
        return await self._shard(channel).primary.run(q_message, channel, ts)

    async def history(self, channel: str, *, before: int, after: int, limit: int) -> Page:
        page, _ = await self._shard(channel).preferred(q_history, channel, before, after, limit)
        return page

    async def replies(
        self, channel: str, thread_ts: int, *, after: int, before: int, limit: int
    ) -> Page:
        reads = self._shard(channel)
        page, _ = await reads.preferred(q_replies, channel, thread_ts, after, before, limit)
        return page

    async def last_seq(self, channel: str) -> int:
        return await self._shard(channel).primary.run(q_last_seq, channel)

    async def unread(self, channel: str, after_ts: int, not_by: str, cap: int) -> int:
        count, _ = await self._shard(channel).preferred(q_unread, channel, after_ts, not_by, cap)
        return count

    async def recent_tails(self, after_ts: int) -> list[tuple[str, int, int]]:
        """From each primary's ``channel_tails`` (one row per channel: a scan, every few
        seconds, by the republishing worker)."""
        out: list[tuple[str, int, int]] = []
        for reads in self._reads:
            out += await reads.primary.run(q_recent_tails, after_ts)
        return out

    async def messages_at(self, keys: Sequence[tuple[str, int]]) -> list[Message]:
        """From the primaries: the indexer must see the commit it was told of."""
        groups = by_shard(keys, self._n, lambda key: key[0])
        pages = await asyncio.gather(
            *(self._reads[i].primary.run(q_messages_at, ks) for i, ks in groups.items())
        )
        return [m for page in pages for m in page]

    async def changed_since(self, after_ts: int) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for reads in self._reads:
            out += await reads.primary.run(q_changed_since, after_ts)
        return out

    async def reacted(self, user: str, before: reacted.Mark | None, limit: int) -> list:
        pages = await asyncio.gather(
            *(reads.primary.run(q_reacted, user, before, limit) for reads in self._reads)
        )
        return reacted.merged(pages, limit)

    async def since(self, channel: str, seq: int, limit: int) -> Page:
        reads = self._shard(channel)
        page, replica = await reads.preferred(q_since, channel, seq, limit)
        if replica and not page.has_more:  # a short page from a replica may be a lagging one
            got = page.rows[-1].seq if page.rows else seq
            if await reads.primary.run(q_last_seq, channel) > got:
                return await reads.primary.run(q_since, channel, seq, limit)
        return page
