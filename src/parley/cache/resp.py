"""A lean pipelined connection to Redis, for what a node sends it per message: the rate
checks and the recent buffer's writes.

Why not redis-py there: its asyncio pipeline costs the event loop about 200 µs a round
trip (taking a connection from the pool, its retry wrapper, a timeout scope per answer,
encoding every argument in Python), against about 50 µs for the same ``EVALSHA`` sent
as below; with Redis a node made two such pipelines per message (three round trips with
the ``SCRIPT EXISTS`` redis-py's script helper sends first), most of the extra CPU a
message cost it over the embedded defaults. Everything else (tickets, presence,
evictions, reads) keeps redis-py.

:class:`RespLink` holds one connection. :meth:`~RespLink.execute` packs a batch of
commands with hiredis, writes it at once and matches the answers, in order, from
hiredis's reader. The contract:

- A batch is a pipeline, not a transaction: the commands run in order, others' may run
  between them. The answers come back in order; the first error answer is raised once
  all are read, as redis-py's pipeline does (``NoScriptError`` for ``NOSCRIPT``, else
  ``ResponseError``).
- Batches of concurrent callers are written in call order on the one connection and
  answered in that order.
- A connection that fails, is closed, sends what cannot be read, or leaves a batch
  unanswered for ``timeout`` seconds is dropped, and every batch waiting on it fails
  with redis-py's ``ConnectionError`` or ``TimeoutError``. A connection is never used
  again after an error, so an answer is never matched to another batch; the next call
  connects anew.
- The errors are redis-py's (:data:`parley.cache.redis_client.FAILURES`), so callers
  handle them as they handle the rest of the cache package's; with ``breakers`` each
  call goes through the node's ``redis`` circuit breaker, as :class:`GuardedRedis`'s do.

URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS, the system's
certificate authorities) and ``unix://path[?db=N]``; any other option in the URL is a
:class:`ConfigError` rather than a setting silently ignored.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.exceptions as rx
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

from parley.cache.redis_client import BREAKER, OUTAGES, refused
from parley.errors import ConfigError
from parley.resilience.board import Breakers

#: A command: its name and arguments (``str``, ``bytes``, ``int`` or ``float``).
Command = tuple[Any, ...]

_KNOWN = {"host", "port", "db", "username", "password", "path", "connection_class"}


class RespLink:
    """One pipelined connection to the Redis at ``url``, opened on first use."""

    def __init__(self, url: str, *, timeout: float = 2.0, breakers: Breakers | None = None):
        params = parse_url(url)
        unknown = set(params) - _KNOWN
        if unknown:
            raise ConfigError(f"PARLEY_REDIS_URL: options not supported: {sorted(unknown)}")
        self._params = params
        self._timeout = timeout
        self._breakers = breakers
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """The answers to ``commands``, sent as one pipeline (see the module's contract)."""
        if self._breakers is None:
            return await self._execute(commands)
        return await self._breakers.run(
            BREAKER, lambda: self._execute(commands), failures=OUTAGES, refused=refused
        )

    async def close(self) -> None:
        """Drops the connection; what waits on it fails with ``ConnectionError``, and
        later calls fail the same way."""
        self._closed = True
        if self._conn is not None:
            self._conn.abort(rx.ConnectionError("Redis link closed"))
            self._conn = None

    async def _execute(self, commands: Sequence[Command]) -> list[Any]:
        conn = self._conn
        if conn is None or conn.failed:
            conn = await self._connect()
        return _raise_first_error(await conn.send(commands))

    async def _connect(self) -> _Connection:
        async with self._lock:
            if self._closed:
                raise rx.ConnectionError("Redis link closed")
            if self._conn is None or self._conn.failed:
                self._conn = await self._open()
            return self._conn

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        p = self._params

        def make() -> _Connection:
            return _Connection(loop, self._timeout)

        try:
            async with asyncio.timeout(self._timeout):
                if p.get("connection_class") is UnixDomainSocketConnection:
                    _, conn = await loop.create_unix_connection(make, p["path"])
                else:
                    tls = p.get("connection_class") is SSLConnection
                    _, conn = await loop.create_connection(
                        make,
                        p.get("host", "localhost"),
                        p.get("port", 6379),
                        ssl=ssl.create_default_context() if tls else None,
                    )
                hello: list[Command] = []
                if p.get("password"):
                    user = p.get("username")
                    hello.append(("AUTH", user, p["password"]) if user else ("AUTH", p["password"]))
                if p.get("db"):
                    hello.append(("SELECT", p["db"]))
                if hello:
                    try:
                        _raise_first_error(await conn.send(hello))
                    except BaseException:
                        conn.abort(rx.ConnectionError("Redis refused AUTH or SELECT"))
                        raise
        except TimeoutError as exc:  # asyncio.timeout's
            raise rx.TimeoutError(f"Redis: no connection within {self._timeout} s") from exc
        except OSError as exc:
            raise rx.ConnectionError(f"Redis unreachable: {exc}") from exc
        return conn


def _raise_first_error(answers: list[Any]) -> list[Any]:
    for answer in answers:
        if isinstance(answer, rx.ResponseError):
            if str(answer).startswith("NOSCRIPT"):
                raise rx.NoScriptError(str(answer))
            raise answer
    return answers


class _Batch:
    __slots__ = ("count", "answers", "future", "due")

    def __init__(self, count: int, future: asyncio.Future, due: float) -> None:
        self.count = count
        self.answers: list[Any] = []
        self.future = future
        self.due = due


class _Connection(asyncio.Protocol):
    """The protocol of one connection: batches waiting for their answers, in the order
    they were written, and a timer that drops the connection when the oldest is due."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader(replyError=rx.ResponseError)
        self._waiting: deque[_Batch] = deque()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: True once the connection is lost or dropped: it is never written to again.
        self.failed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(rx.ConnectionError(f"Redis closed the connection: {exc or 'end of stream'}"))

    def send(self, commands: Sequence[Command]) -> asyncio.Future:
        """Writes ``commands`` at once; the future gets their answers, in order."""
        if self.failed or self._transport is None:
            raise rx.ConnectionError("Redis connection lost")
        batch = _Batch(len(commands), self._loop.create_future(), self._loop.time() + self._timeout)
        if not commands:
            batch.future.set_result([])
            return batch.future
        self._transport.write(b"".join([hiredis.pack_command(c) for c in commands]))
        self._waiting.append(batch)
        if self._timer is None:
            self._timer = self._loop.call_at(batch.due, self._expire)
        return batch.future

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        waiting = self._waiting
        try:
            while (answer := self._reader.gets()) is not False:
                if not waiting:
                    raise hiredis.ProtocolError("an answer to nothing asked")
                batch = waiting[0]
                batch.answers.append(answer)
                if len(batch.answers) == batch.count:
                    waiting.popleft()
                    if not batch.future.done():  # its caller may have been cancelled
                        batch.future.set_result(batch.answers)
        except hiredis.ProtocolError as exc:
            self.abort(rx.ConnectionError(f"Redis sent what cannot be read: {exc}"))

    def abort(self, error: Exception) -> None:
        """Fails every waiting batch with ``error`` and drops the connection."""
        self._fail(error)
        if self._transport is not None:
            self._transport.abort()

    def _expire(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        due = self._waiting[0].due
        if self._loop.time() >= due:
            self.abort(rx.TimeoutError(f"Redis did not answer within {self._timeout} s"))
        else:
            self._timer = self._loop.call_at(due, self._expire)

    def _fail(self, error: Exception) -> None:
        self.failed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, deque()
        for batch in waiting:
            if not batch.future.done():
                batch.future.set_exception(error)
