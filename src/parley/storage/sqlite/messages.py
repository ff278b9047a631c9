"""Messages and reactions on SQLite shards (``shard-<i>.db``), one writer each
(:class:`~parley.storage.sqlite.inline.LoopWriter`, on the event loop).

A shard's writer is the only place a channel's ``seq`` and ``ts`` are assigned, so
they are gap-free and increasing in commit order without any lock: ops run one at a
time per shard, and a channel lives on exactly one shard.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from parley import content
from parley.config import Settings
from parley.errors import ApiError, Code
from parley.ids import next_channel_ts, wall_us
from parley.metrics import Row, cumulative, histogram
from parley.storage import expiry, reacted
from parley.storage.interface import AfterCommit
from parley.storage.models import (
    CHANNEL_NOTICES,
    Message,
    Page,
    PostRequest,
    PostResult,
    Reaction,
    ReactionChange,
    message_from_row,
)
from parley.storage.router import by_shard, shard_for
from parley.storage.sqlite import migrations
from parley.storage.sqlite.db import Readers
from parley.storage.sqlite.inline import LoopWriter
from parley.storage.sqlite.lock import DataDirLock
from parley.storage.sqlite.syncer import SYNC_BOUNDS, make_syncer

_COLS = (
    "id, channel, team, seq, ts, user, bot_id, text, thread_ts, subtype, client_msg_id, "
    "version, edited_ts, edited_by, deleted, reply_count, reply_users, latest_reply, rich"
)
_COLS_M = ", ".join(f"m.{c.strip()}" for c in _COLS.split(","))
#: A new message: what a post sets is bound, what every new message starts with is in
#: the statement (version 0, not edited, not deleted, no replies), so fewer values bind.
_INSERT = (
    f"INSERT INTO messages ({_COLS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, 0, 0, '', NULL, ?)"
)
_BY_TS = f"SELECT {_COLS} FROM messages WHERE channel = ? AND ts = ?"
#: What a channel's history shows: top-level messages and thread broadcasts, and a
#: deleted thread parent while it has replies (as a tombstone, ``parley.wire``).
_TOP_LEVEL = (
    "(deleted = 0 OR reply_count > 0) AND (thread_ts IS NULL OR subtype = 'thread_broadcast')"
)

#: What counts as unread: a live message the history shows (not a reply in a thread).
_UNREAD = "deleted = 0 AND (thread_ts IS NULL OR subtype = 'thread_broadcast')"


def shard_filename(index: int) -> str:
    return f"shard-{index}.db"


def _row(r: tuple, reactions: tuple[Reaction, ...] = ()) -> Message:
    message = message_from_row(r)
    return msgspec.structs.replace(message, reactions=reactions) if reactions else message


class ShardState:
    """The writer's cache of each channel's last ``(seq, ts)``; dropped on rollback."""

    def __init__(self, clock_us: Callable[[], int]) -> None:
        self.clock_us = clock_us
        self.last: dict[str, tuple[int, int]] = {}

    def reset(self) -> None:
        self.last.clear()

    def tail(self, conn: sqlite3.Connection, channel: str) -> tuple[int, int]:
        cached = self.last.get(channel)
        if cached is None:
            row = conn.execute(
                "SELECT seq, ts FROM messages WHERE channel = ? ORDER BY seq DESC LIMIT 1",
                (channel,),
            ).fetchone()
            cached = self.last[channel] = (row[0], row[1]) if row else (0, 0)
        return cached


def _get(conn: sqlite3.Connection, channel: str, ts: int) -> Message | None:
    row = conn.execute(_BY_TS, (channel, ts)).fetchone()
    return _row(row) if row and not row[14] else None


def _own(conn: sqlite3.Connection, channel: str, ts: int, user: str, not_yours: Code) -> Message:
    """The live message at ``ts`` if ``user`` wrote it (and not the server, for them:
    :data:`.CHANNEL_NOTICES`); ``message_not_found`` or ``not_yours``."""
    msg = _get(conn, channel, ts)
    if msg is None:
        raise ApiError(Code.MESSAGE_NOT_FOUND)
    if msg.user != user or msg.subtype in CHANNEL_NOTICES:
        raise ApiError(not_yours)
    return msg


# -- write ops (the shard's writer) -------------------------------------------------------


def op_post(conn: sqlite3.Connection, state: ShardState, req: PostRequest) -> PostResult:
    if req.client_msg_id is not None:
        row = conn.execute(
            f"SELECT {_COLS} FROM messages WHERE channel = ? AND user = ? AND client_msg_id = ?",
            (req.channel, req.user, req.client_msg_id),
        ).fetchone()
        if row is not None:
            return PostResult(_row(row), duplicate=True)
    parent = None
    thread_ts = req.thread_ts
    if thread_ts is not None:
        parent = _get(conn, req.channel, thread_ts)
        if parent is None:
            raise ApiError(Code.THREAD_NOT_FOUND)
        if parent.thread_ts is not None:  # a reply to a reply joins the parent's thread
            thread_ts = parent.thread_ts
            parent = _get(conn, req.channel, thread_ts)
            if parent is None:
                raise ApiError(Code.THREAD_NOT_FOUND)
    last_seq, last_ts = state.tail(conn, req.channel)
    seq, ts = last_seq + 1, next_channel_ts(state.clock_us(), last_ts)
    msg = req.message(seq, ts, thread_ts)
    conn.execute(
        _INSERT,
        (
            msg.id,
            msg.channel,
            msg.team,
            seq,
            ts,
            msg.user,
            msg.bot_id,
            msg.text,
            thread_ts,
            msg.subtype,
            msg.client_msg_id,
            req.rich,
        ),
    )
    state.last[req.channel] = (seq, ts)
    if parent is not None:
        users = (
            parent.reply_users
            if req.user in parent.reply_users
            else (*parent.reply_users, req.user)
        )
        conn.execute(
            "UPDATE messages SET reply_count = reply_count + 1, latest_reply = ?, "
            "reply_users = ? WHERE channel = ? AND ts = ?",
            (ts, ",".join(users), req.channel, parent.ts),
        )
        parent = _with_reactions(conn, _get(conn, req.channel, parent.ts))
    return PostResult(msg, parent=parent)


def op_update(
    conn: sqlite3.Connection,
    state: ShardState,
    channel: str,
    ts: int,
    user: str,
    text: str,
    expected_version: int | None,
    rich_patch: str | None = None,
    edited: bool = True,
) -> Message:
    msg = _own(conn, channel, ts, user, Code.CANT_UPDATE_MESSAGE)
    if expected_version is not None and expected_version != msg.version:
        raise ApiError(Code.EDIT_CONFLICT, data={"version": msg.version})
    when, who = (state.clock_us(), user) if edited else (msg.edited_ts, msg.edited_by)
    conn.execute(
        "UPDATE messages SET text = ?, version = version + 1, edited_ts = ?, "
        "edited_by = ?, rich = ? WHERE channel = ? AND ts = ?",
        (text, when, who, content.merge(msg.rich, rich_patch), channel, ts),
    )
    return _with_reactions(conn, _get(conn, channel, ts))


def op_delete(
    conn: sqlite3.Connection, state: ShardState, channel: str, ts: int, user: str
) -> Message:
    msg = _own(conn, channel, ts, user, Code.CANT_DELETE_MESSAGE)
    conn.execute(
        "UPDATE messages SET deleted = 1, text = '', rich = NULL, version = version + 1, "
        "edited_ts = ? WHERE channel = ? AND ts = ?",
        (state.clock_us(), channel, ts),
    )
    conn.execute("DELETE FROM reactions WHERE channel = ? AND ts = ?", (channel, ts))
    if msg.thread_ts is not None:
        conn.execute(
            "UPDATE messages SET reply_count = MAX(reply_count - 1, 0) "
            "WHERE channel = ? AND ts = ?",
            (channel, msg.thread_ts),
        )
    return msg


def op_expire(
    conn: sqlite3.Connection, state: ShardState, channel: str, before: int, limit: int
) -> expiry.Expired:
    """Removes up to ``limit`` of the channel's threads written before ``before``, and
    empties its newest message when that is older too (:mod:`parley.storage.expiry`)."""
    tail_seq, _ = state.tail(conn, channel)
    threads = conn.execute(
        expiry.THREADS.format(p="?"), (channel, before, before, tail_seq, limit)
    ).fetchall()
    gone = [(ts, mid) for _seq, ts, mid, _latest in threads]
    for _seq, ts, _mid, latest in threads:
        if latest is not None:
            replies = conn.execute(expiry.REPLIES.format(p="?"), (channel, ts, tail_seq))
            gone += [(r_ts, r_id) for _s, r_ts, r_id in replies]
    for chunk in expiry.chunks([ts for ts, _ in gone]):
        conn.execute(expiry.delete_messages(len(chunk), "?"), (channel, *chunk))
        conn.execute(expiry.delete_reactions(len(chunk), "?"), (channel, *chunk))
    tail = conn.execute(expiry.TAIL.format(p="?"), (channel, tail_seq, before)).fetchone()
    if tail is not None:
        conn.execute(expiry.EMPTY.format(p="?"), (channel, tail[0]))
        conn.execute(expiry.delete_reactions(1, "?"), (channel, tail[0]))
        gone.append((tail[0], tail[1]))
    return expiry.Expired(tuple(gone), more=len(threads) == limit)


def q_expiring(conn: sqlite3.Connection, channel: str, before: int) -> bool:
    """Whether :func:`op_expire` would find anything (a read, so a channel with nothing
    to expire never takes its shard's writer)."""
    tail = conn.execute(
        "SELECT seq FROM messages WHERE channel = ? ORDER BY seq DESC LIMIT 1", (channel,)
    ).fetchone()
    if tail is None:
        return False
    found = conn.execute(
        expiry.THREADS.format(p="?"), (channel, before, before, tail[0], 1)
    ).fetchone()
    return found is not None or (
        conn.execute(expiry.TAIL.format(p="?"), (channel, tail[0], before)).fetchone() is not None
    )


def op_react(
    conn: sqlite3.Connection,
    state: ShardState,
    channel: str,
    ts: int,
    user: str,
    name: str,
    add: bool,
) -> ReactionChange:
    msg = _get(conn, channel, ts)
    if msg is None:
        raise ApiError(Code.MESSAGE_NOT_FOUND)
    now = state.clock_us()
    if add:
        cur = conn.execute(
            "INSERT OR IGNORE INTO reactions (channel, ts, name, user, added) "
            "VALUES (?, ?, ?, ?, ?)",
            (channel, ts, name, user, now),
        )
        if not cur.rowcount:
            raise ApiError(Code.ALREADY_REACTED)
    else:
        cur = conn.execute(
            "DELETE FROM reactions WHERE channel = ? AND ts = ? AND name = ? AND user = ?",
            (channel, ts, name, user),
        )
        if not cur.rowcount:
            raise ApiError(Code.NO_REACTION)
    return ReactionChange(_with_reactions(conn, msg), name, user, add, now)


# -- read ops (reader threads) -------------------------------------------------------------


def _reactions(
    conn: sqlite3.Connection, channel: str, stamps: list[int]
) -> dict[int, tuple[Reaction, ...]]:
    if not stamps:
        return {}
    marks = ",".join("?" * len(stamps))
    grouped: dict[int, dict[str, list[str]]] = {}
    for ts, name, user in conn.execute(
        f"SELECT ts, name, user FROM reactions WHERE channel = ? AND ts IN ({marks}) "
        "ORDER BY ts, added, name, user",
        (channel, *stamps),
    ):
        grouped.setdefault(ts, {}).setdefault(name, []).append(user)
    return {
        ts: tuple(Reaction(n, tuple(u)) for n, u in names.items()) for ts, names in grouped.items()
    }


def _with_reactions(conn: sqlite3.Connection, msg: Message | None) -> Message | None:
    if msg is None:
        return None
    return msgspec.structs.replace(
        msg, reactions=_reactions(conn, msg.channel, [msg.ts]).get(msg.ts, ())
    )


def _page(conn: sqlite3.Connection, channel: str, rows: list[tuple], limit: int) -> Page:
    rows_in = rows[:limit]
    found = _reactions(conn, channel, [r[4] for r in rows_in])
    return Page(tuple(_row(r, found.get(r[4], ())) for r in rows_in), len(rows) > limit)


def q_message(conn: sqlite3.Connection, channel: str, ts: int) -> Message | None:
    return _with_reactions(conn, _get(conn, channel, ts))


def q_history(conn: sqlite3.Connection, channel: str, before: int, after: int, limit: int) -> Page:
    rows = conn.execute(
        f"SELECT {_COLS} FROM messages WHERE channel = ? AND ts < ? AND ts > ? "
        f"AND {_TOP_LEVEL} ORDER BY ts DESC LIMIT ?",
        (channel, before, after, limit + 1),
    ).fetchall()
    return _page(conn, channel, rows, limit)


def q_replies(
    conn: sqlite3.Connection, channel: str, thread_ts: int, after: int, before: int, limit: int
) -> Page:
    rows = conn.execute(
        f"SELECT {_COLS} FROM messages WHERE channel = ? AND thread_ts = ? AND ts > ? "
        "AND ts < ? AND deleted = 0 ORDER BY ts LIMIT ?",
        (channel, thread_ts, after, before, limit + 1),
    ).fetchall()
    return _page(conn, channel, rows, limit)


def q_unread(conn: sqlite3.Connection, channel: str, after: int, not_by: str, cap: int) -> int:
    row = conn.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE channel = ? AND ts > ? "
        f"AND {_UNREAD} AND user != ? LIMIT ?)",
        (channel, after, not_by, cap),
    ).fetchone()
    return row[0]


