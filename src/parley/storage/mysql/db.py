"""MySQL plumbing: connections, a small pool, error translation, database creation and
migrations. No asyncmy exception leaves this package: :func:`translate` turns each into a
:class:`~parley.errors.StorageError` (:class:`~parley.errors.StorageUnavailable` when the
server is unreachable, gone, or busy with locks, so retrying later may succeed).

Every wait is bounded by ``timeout`` seconds: connecting, each answer from the server
(asyncmy's ``read_timeout``), taking a pooled connection; row-lock waits give up after
``lock_wait(timeout)`` (InnoDB's ``innodb_lock_wait_timeout``), so a stuck node cannot
hold another one forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncmy
from asyncmy import errors as my

from parley.errors import ApiError, StorageError, StorageUnavailable
from parley.storage.mysql.migrations import BOOKKEEPING
from parley.storage.mysql.urls import DbUrl

log = logging.getLogger(__name__)

#: Server answers worth retrying the whole transaction for: deadlock, lock wait timeout.
RETRY = frozenset({1205, 1213})
#: The connection is gone (refused, lost, killed, server shutting down, idle too long).
GONE = frozenset({1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031})
#: DDL found done already (a step re-run after a crash): table, column, index exist.
DONE = frozenset({1050, 1060, 1061})
#: How many times a transaction is tried when it deadlocks or loses its connection.
ATTEMPTS = 5

Cursor = Any
Conn = Any


def code(exc: BaseException) -> int | None:
    """The server's error number, if ``exc`` carries one."""
    if isinstance(exc, my.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def is_gone(exc: BaseException) -> bool:
    """The connection cannot be used any more (the server may well be fine)."""
    return (
        code(exc) in GONE
        or isinstance(exc, (OSError, EOFError, TimeoutError, my.InterfaceError))
        or (isinstance(exc, my.OperationalError) and code(exc) is None)
    )


def describe(exc: BaseException) -> str:
    if isinstance(exc, my.MySQLError) and len(exc.args) >= 2:
        return f"{exc.args[1]} (error {exc.args[0]})"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def translate(exc: BaseException, where: str) -> StorageError:
    """``exc`` as Parley's storage error; ``where`` names the database (no password)."""
    if isinstance(exc, StorageError):
        return exc
    if is_gone(exc) or code(exc) in RETRY:
        return StorageUnavailable(f"mysql {where}: {describe(exc)}")
    return StorageError(f"mysql {where}: {describe(exc)}")


def lock_wait(timeout: float) -> int:
    """Seconds a statement waits for a row lock: half the timeout, at least 1."""
    return max(1, int(timeout / 2))


async def connect(url: DbUrl, *, timeout: float, autocommit: bool, database: bool = True) -> Conn:
    """A connection to ``url`` (its database unless ``database`` is false) in READ
    COMMITTED, strict mode, with bounded waits. Raises StorageUnavailable.

    Statements here never warn on purpose (``sql_notes = 0``; no ``INSERT IGNORE``, but
    ``ON DUPLICATE KEY UPDATE k = k``): asyncmy answers any warning with one more round
    trip (``SHOW WARNINGS``) and a log line."""
    conn = None
    try:
        conn = await asyncio.wait_for(
            asyncmy.connect(
                host=url.host,
                port=url.port,
                user=url.user,
                password=url.password,
                db=url.database if database else None,
                charset="utf8mb4",
                autocommit=autocommit,
                connect_timeout=timeout,
                read_timeout=timeout,
            ),
            timeout,
        )
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            await cur.execute(
                f"SET SESSION innodb_lock_wait_timeout = {lock_wait(timeout)}, sql_notes = 0, "
                "sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
            )
        return conn
    except Exception as exc:  # noqa: BLE001 - translated, the cause kept
        if conn is not None:
            conn.close()
        err = translate(exc, f"connect to {url.redacted()}")
        raise StorageUnavailable(str(err)) from exc


def discard(conn: Conn) -> None:
    """Closes ``conn`` without a goodbye (it may be broken or mid-transaction)."""
    with contextlib.suppress(Exception):
        conn.close()


async def rollback(conn: Conn) -> None:
    try:
        await conn.rollback()
    except Exception:  # noqa: BLE001 - a connection that cannot roll back is dropped
        discard(conn)


class Pool:
    """At most ``size`` connections to one database, each in autocommit mode, opened on
    first use and kept while they work. ``run`` is for reads; ``transaction`` for short
    writes (the directory's, admin commands). A connection that fails is closed."""

    def __init__(self, url: DbUrl, *, size: int, timeout: float) -> None:
        self.url = url
        self._timeout = timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[Conn] = []
        self._closed = False

    @contextlib.asynccontextmanager
    async def _slot(self):
        if self._closed:
            raise StorageUnavailable(f"mysql {self.url.redacted()}: closed")
        try:
            await asyncio.wait_for(self._slots.acquire(), self._timeout)
        except TimeoutError:
            raise StorageUnavailable(
                f"mysql {self.url.redacted()}: every connection stayed busy for {self._timeout:g} s"
            ) from None
        try:
            yield
        finally:
            self._slots.release()

    async def _take(self) -> tuple[Conn, bool]:
        while self._idle:
            conn = self._idle.pop()
            if conn.connected:
                return conn, False
        return await connect(self.url, timeout=self._timeout, autocommit=True), True

    def _give(self, conn: Conn) -> None:
        if self._closed or not conn.connected:
            discard(conn)
        else:
            self._idle.append(conn)

    async def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``await fn(cursor, *args)``, each statement its own transaction. A pooled
        connection found dead is replaced once (reads are safe to repeat)."""
        async with self._slot():
            while True:
                conn, fresh = await self._take()
                try:
                    async with conn.cursor() as cur:
                        result = await fn(cur, *args)
                except ApiError:
                    self._give(conn)
                    raise
                except Exception as exc:  # noqa: BLE001 - translated below
                    discard(conn)
                    if is_gone(exc) and not fresh:
                        continue
                    raise translate(exc, self.url.redacted()) from exc
                self._give(conn)
                return result

    async def transaction(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``await fn(cursor, *args)`` in one transaction, committed when it returns and
        rolled back when it raises (an ApiError passes through). Deadlocks, lock-wait
        timeouts and connections lost before the commit are retried (bounded)."""
        async with self._slot():
            for attempt in range(ATTEMPTS):
                conn, fresh = await self._take()
                committing = False
                try:
                    await conn.begin()
                    async with conn.cursor() as cur:
                        result = await fn(cur, *args)
                    committing = True
                    await conn.commit()
                except ApiError:
                    await rollback(conn)
                    self._give(conn)
                    raise
                except Exception as exc:  # noqa: BLE001 - translated below
                    retry = attempt < ATTEMPTS - 1
                    if is_gone(exc):
                        discard(conn)
                        if committing:
                            raise StorageUnavailable(
                                f"mysql {self.url.redacted()}: the connection was lost "
                                f"during COMMIT, the outcome is unknown ({describe(exc)})"
                            ) from exc
                        retry = retry and not fresh  # a new connection failing: server down
                    else:
                        await rollback(conn)
                        self._give(conn)
                        retry = retry and code(exc) in RETRY
                    if not retry:
                        raise translate(exc, self.url.redacted()) from exc
                    if code(exc) in RETRY:
                        await asyncio.sleep(0.005 * (attempt + 1))
                    continue
                self._give(conn)
                return result
            raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ensure_closed(), 1)
            discard(conn)


