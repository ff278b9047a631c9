"""Group commit for one MySQL shard in one process: an asyncio task and one connection.

``submit(op)`` queues an op; the task takes everything queued (up to ``max_batch``),
hands the batch to ``run(cursor, ops)`` inside one transaction and commits once. Only
then, on the event loop and in commit order, does each op's ``after_commit(result)`` run
and its future resolve: nothing reports success before it is durable.

Failures, per batch:

* an op that refuses (``run`` reports an :class:`~parley.errors.ApiError` for it) wrote
  nothing and fails alone; the others commit;
* a deadlock, a lock-wait timeout or a duplicate key (two nodes numbering a brand-new
  channel at once) rolls back and re-runs the whole batch, which then sees the other
  node's commit; up to :data:`~parley.storage.mysql.db.ATTEMPTS` times;
* a connection lost before the COMMIT is reopened and the batch re-run (the server rolled
  it back); lost *during* the COMMIT, the outcome is unknown: the batch fails with
  :class:`~parley.errors.StorageUnavailable` (a client retrying with its
  ``client_msg_id`` gets the original if it was stored);
* any other error rolls back and re-runs the ops one transaction each, so one bad op
  never fails its neighbours; what still fails gets a :class:`~parley.errors.StorageError`.

Every wait is bounded (see :mod:`.db`), so a failing server fails the callers instead of
hanging them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asyncmy.errors import MySQLError

from parley.errors import StorageUnavailable
from parley.storage.mysql import db
from parley.storage.mysql.urls import DbUrl
from parley.storage.settle import settle

log = logging.getLogger(__name__)

#: ``run(cursor, ops)``: loads, plans and writes a batch (no commit); one outcome per op.
Run = Callable[[Any, list], Awaitable[list[tuple[bool, Any]]]]
#: The duplicate-key error: two writers numbered a channel that had no tail row yet.
DUPLICATE = 1062

_STOP = object()


class _CommitLost(Exception):
    """The connection died while the COMMIT was in flight."""


class GroupWriter:
    """The writer of one shard for this process (other processes have their own; the
    database's row locks order them)."""

    def __init__(
        self,
        url: DbUrl,
        run: Run,
        *,
        timeout: float,
        max_batch: int,
        name: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = url
        self._run = run
        self._timeout = timeout
        self._max_batch = max_batch
        self._name = name
        self._sleep = sleep
        self._queue: asyncio.Queue = asyncio.Queue()
        self._conn: Any = None
        self._task: asyncio.Task | None = None
        self._closed = False

    async def start(self) -> None:
        """Connects (a server that does not answer fails start-up) and starts the task."""
        self._conn = await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self._name)

    def submit(self, op: Any, after_commit: Callable[[Any], None] | None = None) -> asyncio.Future:
        """Queues ``op``; the future resolves with its result once committed.
        ``after_commit(result)`` runs first, on the loop, in commit order."""
        if self._closed or self._task is None:
            raise StorageUnavailable(f"{self._name} is closed")
        fut = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((op, fut, after_commit))
        return fut

    async def close(self) -> None:
        """Finishes everything queued, then closes the connection."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._queue.put_nowait(_STOP)
            await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.ensure_closed(), 1)
            db.discard(self._conn)

    async def _connect(self) -> Any:
        return await db.connect(self._url, timeout=self._timeout, autocommit=False)

    async def _loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results = await self._commit([op for op, _f, _a in batch])
            except Exception as exc:  # noqa: BLE001 - every caller must hear of it
                log.exception("%s: batch failed", self._name)
                results = [(False, db.translate(exc, self._url.redacted()))] * len(batch)
            _resolve(batch, results)
            if stop:
                return

    async def _commit(self, ops: list) -> list[tuple[bool, Any]]:
        where = self._url.redacted()
        for attempt in range(db.ATTEMPTS):
            try:
                return await self._once(ops)
            except _CommitLost as exc:
                cause = exc.__cause__ or exc
                err = StorageUnavailable(
                    f"mysql {where}: the connection was lost during COMMIT, the outcome is "
                    f"unknown ({db.describe(cause)})"
                )
                return [(False, err)] * len(ops)
            except StorageUnavailable as exc:  # could not connect
                return [(False, exc)] * len(ops)
            except Exception as exc:  # noqa: BLE001 - sorted below
                if db.is_gone(exc):
                    self._drop()
                    if attempt == 0:
                        continue  # a connection that died while idle: once more, on a new one
                    return [(False, db.translate(exc, where))] * len(ops)
                await self._rollback()
                if db.code(exc) in db.RETRY or db.code(exc) == DUPLICATE:
                    await self._sleep(0.002 * (attempt + 1))
                    continue
                if len(ops) > 1:  # isolate: one transaction per op
                    return [(await self._commit([op]))[0] for op in ops]
                if not isinstance(exc, (MySQLError, OSError)):
                    log.error("%s: operation failed", self._name, exc_info=exc)
                return [(False, db.translate(exc, where))]
        err = StorageUnavailable(
            f"mysql {where}: gave up after {db.ATTEMPTS} conflicts in a row "
            "(deadlock, lock wait timeout or duplicate key)"
        )
        return [(False, err)] * len(ops)

    async def _once(self, ops: list) -> list[tuple[bool, Any]]:
        if self._conn is None or not self._conn.connected:
            self._drop()
            self._conn = await self._connect()
        conn = self._conn
        async with conn.cursor() as cur:
            results = await self._run(cur, ops)
        try:
            await conn.commit()
        except Exception as exc:
            if db.is_gone(exc):
                self._drop()
                raise _CommitLost from exc
            raise
        return results

    async def _rollback(self) -> None:
        if self._conn is not None:
            await db.rollback(self._conn)

    def _drop(self) -> None:
        if self._conn is not None:
            db.discard(self._conn)
        self._conn = None


def _resolve(batch: list, results: list[tuple[bool, Any]]) -> None:
    for (_op, fut, after), (ok, value) in zip(batch, results, strict=True):
        settle(fut, after, ok, value)
