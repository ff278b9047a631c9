"""Making the shard writers' batches durable: each batch's ``COMMIT`` and its WAL's
``fdatasync``, off the event loop, then its settling on the loop.

:class:`~parley.storage.sqlite.inline.LoopWriter` runs a batch's ops on the event loop
and leaves its transaction open; a :class:`Syncer` commits it (writing the batch's
pages to the WAL), syncs the WAL when ``synchronous`` asks for it (FULL, EXTRA), and
only then settles the batch on the loop, in the order batches came, so no caller hears
of success and no after-commit hook runs before the commit is on disk. It also runs the
checkpoints the writers ask for (their connections never checkpoint by themselves: a
checkpoint copies pages and syncs twice, which the loop must not wait for).

Two backends, one interface (:class:`Syncer`), chosen by :func:`make_syncer`:

- :class:`NativeSyncer`: a pthread of the C extension :mod:`._syncer`, calling SQLite's
  C API on the connections' handles (:func:`open_with_handle`) without the GIL;
- :class:`ThreadSyncer`: a Python thread, where the extension is not built.

Why the native one: a Python thread takes the GIL from the busy loop three times a
batch (woken, after its ``COMMIT``, after its sync), each a wait for the loop to let go
of it and a wake-up of its own. At 5,000 msg/s (``parley bench latency``) a batch's
cycle took 2.5 ms: 1.1 ms from the hand-over to the thread running, 0.4 ms to commit,
0.7 ms to sync, 0.3 ms back to the loop. Without the GIL the whole cycle took 0.9-2 ms
(see docs/benchmarks.md, "2026-12-06, late night").
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from parley.errors import StorageUnavailable
from parley.metrics import LoopHistogram
from parley.storage.sqlite.db import connect, settle_batch, translate

try:
    from parley.storage.sqlite import _syncer as _native
except ImportError:  # not built (no C compiler or no SQLite headers at install)
    _native = None

log = logging.getLogger(__name__)

_STOP = object()

#: Seconds between two checkpoints of one file (the syncer's, while it is written).
CHECKPOINT_EVERY = 1.0
#: Seconds: the buckets a syncer counts its WAL syncs by (:meth:`Syncer.syncs`), finer
#: than the pipeline's below a millisecond, where most syncs of a quiet disk fall.
SYNC_BOUNDS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    5, 10,
)  # fmt: skip


def open_with_handle(path: Path, synchronous: str) -> tuple[sqlite3.Connection, int]:
    """:func:`~parley.storage.sqlite.db.connect`, and the new connection's SQLite handle
    (``sqlite3 *`` as an int) for :class:`NativeSyncer`: 0 where the extension is not
    built or did not see this connection open (then only :class:`ThreadSyncer` can
    commit for it). The handle is valid while the connection is open."""
    if _native is None:
        return connect(path, synchronous=synchronous), 0
    _native.capture()
    try:
        conn = connect(path, synchronous=synchronous)
    finally:
        handle = _native.captured()
    with contextlib.suppress(OSError):
        if handle and os.path.samefile(_native.filename(handle), path):
            return conn, handle
    return conn, 0


def unshare_allocations() -> bool:
    """Turns SQLite's memory statistics off for this process, so its allocations stop
    taking one global mutex (the event loop, the syncer and the search writer took turns
    at it for every ``malloc`` and ``free``, each a futex sleep when another held it);
    whether they are off. Call before any connection opens and before any other thread
    uses SQLite (``parley serve`` does, first thing): SQLite is shut down and started
    again, which it refuses (False) while a connection is open, and False where the
    extension is not built. Nothing in Parley reads the statistics."""
    return _native is not None and _native.memstatus_off()


def native_thread(name: str, *, nice: int = 0) -> Any:
    """A thread of the C extension (``_syncer.Syncer``, which must be built), named
    ``name`` (cut to the 15 bytes Linux keeps), at ``nice`` (that thread alone), its
    syncs counted by :data:`SYNC_BOUNDS`."""
    assert _native is not None, "the _syncer extension is not built"
    return _native.Syncer(name[:15], nice=nice, bounds=SYNC_BOUNDS)


class SyncTimes:
    """The syncs a Python thread made, timed and counted as the native thread counts
    them (:meth:`Syncer.syncs`); :meth:`count` from that thread, :meth:`read` from any."""

    def __init__(self, bounds: tuple[float, ...] = SYNC_BOUNDS) -> None:
        self._hist = LoopHistogram(bounds)  # one thread's; the lock is for the readers
        self._lock = threading.Lock()

    def count(self, took: float) -> None:
        with self._lock:
            self._hist.observe(took)

    def read(self) -> tuple[tuple[int, ...], float]:
        with self._lock:
            return tuple(self._hist.counts), self._hist.sum


def native_available() -> bool:
    """Whether :class:`NativeSyncer` can work here: the extension is built and sees the
    connections Python's ``sqlite3`` opens (it links the same SQLite library)."""
    if _native is None:
        return False
    _native.capture()
    conn = sqlite3.connect(":memory:")
    handle = _native.captured()
    conn.close()
    return handle != 0