# -- databases and migrations ---------------------------------------------------------------


async def table_options(cur: Cursor) -> str:
    """InnoDB, utf8mb4 and a binary collation that does not ignore trailing spaces (as
    SQLite compares): ``utf8mb4_nopad_bin`` on MariaDB, ``utf8mb4_0900_bin`` on MySQL 8."""
    await cur.execute("SELECT VERSION()")
    version = (await cur.fetchone())[0]
    if "mariadb" in version.lower():
        collation = "utf8mb4_nopad_bin"
    elif int(version.split(".")[0]) >= 8:
        collation = "utf8mb4_0900_bin"
    else:  # pragma: no cover - MySQL 5.7
        collation = "utf8mb4_bin"
    return f"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"


async def prepare(
    url: DbUrl, component: str, steps: Sequence[Sequence[str]], *, timeout: float
) -> int:
    """Creates ``url``'s database if missing and brings ``component``'s schema in it to
    ``len(steps)``; returns the version. Safe from several processes at once (a named
    lock serializes them); a database newer than this Parley is a StorageError."""
    conn = await connect(url, timeout=timeout, autocommit=True, database=False)
    where = url.redacted()
    try:
        async with conn.cursor() as cur:
            options = await table_options(cur)
            charset = options.split("DEFAULT ", 1)[1]
            await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{url.database}` {charset}")
            await cur.execute(f"USE `{url.database}`")
            lock = f"parley-migrate:{url.database}"
            await cur.execute("SELECT GET_LOCK(%s, %s)", (lock, timeout))
            if (await cur.fetchone())[0] != 1:
                raise StorageUnavailable(f"mysql {where}: another process is migrating it")
            try:
                return await _migrate(cur, component, steps, options, where)
            finally:
                await cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
    except Exception as exc:  # noqa: BLE001 - translated
        raise translate(exc, where) from exc
    finally:
        discard(conn)


async def _migrate(
    cur: Cursor, component: str, steps: Sequence[Sequence[str]], options: str, where: str
) -> int:
    for statement in BOOKKEEPING:
        await cur.execute(statement.format(options=options))
    await cur.execute(
        "SELECT COALESCE(MAX(version), 0) FROM parley_migrations WHERE component = %s",
        (component,),
    )
    version = int((await cur.fetchone())[0])
    if version > len(steps):
        raise StorageError(
            f"mysql {where}: {component} schema v{version} is newer than this Parley "
            f"(v{len(steps)})"
        )
    for v in range(version, len(steps)):
        for statement in steps[v]:
            try:
                await cur.execute(statement.format(options=options))
            except my.MySQLError as exc:
                if code(exc) not in DONE:
                    raise
        await cur.execute(
            "INSERT INTO parley_migrations (component, version, applied) VALUES (%s, %s, %s)",
            (component, v + 1, int(time.time() * 1_000_000)),
        )
        log.info("mysql %s: %s schema v%d", where, component, v + 1)
    return len(steps)
