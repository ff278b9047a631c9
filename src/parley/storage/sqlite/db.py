"""SQLite plumbing: connections, migrations, the group-commit writer and the reader pool.

Threading contract: each file has one writer, which owns one connection: a
:class:`Writer` on a thread of its own, or (the shards) a
:class:`~parley.storage.sqlite.inline.LoopWriter` on the event loop; readers use their
own connections on pool threads (WAL lets them read while the writer writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from parley.errors import ApiError, StorageError, StorageUnavailable
from parley.storage.settle import settle

log = logging.getLogger(__name__)

Op = Callable[..., Any]

_BUSY_MS = 5000

# sqlite3 binds an int, float, str or bytearray parameter directly, but for any other
# value, None and bytes among them, it first looks for an adapter: a registry miss, then
# ``__adapt__`` and ``__conform__`` lookups that each build and drop a formatted
# AttributeError. A post binds several NULLs; registering both types (with adapters in C
# that return the value itself) makes that one dict hit: 8 NULLs bound in 4.9 µs instead
# of 8.5 (8 ints: 2.9), about 3 µs less per message written.
sqlite3.register_adapter(type(None), {}.get)
sqlite3.register_adapter(bytes, bytes)


def translate(exc: BaseException) -> StorageError:
    """A sqlite3 (or OS) error as Parley's storage error; the text names the cause."""
    if isinstance(exc, StorageError):
        return exc
    msg = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and (
        "locked" in msg or "busy" in msg or "disk" in msg or "full" in msg or "i/o" in msg
    ):
        return StorageUnavailable(f"sqlite: {exc}")
    return StorageError(f"sqlite: {type(exc).__name__}: {exc}")


def connect(path: Path, *, synchronous: str = "FULL", readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN/COMMIT), WAL, foreign-key free."""
    try:
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=_BUSY_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        if readonly:
            conn.execute("PRAGMA query_only=1")
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
        return conn
    except sqlite3.Error as exc:
        raise translate(exc) from exc


def migrate(conn: sqlite3.Connection, steps: Sequence[str]) -> int:
    """Brings the file to ``len(steps)`` using ``PRAGMA user_version``; returns the version.

    Each step runs in its own transaction, so a crash leaves a whole version. Safe to
    call from several processes at once (``BEGIN IMMEDIATE`` serializes them).
    """
    try:
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > len(steps):
                    raise StorageError(
                        f"database schema v{version} is newer than this Parley (v{len(steps)})"
                    )
                if version == len(steps):
                    conn.execute("COMMIT")
                    return version
                for statement in _statements(steps[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version + 1}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        raise translate(exc) from exc


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def run_once(path: Path, steps: Sequence[str], op: Op, *args: Any) -> Any:
    """Opens ``path``, migrates it, runs ``op(conn, None, *args)`` in one transaction.

    For admin commands that must work whether or not a server is running on the file.
    """
    conn = connect(path)
    try:
        migrate(conn, steps)
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = op(conn, None, *args)
            conn.execute("COMMIT")
            return result
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise translate(exc) from exc
    finally:
        conn.close()


_STOP = object()


class NoState:
    """A writer's ``state`` when its ops keep no cache: nothing to reset."""

    def reset(self) -> None:
        pass


