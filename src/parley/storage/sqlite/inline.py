"""Group commit on the event loop's own thread, committed and made durable by a syncer
thread.

Why not a writer thread per file (:class:`~parley.storage.sqlite.db.Writer`): its ops
are Python, and every SQL statement they run lets go of the GIL and takes it back. With
a writer per shard beside the event loop, each of those hand-offs is a futex wake and a
context switch; under ``parley bench`` a third of the server's CPU went to them, and
the loop, the one thread everything waits on, was held up by each. Here the ops run on
the loop itself, in one transaction what a loop turn queued or what came while the
previous commit was synced, and the only other thread runs two statements a batch:
its ``COMMIT``, which writes the batch's pages to the WAL (a third of a post's SQLite
time, and SQLite lets go of the GIL while it runs), and the WAL's ``fdatasync``, which
needs no GIL. The loop does not touch the connection again until the batch is settled.

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
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from parley.errors import StorageUnavailable
from parley.storage.sqlite.db import (
    Op,
    commit_group,
    connect,
    migrate,
    run_group,
    settle_batch,
    translate,
)

log = logging.getLogger(__name__)

_STOP = object()
#: The ``synchronous`` modes that promise a commit is on disk when it returns.
_SYNCED = ("FULL", "EXTRA")

#: Seconds between two checkpoints of one file (the syncer's, while it is written).
CHECKPOINT_EVERY = 1.0
#: The size a WAL file is cut back to when it starts over (bytes): well above what a
#: second of writes fills at the send path's peak (40 MB at 3,000 msg/s), so the file is
#: reused in place, not regrown, and only a burst's growth is given back.
WAL_SIZE_LIMIT = 256 * 1024 * 1024


class Wal:
    """One database file's write-ahead log, as the syncer sees it: a descriptor to sync
    and, opened in the syncer's thread on first use, a connection that checkpoints."""

    def __init__(self, path: Path, *, sync: bool, every: float = CHECKPOINT_EVERY) -> None:
        self.path = path
        #: Whether a commit must be synced before it counts (FULL, EXTRA).
        self.sync = sync
        self.every = every
        # a connection in WAL mode has made the WAL by the time it has migrated, and it
        # stays the same file while that connection is open
        self.fd = os.open(f"{path}-wal", os.O_RDONLY | os.O_CLOEXEC)
        self.checkpointed = time.monotonic()
        self._conn: sqlite3.Connection | None = None

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last checkpoint."""
        return time.monotonic() - self.checkpointed >= self.every

    def checkpoint(self) -> None:
        """Copies what the WAL holds into the file, as far as readers allow (PASSIVE:
        never waits for the writer or for a reader), so the WAL can start over."""
        self.checkpointed = time.monotonic()
        if self._conn is None:
            self._conn = connect(self.path, synchronous="NORMAL")
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        os.close(self.fd)
        if self._conn is not None:
            self._conn.close()


class Pending:
    """What one writer handed to the syncer at once.

    ``groups``: each transaction's ``(op, args, fut, after)`` items with their ``(ok,
    value)`` results, in order; every transaction but the last is committed. The last
    is still open on ``conn`` when ``conn`` is given: the syncer commits it (or, if the
    ``COMMIT`` fails, rolls it back and fails its ops that had succeeded). ``wal``: the
    file's WAL, synced after. ``synced(committed)``: the writer's callback, called on
    the loop before the groups settle; ``committed`` is False when the syncer's
    ``COMMIT`` failed (the writer's state must then forget what the batch did).
    """

    __slots__ = ("wal", "groups", "conn", "synced", "committed")

    def __init__(
        self,
        wal: Wal,
        groups: list[tuple[list, list[tuple[bool, Any]]]],
        conn: sqlite3.Connection | None,
        synced: Callable[[bool], None],
    ) -> None:
        self.wal = wal
        self.groups = groups
        self.conn = conn
        self.synced = synced
        self.committed = True

    def commit(self) -> None:
        """In the syncer's thread: commits the open transaction, if there is one."""
        if self.conn is None:
            return
        try:
            self.conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - every failure must reach its callers
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            log.error("committing to %s failed: %s", self.wal.path, exc)
            self.committed = False
            error = translate(exc)
            batch, results = self.groups[-1]
            self.groups[-1] = (batch, [(False, error) if ok else (ok, v) for ok, v in results])


class _Checkpoint:
    """A writer's request: checkpoint ``wal`` (its writer commits nothing meanwhile),
    then call ``done`` on the loop."""

    __slots__ = ("wal", "done")

    def __init__(self, wal: Wal, done: Callable[[], None]) -> None:
        self.wal = wal
        self.done = done


class Syncer:
    """One thread that makes committed batches durable, then settles them on the loop;
    it also checkpoints the files whose writers ask it to (:meth:`checkpoint`).

    :meth:`hand_over` takes what a writer ran (its last transaction left open). The
    thread takes everything handed over so far, commits each (writing the WAL),
    ``fdatasync``\\ s each WAL file among it that must be synced once, and, on the
    loop, calls each writer's callback (which runs what waited meanwhile and hands it
    over: the thread commits and syncs it while the loop settles), then settles the
    batches in the order they came, so each file's after-commit hooks keep commit
    order. If a ``COMMIT`` or a sync fails, the ops it covered fail with a storage error
    (:class:`StorageUnavailable` for a sync) and their hooks do not run. Then it runs the
    checkpoints asked for: the writers' connections do not checkpoint by themselves (a
    checkpoint copies pages and syncs twice, which the event loop must not wait for).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Starts the thread (once; from the event loop)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def hand_over(self, pending: Pending) -> None:
        """From the loop: commit ``pending`` and settle it once it is synced. Its writer
        leaves its connection alone until its ``synced`` callback."""
        self._queue.put(pending)

    def checkpoint(self, wal: Wal, done: Callable[[], None]) -> None:
        """From the loop: checkpoint ``wal`` once what was handed over before is synced
        and settled, then call ``done`` on the loop (whatever the checkpoint's outcome).
        The caller writes nothing to the file until then."""
        self._queue.put(_Checkpoint(wal, done))

    async def close(self) -> None:
        """Syncs and settles everything handed over, then stops the thread."""
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

    def _run(self) -> None:
        seen: set[Wal] = set()  # closed when the syncer stops, after their writers
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in items
            checkpoints = [i for i in items if isinstance(i, _Checkpoint)]
            batches = [i for i in items if isinstance(i, Pending)]
            for pending in batches:
                pending.commit()
            wals = list(dict.fromkeys(pending.wal for pending in batches))
            seen.update(wals)
            failed: dict[Wal, OSError] = {}
            for wal in wals:
                if wal.sync:
                    try:
                        os.fdatasync(wal.fd)
                    except OSError as exc:
                        log.error("%s: syncing %s failed: %s", self._name, wal.path, exc)
                        failed[wal] = exc
            if batches:
                assert self._loop is not None
                try:
                    self._loop.call_soon_threadsafe(_settle_all, batches, failed)
                except RuntimeError:  # loop closed under us: nobody is waiting any more
                    stop = True
            for request in checkpoints:
                self._checkpoint(request)
            if stop:
                for wal in seen:
                    wal.close()
                return

    def _checkpoint(self, request: _Checkpoint) -> None:
        try:
            request.wal.checkpoint()
        except sqlite3.Error as exc:  # the writer asks again in a second
            log.warning("%s: checkpointing %s failed: %s", self._name, request.wal.path, exc)
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(request.done)


def _settle_all(handed: list[Pending], failed: dict[Wal, OSError]) -> None:
    for pending in handed:
        pending.synced(pending.committed)
    for pending in handed:
        for batch, results in pending.groups:
            if pending.wal in failed:
                error = StorageUnavailable(f"sqlite: syncing the WAL failed: {failed[pending.wal]}")
                results = [(False, error)] * len(batch)
            settle_batch(batch, results)


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
        self._conn = connect(self._path, synchronous=self._synchronous)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # the syncer's job
        self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        migrate(self._conn, self._steps)
        self._wal = Wal(self._path, sync=self._sync, every=self._checkpoint_every)
        self._syncer.start()

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
            self._syncer.hand_over(Pending(wal, groups, conn if open_ else None, self._synced))
        if wal.due():
            self._holding = True
            self._syncer.checkpoint(wal, self._resume)

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
        The syncer is its owner's to close, after every writer sharing it."""
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