class Wal:
    """One database file's write-ahead log, as the syncer sees it: a descriptor to sync
    and a connection that checkpoints (with its handle, :func:`open_with_handle`)."""

    def __init__(self, path: Path, *, sync: bool, every: float = CHECKPOINT_EVERY) -> None:
        self.path = path
        #: Whether a commit must be synced before it counts (FULL, EXTRA).
        self.sync = sync
        self.every = every
        # a connection in WAL mode has made the WAL by the time it has migrated, and it
        # stays the same file while that connection is open
        self.fd = os.open(f"{path}-wal", os.O_RDONLY | os.O_CLOEXEC)
        self.checkpointed = time.monotonic()
        self._conn, self.handle = open_with_handle(path, "NORMAL")

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last checkpoint."""
        return time.monotonic() - self.checkpointed >= self.every

    def checkpoint(self) -> None:
        """Copies what the WAL holds into the file, as far as readers allow (PASSIVE:
        never waits for the writer or for a reader), so the WAL can start over."""
        self.checkpointed = time.monotonic()
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        os.close(self.fd)
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
    ``handle``: ``conn``'s SQLite handle (:func:`open_with_handle`), for
    :class:`NativeSyncer`.
    """

    __slots__ = ("wal", "groups", "conn", "synced", "committed", "handle")

    def __init__(
        self,
        wal: Wal,
        groups: list[tuple[list, list[tuple[bool, Any]]]],
        conn: sqlite3.Connection | None,
        synced: Callable[[bool], None],
        handle: int = 0,
    ) -> None:
        self.wal = wal
        self.groups = groups
        self.conn = conn
        self.synced = synced
        self.committed = True
        self.handle = handle

    def commit(self) -> None:
        """In the syncer's thread: commits the open transaction, if there is one."""
        if self.conn is None:
            return
        try:
            self.conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - every failure must reach its callers
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            self.failed(exc)

    def failed(self, exc: Exception) -> None:
        """The ``COMMIT`` failed with ``exc`` (and was rolled back): the last
        transaction's ops that had succeeded fail with it."""
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


class ThreadSyncer:
    """A Python thread that makes committed batches durable, then settles them on the loop;
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

    def __init__(self, name: str, *, closes_wals: bool = True) -> None:
        self._name = name
        self._closes_wals = closes_wals
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._syncs = SyncTimes()

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

    def syncs(self) -> tuple[tuple[int, ...], float]:
        return self._syncs.read()

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
                    began = time.monotonic()
                    try:
                        os.fdatasync(wal.fd)
                    except OSError as exc:
                        log.error("%s: syncing %s failed: %s", self._name, wal.path, exc)
                        failed[wal] = exc
                    self._syncs.count(time.monotonic() - began)
            if batches:
                assert self._loop is not None
                try:
                    self._loop.call_soon_threadsafe(_settle_all, batches, failed)
                except RuntimeError:  # loop closed under us: nobody is waiting any more
                    stop = True
            for request in checkpoints:
                self._checkpoint(request)
            if stop:
                if self._closes_wals:
                    for wal in seen:
                        wal.close()
                return

    def _checkpoint(self, request: _Checkpoint) -> None:
        try:
            request.wal.checkpoint()
        except sqlite3.Error as exc:  # the writer asks again in a second
            _checkpoint_failed(self._name, request.wal, getattr(exc, "sqlite_errorcode", 0), exc)
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


class Syncer(Protocol):
    """Commits, syncs and settles the batches writers hand over; checkpoints their files.

    All calls from the event loop. A writer leaves its connection alone from
    :meth:`hand_over` until the batch's ``synced`` callback, and writes nothing to a file
    between :meth:`checkpoint` and its ``done``."""

    def start(self) -> None:
        """Starts the syncer (once; from the event loop)."""

    def hand_over(self, pending: Pending) -> None:
        """Commit ``pending``'s open transaction (if any), sync its WAL (if it must be),
        then, on the loop, call its ``synced`` and settle its ops. Batches settle in
        the order handed over. A failed ``COMMIT`` fails the ops it covered (rolled
        back); a failed sync fails the batch with :class:`StorageUnavailable`."""

    def checkpoint(self, wal: Wal, done: Callable[[], None]) -> None:
        """Checkpoint ``wal`` (PASSIVE) once what was handed over before is settled, then
        call ``done`` on the loop, whatever the checkpoint's outcome."""

    def syncs(self) -> tuple[tuple[int, ...], float]:
        """The WAL ``fdatasync``\\ s made so far, each timed: how many took at most each
        bound of :data:`SYNC_BOUNDS` (and more than the one before; the last count is
        past them all), and their total seconds. All zero before :meth:`start`."""

    async def close(self) -> None:
        """Settles everything handed over, then stops; closes the WALs it saw, unless
        it was made with ``closes_wals=False`` (a copier, :class:`.inline.LoopWriter`,
        whose WALs another syncer closes after it)."""


