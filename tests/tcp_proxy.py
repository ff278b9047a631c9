"""Test support: a TCP proxy in front of a real server (MariaDB), which a test cuts to
make the server unreachable and restores, on the same port.

While cut, the port refuses connections (nothing listens) and every connection that was
open is reset: what a client sees when the server's host goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from parley.server import free_port


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``(host, target_port)`` on a thread of its own."""

    def __init__(self, host: str, target_port: int) -> None:
        self._target = (host, target_port)
        self.port = free_port("127.0.0.1")
        #: Connections accepted since the start (each one forwarded).
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self, coro) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def cut(self) -> None:
        """Stops listening (new connections are refused) and resets the open ones."""
        self._run(self._cut())

    def restore(self) -> None:
        """Listens again on the same port."""
        self._run(self._listen())

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()  # an RST, not a polite close
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
