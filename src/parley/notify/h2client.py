"""A lean HTTP/2 client for the push providers: one TLS connection to one origin, many
requests multiplexed on it, on the ``h2`` protocol library.

Why not httpx (which the providers' token exchange still uses): httpx's layers cost
about 1 ms of CPU per request; this costs a fifth of that. Against the local APNs in
one process, 5,000 pushes 100 at a time ran at 660/s through httpx and 2,130/s through
this (``docs/benchmarks.md``), and a push worker's CPU is what bounds its pushes/s.

Contract:

- :meth:`H2Client.request` sends one request and returns ``(status, headers, body)``;
  it raises :class:`TransportError` when the connection could not be made, was lost or
  closed by the server (GOAWAY) before the answer, the stream was reset, or no answer
  came within ``timeout`` seconds. A request never sent (refused by GOAWAY, or waiting
  when the connection failed) raises the same: the caller retries it.
- At most the server's ``SETTINGS_MAX_CONCURRENT_STREAMS`` requests are open at once;
  more wait for a slot. Request bodies respect flow control (buffered until the
  server's windows open).
- The connection is made on the first request and made again on the next request after
  it is lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings


class TransportError(ConnectionError):
    """The request got no answer (see the module's contract)."""


Answer = tuple[int, dict[str, str], bytes]


class _Stream:
    __slots__ = ("answer", "headers", "body")

    def __init__(self, answer: asyncio.Future) -> None:
        self.answer = answer
        self.headers: dict[str, str] = {}
        self.body = bytearray()


class _Connection(asyncio.Protocol):
    def __init__(self, authority: str) -> None:
        self._authority = authority
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._unsent: dict[int, memoryview] = {}
        self.closed = False
        #: Requests waiting for a stream, and how many may be open (until the server's
        #: settings say, h2's default).
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._limit = 100

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            received = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(f"protocol error: {exc}")
            return
        for ev in received:
            self._on(ev)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "connection closed")

    # -- events ---------------------------------------------------------------------------

    def _on(self, ev: h2.events.Event) -> None:
        if isinstance(ev, h2.events.ResponseReceived):
            stream = self._streams.get(ev.stream_id)
            if stream is not None:
                stream.headers = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            stream = self._streams.get(ev.stream_id)
            if stream is not None:
                stream.body.extend(ev.data)
            self._h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self._finish(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self._end(ev.stream_id, TransportError(f"stream reset ({ev.error_code})"))
        elif isinstance(ev, h2.events.WindowUpdated):
            self._send_unsent()
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            changed = ev.changed_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
            if changed is not None:
                self._limit = max(1, changed.new_value)
                self._wake()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self._fail(f"GOAWAY ({ev.error_code})", last=ev.last_stream_id)

    def _finish(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        status = int(stream.headers.get(":status", "0") or 0)
        self._end(stream_id, (status, stream.headers, bytes(stream.body)))

    def _end(self, stream_id: int, outcome: Answer | Exception) -> None:
        stream = self._streams.pop(stream_id, None)
        self._unsent.pop(stream_id, None)
        if stream is None or stream.answer.done():
            return
        if isinstance(outcome, Exception):
            stream.answer.set_exception(outcome)
        else:
            stream.answer.set_result(outcome)
        self._wake()

    def _fail(self, why: str, last: int | None = None) -> None:
        """Fails every open stream (above ``last`` only, for a GOAWAY that lets the
        streams it already took finish) and marks the connection unusable."""
        self.closed = True
        for stream_id in list(self._streams):
            if last is None or stream_id > last:
                self._end(stream_id, TransportError(why))
        if last is None and self._transport is not None:
            self._transport.abort()
        self._wake()

    def _wake(self) -> None:
        """Lets waiting requests take the streams now free (all of them, to fail, once
        the connection is closed)."""
        free = len(self._waiting) if self.closed else self._limit - len(self._streams)
        while free > 0 and self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    # -- sending --------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            data = self._h2.data_to_send()
            if data:
                self._transport.write(data)

    def _send_unsent(self) -> None:
        for stream_id in list(self._unsent):
            body = self._unsent[stream_id]
            window = self._h2.local_flow_control_window(stream_id)
            n = min(len(body), window, self._h2.max_outbound_frame_size)
            if n <= 0 and body:
                continue
            self._h2.send_data(stream_id, body[:n].tobytes(), end_stream=n == len(body))
            if n == len(body):
                del self._unsent[stream_id]
            else:
                self._unsent[stream_id] = body[n:]

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, asyncio.Future]:
        """Sends the request once a stream is free; its stream and the future of its
        answer."""
        while not self.closed and len(self._streams) >= self._limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter
        if self.closed:
            raise TransportError("connection closed")
        stream_id = self._h2.get_next_available_stream_id()
        answer = asyncio.get_running_loop().create_future()
        self._streams[stream_id] = _Stream(answer)
        head = [
            (":method", method),
            (":scheme", "https"),
            (":authority", self._authority),
            (":path", path),
            *headers.items(),
            ("content-length", str(len(body))),
        ]
        try:
            self._h2.send_headers(stream_id, head, end_stream=not body)
            if body:
                self._unsent[stream_id] = memoryview(body)
                self._send_unsent()
        except h2.exceptions.H2Error as exc:
            self._end(stream_id, TransportError(f"cannot send: {exc}"))
        self._flush()
        return stream_id, answer

    def cancel(self, stream_id: int, why: str = "cancelled") -> None:
        """Gives up on a request (its answer fails with ``why``): its stream is reset and
        freed."""
        if stream_id in self._streams and not self.closed:
            with contextlib.suppress(h2.exceptions.H2Error):
                self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                self._flush()
        self._end(stream_id, TransportError(why))

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            with contextlib.suppress(h2.exceptions.H2Error):
                self._h2.close_connection()
                self._flush()
            self._transport.close()
        self.closed = True


class H2Client:
    """Requests to the origin of ``url`` (``https://host[:port]``) over one connection."""

    def __init__(
        self, url: str, verify: ssl.SSLContext | bool = True, timeout: float = 10.0
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"an https origin is needed, not {url!r}")
        self._host, self._port = parts.hostname, parts.port or 443
        self._authority = parts.netloc
        if isinstance(verify, ssl.SSLContext):
            self._ssl = verify
        else:
            self._ssl = ssl.create_default_context()
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._ssl.set_alpn_protocols(["h2"])
        self._timeout = timeout
        self._conn: _Connection | None = None
        self._connecting = asyncio.Lock()

    async def _connection(self) -> _Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        async with self._connecting:
            if self._conn is None or self._conn.closed:
                loop = asyncio.get_running_loop()
                try:
                    _, conn = await asyncio.wait_for(
                        loop.create_connection(
                            lambda: _Connection(self._authority),
                            self._host,
                            self._port,
                            ssl=self._ssl,
                            server_hostname=self._host,
                        ),
                        self._timeout,
                    )
                except (OSError, TimeoutError, ssl.SSLError) as exc:
                    raise TransportError(f"cannot connect: {exc!r}") from exc
                self._conn = conn
            return self._conn

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Answer:
        conn = await self._connection()
        stream_id, answer = await conn.request(method, path, headers, body)
        why = f"no answer in {self._timeout:g} s"
        timer = asyncio.get_running_loop().call_later(self._timeout, conn.cancel, stream_id, why)
        try:
            return await answer
        except asyncio.CancelledError:
            conn.cancel(stream_id)
            raise
        finally:
            timer.cancel()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