class NativeSyncer:
    """:class:`Syncer` on a pthread of :mod:`._syncer`, which never takes the GIL: the
    ``COMMIT``, the ``fdatasync`` and the checkpoints run through SQLite's C API on the
    connections' handles (:func:`open_with_handle`; so every connection it commits for
    or checkpoints must have one). What the thread finished comes back through an
    eventfd on the loop, in the order handed over, a batch as soon as it is synced."""

    def __init__(self, name: str, *, closes_wals: bool = True) -> None:
        assert _native is not None, "the _syncer extension is not built"
        self._name = name
        self._thread = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closes_wals = closes_wals
        self._seen: set[Wal] = set()  # closed when the syncer stops, after their writers

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = native_thread(self._name)
        self._loop.add_reader(self._thread.fileno(), self._collect)

    def hand_over(self, pending: Pending) -> None:
        assert pending.conn is None or pending.handle, "a connection without its handle"
        self._seen.add(pending.wal)
        handle = pending.handle if pending.conn is not None else 0
        self._thread.commit(handle, pending.wal.fd if pending.wal.sync else -1, pending)

    def checkpoint(self, wal: Wal, done: Callable[[], None]) -> None:
        assert wal.handle, "a WAL without its connection's handle"
        self._seen.add(wal)
        wal.checkpointed = time.monotonic()
        self._thread.checkpoint(wal.handle, _Checkpoint(wal, done))

    def syncs(self) -> tuple[tuple[int, ...], float]:
        if self._thread is None:
            return (0,) * (len(SYNC_BOUNDS) + 1), 0.0
        return self._thread.syncs()

    async def close(self) -> None:
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        assert self._loop is not None
        await self._loop.run_in_executor(None, thread.close)  # finishes what was queued
        self._loop.remove_reader(thread.fileno())
        settle_finished(thread.collect(), self._name)
        if self._closes_wals:
            for wal in self._seen:
                wal.close()

    def _collect(self) -> None:
        if self._thread is not None:
            settle_finished(self._thread.collect(), self._name)


#: SQLite's "busy": a checkpoint beside the writer (:class:`.inline.LoopWriter`'s copier)
#: that met a commit rewriting the WAL's header, or another checkpoint.
SQLITE_BUSY = 5


def _checkpoint_failed(name: str, wal: Wal, rc: int, message: object) -> None:
    """Logs a failed checkpoint: a busy one only at debug level (expected now and then
    beside a writer, and the held checkpoint after it does the work), any other as a
    warning."""
    level = logging.DEBUG if rc & 0xFF == SQLITE_BUSY else logging.WARNING
    log.log(level, "%s: checkpointing %s failed: %s", name, wal.path, message)


def settle_finished(finished: list[tuple], name: str) -> None:
    """On the loop: settles what :class:`NativeSyncer`'s thread finished, ``(token, rc,
    message, errno)`` each in the order handed over: a :class:`Pending` whose ``COMMIT``
    failed (``rc``) fails as :meth:`Pending.failed` says, one whose sync failed
    (``errno``) fails whole with :class:`StorageUnavailable`; the batches are settled
    before a later checkpoint's ``done`` is called."""
    batches: list[Pending] = []
    failed: dict[Wal, OSError] = {}
    for token, rc, message, errno in finished:
        if isinstance(token, Pending):
            if rc:
                token.failed(sqlite_error(rc, message))
            if errno:
                exc = failed[token.wal] = OSError(errno, os.strerror(errno))
                log.error("%s: syncing %s failed: %s", name, token.wal.path, exc)
            batches.append(token)
            continue
        if batches:
            _settle_all(batches, failed)
            batches, failed = [], {}
        if rc:  # the writer asks again in a second
            _checkpoint_failed(name, token.wal, rc, message)
        token.done()
    if batches:
        _settle_all(batches, failed)


def make_syncer(name: str, *, closes_wals: bool = True) -> Syncer:
    """The native syncer where it can work (:func:`native_available`), else the Python
    thread (logged)."""
    if native_available():
        return NativeSyncer(name, closes_wals=closes_wals)
    log.warning(
        "parley.storage.sqlite._syncer is not built (no C compiler or SQLite headers at "
        "install?): SQLite batches are committed and synced by a Python thread"
    )
    return ThreadSyncer(name, closes_wals=closes_wals)


#: Python's ``sqlite3`` exception for each of SQLite's primary result codes (as its
#: module raises them); the rest are :class:`sqlite3.DatabaseError`.
_ERRORS: dict[int, type[sqlite3.Error]] = {
    **dict.fromkeys((2, 12), sqlite3.InternalError),
    **dict.fromkeys((1, 3, 4, 5, 6, 8, 9, 10, 13, 14, 15, 16, 17), sqlite3.OperationalError),
    18: sqlite3.DataError,
    **dict.fromkeys((19, 20), sqlite3.IntegrityError),
    **dict.fromkeys((21, 25), sqlite3.InterfaceError),
}


def sqlite_error(rc: int, message: str | None) -> sqlite3.Error:
    """The exception Python's ``sqlite3`` would have raised for result code ``rc``."""
    return _ERRORS.get(rc & 0xFF, sqlite3.DatabaseError)(message or f"SQLite error {rc}")
