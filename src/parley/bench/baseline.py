"""The same-run bare limit: a minimal uvloop + httptools JSON echo, the reference every
HTTP figure is divided by. Runs in its own process; not Parley code."""

from __future__ import annotations

import asyncio

import httptools
import orjson
import uvloop

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "


class _Echo(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.body = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        payload = orjson.dumps({"ok": True, "echo": orjson.loads(self.body or b"{}")})
        self.body = bytearray()
        self.transport.write(_HEAD + str(len(payload)).encode() + b"\r\n\r\n" + payload)


def serve_echo(port: int, ready) -> None:
    """Process target: serve the echo on 127.0.0.1:``port``; sets ``ready`` once bound."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(_Echo, "127.0.0.1", port, backlog=2048)
        ready.set()
        await asyncio.Event().wait()

    uvloop.run(main())
