"""The same-run bare limits, each in a process of its own and none of it Parley code: a
minimal uvloop + httptools JSON echo (every HTTP send figure is divided by it) and a
minimal picows broadcast (every fan-out figure is divided by it)."""

from __future__ import annotations

import asyncio
import time

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


# -- WebSocket broadcast ----------------------------------------------------------------


def broadcast_payload(i: int, sched_ns: int) -> bytes:
    """A frame shaped and sized like Parley's ``message`` event for bench message ``i``."""
    return orjson.dumps(
        {
            "type": "message",
            "channel": "C0BASELINE0",
            "user": "U0BASELINE0",
            "text": f"{sched_ns} bench message {i}",
            "ts": f"{1_700_000_000 + i}.000000",
            "team": "T0BASELINE0",
            "seq": i + 1,
            "edit_version": 0,
            "event_ts": f"{1_700_000_000 + i}.000000",
        }
    )


def serve_broadcast(port: int, ready, go, frames: int) -> None:
    """Process target: the same-run bare WebSocket broadcast. Greets each connection with
    ``hello``; once ``go`` is set, writes ``frames`` frames to every connection as fast
    as the sockets take them (a loop over ``transport.send``, waiting only when a
    client's buffer passes 1 MiB)."""
    from picows import WSListener, WSMsgType, ws_create_server

    transports: list = []

    class Peer(WSListener):
        def on_ws_connected(self, transport) -> None:
            transports.append(transport)
            transport.send(WSMsgType.TEXT, b'{"type":"hello"}')

    async def main() -> None:
        await ws_create_server(lambda _request: Peer(), "127.0.0.1", port)
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.01)
        for i in range(frames):
            payload = broadcast_payload(i, time.monotonic_ns())
            for transport in transports:
                transport.send(WSMsgType.TEXT, payload)
            while max(t.underlying_transport.get_write_buffer_size() for t in transports) > 1 << 20:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
        await asyncio.Event().wait()

    uvloop.run(main())