class Writer:
    """The single writer of one SQLite file, committing concurrent operations in groups.

    ``submit(op, *args)`` queues ``op(conn, state, *args)``; the writer thread takes
    everything queued (up to ``max_batch``), runs it in one transaction and commits once.
    Only after the commit does each caller's future resolve, so nothing reports success
    before it is durable. Ops must raise :class:`ApiError` before they write anything; an
    ApiError fails that op alone. Any other error rolls the batch back and re-runs its
    ops one transaction each, so one bad op never fails its neighbours.

    ``state`` is an object private to the writer thread (caches such as per-channel
    counters); it is reset with ``state.reset()`` whenever a transaction rolls back.
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
        nice: int = 0,
    ) -> None:
        self._path = path
        self._steps = steps
        self._state = state
        self._synchronous = synchronous
        self._max_batch = max_batch
        self._name = name
        self._nice = nice
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    def start(self) -> None:
        """Opens and migrates the file (in the caller's thread) and starts the writer."""
        self._loop = asyncio.get_running_loop()
        self._conn = connect(self._path, synchronous=self._synchronous)
        migrate(self._conn, self._steps)
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def submit(
        self, op: Op, *args: Any, after_commit: Callable[[Any], None] | None = None
    ) -> asyncio.Future:
        """Queues ``op``; the future resolves with its result once committed.

        ``after_commit(result)`` runs on the loop, in commit order, before the future
        resolves. Call from the event loop thread only.
        """
        if self._closed or self._loop is None:
            raise StorageUnavailable(f"{self._name} is closed")
        fut = self._loop.create_future()
        self._queue.put((op, args, fut, after_commit))
        return fut

    async def close(self) -> None:
        """Finishes everything queued, then stops the thread and closes the file."""
        if self._closed or self._thread is None:
            self._closed = True
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        assert self._conn is not None
        self._conn.close()

    def _run(self) -> None:
        if self._nice:  # this thread alone: Linux schedules threads by their own nice
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            results = self._commit(batch)
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(settle_batch, batch, results)
            except RuntimeError:  # loop closed under us: nobody is waiting any more
                return
            if stop:
                return

    def _commit(self, batch: list) -> list[tuple[bool, Any]]:
        assert self._conn is not None
        return commit_group(self._conn, self._state, batch, self._name)


def commit_group(
    conn: sqlite3.Connection, state: Any, batch: list, name: str
) -> list[tuple[bool, Any]]:
    """Runs ``batch`` (``(op, args, fut, after)`` items) in one transaction and commits
    once; each op's ``(ok, result or error)``. An :class:`ApiError` fails its op alone;
    any other error rolls the batch back (``state.reset()``) and re-runs its ops one
    transaction each, so one bad op never fails its neighbours."""
    results, open_ = run_group(conn, state, batch, name)
    if not open_:
        return results
    try:
        conn.execute("COMMIT")
        return results
    except Exception as exc:  # noqa: BLE001 - every failure must reach its caller
        return _isolate(conn, state, batch, name, exc)


def run_group(
    conn: sqlite3.Connection, state: Any, batch: list, name: str
) -> tuple[list[tuple[bool, Any]], bool]:
    """:func:`commit_group` without its ``COMMIT``: each op's ``(ok, result or error)``,
    and whether the batch's transaction is still open, for the caller to commit (or roll
    back, then ``state.reset()``). Not open when an op's error rolled the batch back:
    its ops were then re-run and committed one transaction each, as
    :func:`commit_group` does."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        results: list[tuple[bool, Any]] = []
        for op, args, _fut, _after in batch:
            try:
                results.append((True, op(conn, state, *args)))
            except ApiError as exc:
                results.append((False, exc))
        return results, True
    except Exception as exc:  # noqa: BLE001 - every failure must reach its caller
        return _isolate(conn, state, batch, name, exc), False


def _isolate(
    conn: sqlite3.Connection, state: Any, batch: list, name: str, exc: Exception
) -> list[tuple[bool, Any]]:
    """After ``exc`` in ``batch``'s transaction: rolls it back and re-runs each op in a
    transaction of its own (a lone op fails with ``exc``)."""
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")
    state.reset()
    if len(batch) == 1:
        if not isinstance(exc, (sqlite3.Error, StorageError, OSError)):
            log.exception("%s: operation failed", name, exc_info=exc)
        return [(False, translate(exc))]
    return [commit_group(conn, state, [item], name)[0] for item in batch]


def settle_batch(batch: list, results: list[tuple[bool, Any]]) -> None:
    """On the loop: settles each ``(op, args, fut, after)`` item with its result."""
    for (_op, _args, fut, after), (ok, value) in zip(batch, results, strict=True):
        settle(fut, after, ok, value)


class Readers:
    """A small thread pool running read-only queries against a set of files.

    Each pool thread holds one read-only connection per file, opened on first use.
    """

    def __init__(self, paths: Sequence[Path], threads: int, name: str) -> None:
        self._paths = list(paths)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def run(self, index: int, op: Op, *args: Any) -> Any:
        """``op(conn, *args)`` on a pool thread against file ``index``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, index, op, args)

    def _call(self, index: int, op: Op, args: tuple) -> Any:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(index)
        try:
            if conn is None:
                conn = conns[index] = connect(self._paths[index], readonly=True)
                with self._lock:
                    self._all.append(conn)
            return op(conn, *args)
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
