"""Parley's HTTP/1.1 server: asyncio protocols on the process's event loop around the
sans-I/O :mod:`parley.api.h1` reader.

Why its own: the Web API's handlers, the store, the bus and the gateway share one event
loop, and a request that crosses into another thread and back pays for it. Granian (the
server before this one) parses in Rust threads that take the GIL to call into the loop
and again for each answer. Here the loop reads, parses (httptools: llhttp, the parser
uvicorn uses), runs the app and writes, with no thread in between: a request through
``Api.handle`` costs the server about a third less CPU than through Granian (21-34 µs
against 34-49, ``docs/architecture.md``).

A connection answers its requests one at a time, in the order they came (keep-alive and
pipelining). The app is ``async (Request) -> Response``; an exception escaping it is
logged and answered 500 ``fatal_error``, and that connection closes. A client that goes
away does not cancel the request being answered (a post it stopped waiting for still
happens, as if the answer had been lost on the way).

Timeouts (``header_timeout`` seconds): a connection with no request in progress (just
accepted, or idle after an answer) must deliver a whole head within that time, and a body
must not stall for longer; else the connection is closed (by a sweep that runs every
quarter of ``header_timeout``, at most every second: a deadline per connection is one
float to set per request, where a timer would be an object to make and cancel). While
the app works on a request, no timeout runs.

Back-pressure: a client that pipelines more than ``MAX_QUEUED`` requests is not read
from until they are answered; one that does not read its answers is not answered further
until its socket buffer drains.

:meth:`HttpServer.wind_down` starts a drain behind a load balancer that keeps
connections open to its servers: every answer from then on says ``connection: close``
and closes its connection, while the listener and the idle connections stay open, so
whatever the balancer still sends before its health checks take the node out (on a new
connection or one it kept) is answered, never refused or cut off.
:meth:`HttpServer.close` stops accepting, closes idle connections, lets those with a
request in progress finish it (answered with ``connection: close``), and after ``grace``
seconds aborts what is left.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable

from parley.api.dispatch import Response, error_response
from parley.api.h1 import (
    CONTINUE,
    CONTINUE_BYTES,
    DateHeader,
    Refusal,
    Request,
    RequestReader,
    encode_response,
    refusal_response,
)
from parley.errors import ApiError, Code

log = logging.getLogger(__name__)

App = Callable[[Request], Awaitable[Response]]
#: Pipelined requests read ahead of the answers before a connection stops being read.
MAX_QUEUED = 16
_FATAL = error_response(ApiError(Code.FATAL_ERROR, status=500))
#: Connections the kernel queues before they are accepted.
BACKLOG = 2048


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: one the OS picks).

    Raises ``OSError`` (``EADDRINUSE``) if something already listens there: the socket
    does not share its port (no ``SO_REUSEPORT``), so a second server cannot quietly take
    half of the first one's connections.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class HttpServer:
    """Serves ``app`` on a listening socket (:func:`listen`) with the bounds of
    :class:`~parley.api.h1.RequestReader` and the timeouts above."""

    def __init__(
        self,
        app: App,
        *,
        max_header: int,
        max_body: int,
        header_timeout: float,
        max_headers: int = 100,
        upload: tuple[str, int] | None = None,
    ) -> None:
        self.app = app
        self._limits = {
            "max_header": max_header,
            "max_headers": max_headers,
            "max_body": max_body,
            "upload": upload,
        }
        self.header_timeout = header_timeout
        self.date = DateHeader()
        self._connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        #: Set by :meth:`close`: requests in progress are the last of their connections.
        self.closing = False
        #: Set by :meth:`wind_down`: every answer is the last of its connection.
        self.winding_down = False

    async def start(self, sock: socket.socket) -> None:
        """Accepts connections on ``sock`` from now on."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.protocol, sock=sock, backlog=BACKLOG)
        self._sweep()

    def protocol(self) -> asyncio.Protocol:
        """A new connection's asyncio protocol (what :meth:`start` gives each connection
        it accepts; ``docs/bench/pipeline.py`` drives one over a stand-in transport)."""
        return _Connection(self)

    def _sweep(self) -> None:
        """Closes the connections past their deadline; runs again in a while."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for conn in list(self._connections):
            conn.check(now)
        self._sweeper = loop.call_later(min(1.0, self.header_timeout / 4), self._sweep)

    def reader(self) -> RequestReader:
        """A new connection's reader, with this server's bounds."""
        return RequestReader(**self._limits)

    def opened(self, conn: _Connection) -> None:
        self._connections.add(conn)
        self._idle.clear()

    def closed(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        if not self._connections:
            self._idle.set()

    def wind_down(self) -> None:
        """From now on every answer carries ``connection: close`` and its connection
        closes after it; nothing is refused and no idle connection is closed (see the
        module's docstring)."""
        self.winding_down = True

    async def close(self, grace: float = 5.0) -> None:
        """Stops accepting; idle connections close now, busy ones after their answer;
        any left after ``grace`` seconds are aborted."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.shut_if_idle()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            for conn in list(self._connections):
                conn.abort()
        if self._server is not None:
            await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    """One client connection: reads requests, answers them in order."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._reader = server.reader()
        self._queue: deque[Request | Refusal] = deque()
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task | None = None
        #: When this connection is closed unless a whole head (or more body) has come
        #: (``loop.time()``); ``None`` while the app answers.
        self._deadline: float | None = None
        self._loop = asyncio.get_running_loop()
        self._reading = True
        self._drained: asyncio.Future | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance check
        self._transport = transport  # type: ignore[assignment]
        self._server.opened(self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._transport = None
        # a request being answered is not cancelled (a post the client gave up waiting
        # for still happens, as it would had the answer been lost on the way); the
        # pipelined ones behind it are dropped
        self._queue.clear()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._server.closed(self)

    def data_received(self, data: bytes) -> None:
        events = self._reader.feed(data)
        for event in events:
            if event is CONTINUE:
                assert self._transport is not None
                self._transport.write(CONTINUE_BYTES)
            else:
                self._queue.append(event)  # type: ignore[arg-type]
        if self._queue:
            self._disarm()  # the app has work: no timeout while it answers
            if self._task is None:
                self._task = self._loop.create_task(self._answer())
            if len(self._queue) > MAX_QUEUED and self._reading:
                self._reading = False
                self._transport.pause_reading()  # type: ignore[union-attr]
        elif self._task is None and self._reader.in_body:
            self._arm()  # a body must keep coming

    def pause_writing(self) -> None:
        self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # answering

    async def _answer(self) -> None:
        """Answers the queued requests in order; ends when the queue is empty."""
        server, queue = self._server, self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, Refusal):
                self._finish(refusal_response(item, server.date.line()), close=True)
                return
            keep_alive = item.keep_alive
            try:
                response = await server.app(item)
            except Exception:
                log.exception("HTTP %s %s failed", item.method, item.path)
                response, keep_alive = _FATAL, False
            close = not keep_alive or server.closing or server.winding_down
            data = encode_response(
                response.status,
                response.headers,
                response.body,
                date=server.date.line(),
                head=item.method == "HEAD",
                close=close,
            )
            if self._finish(data, close):
                return
            if self._drained is not None:
                await self._drained
        self._task = None
        if self._transport is None:
            return
        if server.closing:
            self._transport.close()
            return
        if not self._reading:
            self._reading = True
            self._transport.resume_reading()
        self._arm()

    def _finish(self, data: bytes, close: bool) -> bool:
        """Writes an answer; closes after it when ``close``. Whether the connection is done."""
        transport = self._transport
        if transport is None:
            return True
        transport.write(data)
        if close:
            self._task = None
            transport.close()
            return True
        return False

    # timeouts and closing

    def _arm(self) -> None:
        self._deadline = self._loop.time() + self._server.header_timeout

    def _disarm(self) -> None:
        self._deadline = None

    def check(self, now: float) -> None:
        """For the server's sweep: closes the connection if its deadline has passed."""
        deadline = self._deadline
        if deadline is not None and now >= deadline and self._task is None:
            self._deadline = None
            if self._transport is not None:
                self._transport.close()

    def shut_if_idle(self) -> None:
        """For :meth:`HttpServer.close`: closes now unless a request is being answered."""
        if self._task is None and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