def q_last_seq(conn: sqlite3.Connection, channel: str) -> int:
    row = conn.execute("SELECT MAX(seq) FROM messages WHERE channel = ?", (channel,)).fetchone()
    return row[0] or 0


def q_messages_at(conn: sqlite3.Connection, keys: list[tuple[str, int]]) -> list[Message]:
    out = []
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        values = ", ".join(["(?, ?)"] * len(chunk))
        rows = conn.execute(  # CROSS JOIN: one index seek per key, in the keys' order
            f"SELECT {_COLS_M} FROM (VALUES {values}) AS k CROSS JOIN messages AS m "
            "ON m.channel = k.column1 AND m.ts = k.column2",
            [v for key in chunk for v in key],
        ).fetchall()
        out += [_row(r) for r in rows]
    return out


_REACTED = reacted.query("?")


def q_reacted(
    conn: sqlite3.Connection, user: str, before: reacted.Mark | None, limit: int
) -> list[reacted.Mark]:
    rows = conn.execute(_REACTED, reacted.params(user, before, limit)).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def q_changed_since(conn: sqlite3.Connection, after_ts: int) -> list[tuple[str, int]]:
    rows = conn.execute(
        "SELECT channel, ts FROM messages WHERE ts > ? OR edited_ts > ?", (after_ts, after_ts)
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def q_recent_tails(conn: sqlite3.Connection, after_ts: int) -> list[tuple[str, int, int]]:
    rows = conn.execute(
        "SELECT channel, MAX(seq), MAX(ts) FROM messages WHERE ts > ? GROUP BY channel",
        (after_ts,),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def q_since(conn: sqlite3.Connection, channel: str, seq: int, limit: int) -> Page:
    rows = conn.execute(
        f"SELECT {_COLS} FROM messages WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?",
        (channel, seq, limit + 1),
    ).fetchall()
    return _page(conn, channel, rows, limit)


# -- the backend ---------------------------------------------------------------------------


class SqliteMessageStore:
    """:class:`~parley.storage.interface.MessageStore` on N SQLite shard files."""

    def __init__(
        self, settings: Settings, shards: int, clock_us: Callable[[], int] = wall_us
    ) -> None:
        root = Path(settings.data_dir)
        self.paths = [root / shard_filename(i) for i in range(shards)]
        self._n = shards
        #: Syncs the shards' WAL files for their writers (one thread for all of them).
        self._syncer = make_syncer("parley-shard-sync")
        #: Checkpoints them beside their writers, so a writer is held only for the rest.
        self._copier = make_syncer("parley-shard-ckpt", closes_wals=False)
        self._writers = [
            LoopWriter(
                p,
                migrations.SHARD,
                state=ShardState(clock_us),
                synchronous=settings.sqlite_synchronous,
                max_batch=settings.commit_batch,
                name=f"parley-shard-{i}",
                syncer=self._syncer,
                copier=self._copier,
            )
            for i, p in enumerate(self.paths)
        ]
        self._readers = Readers(self.paths, settings.read_threads, "parley-shard-read")
        self._lock = DataDirLock(root)

    async def start(self) -> None:
        """Takes the data dir's lock (:mod:`.lock`: ConfigError if another process serves
        it), then starts the shard writers."""
        self._lock.acquire()
        for w in self._writers:
            w.start()

    async def close(self) -> None:
        for w in self._writers:
            await w.close()
        await self._copier.close()  # first: the syncer closes the WALs both use
        await self._syncer.close()
        self._readers.close()
        self._lock.release()

    @property
    def shards(self) -> int:
        return self._n

    def metric_rows(self) -> list[Row]:
        counts, seconds = self._syncer.syncs()
        doc = (
            "Time of each fdatasync of a SQLite shard's WAL: the disk's part of a send's "
            "latency (a group commit is acknowledged once synced)."
        )
        sample = ((), (cumulative(SYNC_BOUNDS, counts), seconds))
        return [histogram("parley_store_sync_seconds", doc, [sample])]

    def _write(self, channel: str, op, *args, after_commit: AfterCommit | None):
        return self._writers[shard_for(channel, self._n)].submit(
            op, *args, after_commit=after_commit
        )

    async def post(self, req: PostRequest, after_commit: AfterCommit | None = None) -> PostResult:
        return await self._write(req.channel, op_post, req, after_commit=after_commit)

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
        return await self._write(
            channel,
            op_update,
            channel,
            ts,
            user,
            text,
            expected_version,
            rich_patch,
            edited,
            after_commit=after_commit,
        )

    async def delete(
        self, channel: str, ts: int, user: str, after_commit: AfterCommit | None = None
    ) -> Message:
        return await self._write(channel, op_delete, channel, ts, user, after_commit=after_commit)

    async def react(
        self,
        channel: str,
        ts: int,
        user: str,
        name: str,
        add: bool,
        after_commit: AfterCommit | None = None,
    ) -> ReactionChange:
        return await self._write(
            channel, op_react, channel, ts, user, name, add, after_commit=after_commit
        )

    async def expire(self, channel: str, before: int, limit: int) -> expiry.Expired:
        if not await self._read(channel, q_expiring, before):
            return expiry.Expired()
        return await self._write(channel, op_expire, channel, before, limit, after_commit=None)

    async def _read(self, channel: str, op, *args):
        return await self._readers.run(shard_for(channel, self._n), op, channel, *args)

    async def message(self, channel: str, ts: int) -> Message | None:
        return await self._read(channel, q_message, ts)

    async def history(self, channel: str, *, before: int, after: int, limit: int) -> Page:
        return await self._read(channel, q_history, before, after, limit)

    async def replies(
        self, channel: str, thread_ts: int, *, after: int, before: int, limit: int
    ) -> Page:
        return await self._read(channel, q_replies, thread_ts, after, before, limit)

    async def last_seq(self, channel: str) -> int:
        return await self._read(channel, q_last_seq)

    async def unread(self, channel: str, after_ts: int, not_by: str, cap: int) -> int:
        return await self._read(channel, q_unread, after_ts, not_by, cap)

    async def since(self, channel: str, seq: int, limit: int) -> Page:
        return await self._read(channel, q_since, seq, limit)

    async def messages_at(self, keys: Sequence[tuple[str, int]]) -> list[Message]:
        groups = by_shard(keys, self._n, lambda key: key[0])
        pages = await asyncio.gather(
            *(self._readers.run(i, q_messages_at, ks) for i, ks in groups.items())
        )
        return [m for page in pages for m in page]

    async def changed_since(self, after_ts: int) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for i in range(self._n):
            out += await self._readers.run(i, q_changed_since, after_ts)
        return out

    async def reacted(self, user: str, before: reacted.Mark | None, limit: int) -> list:
        pages = await asyncio.gather(
            *(self._readers.run(i, q_reacted, user, before, limit) for i in range(self._n))
        )
        return reacted.merged(pages, limit)

    async def recent_tails(self, after_ts: int) -> list[tuple[str, int, int]]:
        """A scan of each shard's recent messages (no index on ``ts`` alone: the
        embedded server runs no republishing worker, so this is never on a hot path)."""
        out: list[tuple[str, int, int]] = []
        for i in range(self._n):
            out += await self._readers.run(i, q_recent_tails, after_ts)
        return out
