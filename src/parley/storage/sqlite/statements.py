"""A writer for files whose writes are a few statements of at most one parameter each
(the search index's): each submitted list runs in a transaction of its own, on a thread
beside the event loop.

Why not the generic :class:`~parley.storage.sqlite.db.Writer`: its ops are Python, and a
Python thread takes the GIL back after every SQLite call it makes (twice a statement), each
time from the busy event loop; one preempted while holding it (the search writer runs at
nice 10) stops the loop until it runs again. Under ``parley bench latency`` the loop slept
waiting for the GIL about 170 times a second, 15 times a run for over 3 ms, nearly all of
it for the search writer. :class:`NativeStatementWriter` hands the statements to a pthread of
:mod:`._syncer` that never takes the GIL, and hears back on an eventfd the loop watches;
:class:`ThreadStatementWriter` (the Python thread) stays for installs without the
extension. :func:`make_statement_writer` picks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from parley.errors import StorageUnavailable
from parley.storage.sqlite.db import NoState, Writer, migrate, translate
from parley.storage.sqlite.syncer import (
    native_available,
    native_thread,
    open_with_handle,
    sqlite_error,
)

#: A statement and the value bound to its ``?1`` (``None``: nothing bound).
Statement = tuple[str, str | int | None]


class StatementWriter(Protocol):
    """The single writer of one SQLite file, in statements. All calls from the loop."""

    def start(self) -> None:
        """Opens and migrates the file (from the event loop) and starts the thread."""

    def run(self, statements: Sequence[Statement]) -> asyncio.Future:
        """Runs ``statements`` in one transaction; the future resolves (``None``) once it
        is committed, or fails with the first error (a storage error; nothing of the
        transaction stays). Lists run in the order submitted."""

    async def close(self) -> None:
        """Finishes what was submitted, then stops the thread and closes the file."""


def op_statements(conn: Any, _state: Any, statements: Sequence[Statement]) -> None:
    """:class:`~parley.storage.sqlite.db.Writer`'s op for a list of statements."""
    for sql, param in statements:
        conn.execute(sql, () if param is None else (param,))


class ThreadStatementWriter:
    """:class:`StatementWriter` on the generic Python writer thread (a transaction for
    up to ``max_batch`` lists, a failing one re-run alone)."""

    def __init__(
        self,
        path: Path,
        steps: Sequence[str],
        *,
        synchronous: str,
        name: str,
        nice: int,
        max_batch: int,
    ) -> None:
        self._writer = Writer(
            path,
            steps,
            state=NoState(),
            synchronous=synchronous,
            max_batch=max_batch,
            name=name,
            nice=nice,
        )

    def start(self) -> None:
        self._writer.start()

    def run(self, statements: Sequence[Statement]) -> asyncio.Future:
        return self._writer.submit(op_statements, statements)

    async def close(self) -> None:
        await self._writer.close()


class NativeStatementWriter:
    """:class:`StatementWriter` on a pthread of :mod:`._syncer` (its ``execute``), which
    never takes the GIL; at ``nice`` (this thread only)."""

    def __init__(
        self, path: Path, steps: Sequence[str], *, synchronous: str, name: str, nice: int
    ) -> None:
        self._path = path
        self._steps = steps
        self._synchronous = synchronous
        self._name = name
        self._nice = nice
        self._thread = None
        self._conn = None
        self._handle = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._conn, self._handle = open_with_handle(self._path, self._synchronous)
        if not self._handle:  # not seen opening: cannot happen where native_available()
            self._conn.close()
            raise StorageUnavailable(f"{self._name}: no handle for {self._path}")
        try:
            migrate(self._conn, self._steps)
        except BaseException:
            self._conn.close()
            raise
        self._thread = native_thread(self._name, nice=self._nice)
        self._loop.add_reader(self._thread.fileno(), self._collect)

    def run(self, statements: Sequence[Statement]) -> asyncio.Future:
        if self._thread is None or self._loop is None:
            raise StorageUnavailable(f"{self._name} is closed")
        fut = self._loop.create_future()
        self._thread.execute(self._handle, statements, fut)
        return fut

    async def close(self) -> None:
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        assert self._loop is not None and self._conn is not None
        await self._loop.run_in_executor(None, thread.close)  # finishes what was queued
        self._loop.remove_reader(thread.fileno())
        _settle(thread.collect())
        self._conn.close()

    def _collect(self) -> None:
        if self._thread is not None:
            _settle(self._thread.collect())


def _settle(finished: list[tuple]) -> None:
    for fut, rc, message, _errno in finished:
        if fut.done():  # its caller was cancelled
            continue
        if rc:
            fut.set_exception(translate(sqlite_error(rc, message)))
        else:
            fut.set_result(None)


def make_statement_writer(
    path: Path,
    steps: Sequence[str],
    *,
    synchronous: str,
    name: str,
    nice: int = 0,
    max_batch: int = 64,
    native: bool | None = None,
) -> StatementWriter:
    """The native writer where the extension works (:func:`.syncer.native_available`;
    ``native`` False: never), else the Python thread."""
    if native is not False and native_available():
        return NativeStatementWriter(path, steps, synchronous=synchronous, name=name, nice=nice)
    return ThreadStatementWriter(
        path, steps, synchronous=synchronous, name=name, nice=nice, max_batch=max_batch
    )
