"""Group commit on the event loop's own thread, committed and made durable by a syncer
(:mod:`.syncer`).

Why not a writer thread per file (:class:`~parley.storage.sqlite.db.Writer`): its ops
are Python, and every SQL statement they run lets go of the GIL and takes it back. With
a writer per shard beside the event loop, each of those hand-offs is a futex wake and a
context switch; under ``parley bench`` a third of the server's CPU went to them, and
the loop, the one thread everything waits on, was held up by each. Here the ops run on
the loop itself, in one transaction what a loop turn queued or what came while the
previous commit was synced, and the syncer's thread runs two steps a batch: its
``COMMIT``, which writes the batch's pages to the WAL (a third of a post's SQLite time),
and the WAL's ``fdatasync``; where the C extension is built it does both without taking
the GIL at all. The loop does not touch the connection again until the batch is settled.

Durability is unchanged: with ``synchronous`` FULL (or EXTRA) the connection runs in
NORMAL (a commit writes the WAL without syncing it) and a :class:`Syncer` syncs the WAL
file before any op of the batch is settled. So no caller hears of success, and no
after-commit hook publishes anything, before the commit is on disk. SQLite itself still
syncs around checkpoints, as NORMAL does. A reader on another connection can see a
committed write in the few hundred microseconds before its sync, as it already could
before the writer thread resolved its futures; only a power loss in that window could
take back what it saw.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from parley.errors import StorageUnavailable
from parley.storage.sqlite.db import Op, commit_group, migrate, run_group
from parley.storage.sqlite.syncer import CHECKPOINT_EVERY, Pending, Syncer, Wal, open_with_handle

#: The ``synchronous`` modes that promise a commit is on disk when it returns.
_SYNCED = ("FULL", "EXTRA")

#: The size a WAL file is cut back to when it starts over (bytes): well above what a
#: second of writes fills at the send path's peak (40 MB at 3,000 msg/s), so the file is
#: reused in place, not regrown, and only a burst's growth is given back.
WAL_SIZE_LIMIT = 256 * 1024 * 1024


class LoopWriter:
    """The single writer of one SQLite file, running its ops on the event loop in
    groups (each group's ``COMMIT`` is the syncer's).

    The same contract as :class:`~parley.storage.sqlite.db.Writer`: ``submit(op,
    *args)`` queues ``op(conn, state, *args)``; what is queued runs in one transaction
    (up to ``max_batch`` ops each), committed once; a caller's future resolves, after
    its ``after_commit`` hook ran in commit order, only once the commit is durable
    (``synchronous`` FULL or EXTRA: after ``syncer`` synced the WAL). Ops run on the
    loop's thread, so they must be quick and must not await.

    Group commit: with nothing of this writer's at the syncer, what is submitted runs
    when the loop next turns, in a transaction the syncer commits; while a batch is with
    the syncer, what comes is queued and run at once when that batch is synced, just
    before its ops settle. Nobody hears of success before the sync anyway, so waiting costs an op no
    time it would not have spent, and under load one transaction (one ``BEGIN``, one
    ``COMMIT``, one hand-over) serves every op of a sync's cycle, not each loop turn.

    Every ``checkpoint_every`` seconds it has ``syncer`` checkpoint the file and commits
    nothing until that is done (what is submitted meanwhile waits, then goes in one
    transaction). A checkpoint that ran beside the writer would always find frames
    committed after it began, so the WAL could never start over: under a steady load it
    grew without end (900 MB in 25 s at 3,000 msg/s), and each commit appended to a
    growing file, whose sync must also record its new size. Checkpointed whole, the WAL
    starts over at the next commit (when no reader still reads from it) and is rewritten
    in place.

    With a ``copier`` (a second syncer, its own thread) that hold is short: the copier
    first checkpoints the file beside the writer, which goes on committing (the bulk of
    the work: a second's pages copied into the file and synced), and only then is the
    writer held, while ``syncer`` checkpoints what was committed meanwhile. At 5,000
    msg/s the hold went from 7-10 ms to 3-5 ms a second.
    """

    def __init__(
        self,
        path: Path,
        steps: Sequence[str],
        *,
        state: Any,
        synchronous: str,
        max_batch: int,
        name: str,
        syncer: Syncer,
        copier: Syncer | None = None,
        checkpoint_every: float = CHECKPOINT_EVERY,
    ) -> None:
        self._path = path
        self._checkpoint_every = checkpoint_every
        self._steps = steps
        self._state = state
        self._sync = synchronous.upper() in _SYNCED
        self._synchronous = "NORMAL" if self._sync else synchronous
        self._max_batch = max_batch
        self._name = name
        self._syncer = syncer
        self._copier = copier
        #: The copier is checkpointing the file beside the writer.
        self._copying = False
        #: It has: the held checkpoint of what came since is next.
        self._copied = False
        self._pending: list = []
        self._scheduled = False
        #: A commit of this writer's is with the syncer: :meth:`_synced` commits next.
        self._syncing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._wal: Wal | None = None
        self._closed = False
        #: A checkpoint of the file is running: commits wait for :meth:`_resume`.
        self._holding = False

    def start(self) -> None:
        """Opens and migrates the file and starts the syncer (from the event loop)."""
        self._loop = asyncio.get_running_loop()
        self._conn, self._handle = open_with_handle(self._path, self._synchronous)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # the syncer's job
        self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        migrate(self._conn, self._steps)
        self._wal = Wal(self._path, sync=self._sync, every=self._checkpoint_every)
        self._syncer.start()
        if self._copier is not None:
            self._copier.start()

    def submit(
        self, op: Op, *args: Any, after_commit: Callable[[Any], None] | None = None
    ) -> asyncio.Future:
        """Queues ``op``; the future resolves with its result once committed (and synced).

        Call from the event loop thread only.
        """
        if self._closed or self._loop is None:
            raise StorageUnavailable(f"{self._name} is closed")
        fut = self._loop.create_future()
        self._pending.append((op, args, fut, after_commit))
        if not (self._scheduled or self._syncing or self._holding):
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        if self._holding or self._syncing:
            return  # :meth:`_resume` or :meth:`_synced` commits
        conn, wal = self._conn, self._wal
        assert conn is not None and wal is not None
        if self._pending:
            groups = []
            open_ = False
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if self._pending:  # not the last: committed here, before the next begins
                    groups.append((batch, commit_group(conn, self._state, batch, self._name)))
                else:
                    results, open_ = run_group(conn, self._state, batch, self._name)
                    groups.append((batch, results))
            self._syncing = True
            pending = Pending(wal, groups, conn if open_ else None, self._synced, self._handle)
            self._syncer.hand_over(pending)
        if self._copied or (wal.due() and self._copier is None):
            self._copied = False
            self._holding = True
            self._syncer.checkpoint(wal, self._resume)
        elif wal.due() and self._copier is not None and not self._copying:
            self._copying = True
            self._copier.checkpoint(wal, self._copy_done)

    def _copy_done(self) -> None:
        """On the loop, once the copier's checkpoint is done: the held one is next (at
        once if nothing is being committed)."""
        self._copying = False
        if self._closed:
            return
        self._copied = True
        if not (self._scheduled or self._syncing or self._holding):
            self._scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush)

    def _synced(self, committed: bool) -> None:
        """On the loop, once the last batch is committed and synced: commits what came
        meanwhile. After a failed ``COMMIT`` the state forgets what the batch did."""
        self._syncing = False
        if not committed:
            self._state.reset()
        if self._pending:
            self._flush()

    def _resume(self) -> None:
        """On the loop, once the checkpoint is done: commits what waited for it."""
        self._holding = False
        if self._pending:
            self._flush()

    async def close(self) -> None:
        """Commits what is queued and waits until it is settled, then closes the file.
        The syncer and the copier are their owner's to close, after every writer sharing
        them, the copier first (the syncer closes the WAL connections both used)."""
        if self._closed:
            return
        if self._conn is None:
            self._closed = True
            return
        # settled in order: once this no-op is, everything submitted before it is
        await self.submit(_nothing)
        self._closed = True
        self._conn.close()


def _nothing(_conn: Any, _state: Any) -> None:
    return None
