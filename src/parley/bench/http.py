"""A small, fast HTTP/1.1 client for the load generator: keep-alive connections, one
request in flight per connection, responses parsed by httptools. Used for both the
baseline echo and the scenario so the two are measured by the same instrument."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from urllib.parse import urlsplit

import httptools
import orjson


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.waiter: asyncio.Future | None = None
        self.lost = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        status, body = self.parser.get_status_code(), bytes(self.body)
        self.body = bytearray()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))


class Pool:
    """``size`` keep-alive connections to one host; :meth:`post` waits for a free one."""

    def __init__(self, url: str, size: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.size = size
        self._idle: deque[_Conn] = deque()
        self._waiters: deque[asyncio.Future] = deque()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            _, conn = await loop.create_connection(_Conn, self.host, self.port)
            self._idle.append(conn)

    def close(self) -> None:
        for conn in self._idle:
            conn.transport.close()

    async def post(self, path: str, body: bytes, token: str | None = None) -> tuple[int, bytes]:
        if self._idle:
            conn = self._idle.popleft()
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            conn = await waiter
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        conn.waiter = asyncio.get_running_loop().create_future()
        conn.transport.write(request)
        try:
            return await conn.waiter
        finally:
            conn.waiter = None
            if not conn.lost:
                if self._waiters:
                    self._waiters.popleft().set_result(conn)
                else:
                    self._idle.append(conn)


async def closed_loop(
    url: str, path: str, body: bytes, *, connections: int, seconds: float
) -> float:
    """Requests per second with every connection busy for ``seconds``."""
    pool = Pool(url, connections)
    await pool.open()
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            await pool.post(path, body)
            done += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - start
    pool.close()
    return done / elapsed


def decode(body: bytes) -> dict:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"ok": False, "error": "bad_response"}
    return value if isinstance(value, dict) else {"ok": False, "error": "bad_response"}
