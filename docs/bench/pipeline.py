"""The send path's CPU on the event loop, in one process, without sockets.

Starts Parley's services on a temporary data dir (embedded defaults), with one poster
and ``--channels`` channels, each followed by ``--subscribers`` stand-in connections
registered with the hub (they count what they get). Then ``--posters`` clients post
``--per`` messages each, entering the server at ``--via``:

- ``sender``: ``Sender.post``, the pipeline itself: the checks, the shard's write and
  its group commit, the settling, the event, the bus, the consumer, the hub, and the
  search indexer following;
- ``api``: ``Api.handle`` for ``chat.postMessage`` with a JSON body and a bearer token,
  so the Web API's layer too: the body, the token, the scopes, the arguments, the
  answer's JSON;
- ``http``: the request's bytes into the HTTP server's connection protocol over a
  stand-in transport, so the HTTP/1.1 reader, the routing and the answer's encoding too
  (the stand-in clients build each request and wait for its answer on the same loop, a
  microsecond or two of the figure).

It waits until every message reached every stand-in and prints the event loop thread's
CPU time per message (``time.thread_time``), which the machine's other processes do not
blur as they blur latency: a change on the send path can be measured to a few tenths of
a microsecond by running this a few times before and after, in turns. What it leaves
out: the gateway (frames in, the acknowledgement, the connections' writes) and the
kernel's network stack. ``--profile`` prints cProfile's top functions.

    python docs/bench/pipeline.py [--via sender|api|http] [--channels 100]
                                  [--posters 128] [--per 400] [--subscribers 1] [--profile]

See docs/benchmarks.md, "2026-12-06, 18:00 UTC".
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable

import orjson
import uvloop

from parley import admin, app
from parley.api.h1server import HttpServer
from parley.api.http import HttpApp
from parley.bus.interface import Event
from parley.config import Settings
from parley.server import tune_gc

WARM_UP = 20  # messages per poster before the measure
HOST = "127.0.0.1:8080"


class StandIn:
    """A connection as the hub sees it, counting deliveries."""

    __slots__ = ("user_id", "team_id", "delivered")

    def __init__(self, user_id: str, team_id: str) -> None:
        self.user_id, self.team_id, self.delivered = user_id, team_id, 0

    def deliver(self, event: Event) -> None:
        self.delivered += 1

    def joined(self, notice: Event) -> None:
        pass


class Transport:
    """An HTTP connection's transport as the server sees it: keeps the last answer and
    wakes whoever waits for it."""

    def __init__(self) -> None:
        self.answer = b""
        self.waiter: asyncio.Future | None = None

    def write(self, data: bytes) -> None:
        self.answer = data
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _request(token: str, body: bytes) -> bytes:
    return (
        f"POST /api/chat.postMessage HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def measure(args: argparse.Namespace, data_dir: str) -> float:
    """The loop thread's CPU seconds per message."""
    settings = Settings.load(data_dir=data_dir, loop_priority=0, gateway_port=0)
    poster = admin.create_user(settings, "poster", rate_limit=100_000)
    channels = [
        admin.ensure_channel(settings, poster.team_id, f"c{i}", poster.user_id, [poster.user_id])
        for i in range(args.channels)
    ]
    services = await app.start(settings)
    try:
        user = await services.auth.authenticate(poster.token)
        http = HttpServer(
            HttpApp(services.api, fallback_host=HOST),
            max_header=settings.max_header,
            max_body=settings.max_body,
            header_timeout=settings.header_timeout,
        )
        stand_ins = []
        for channel in channels:
            for k in range(args.subscribers):
                stand_in = StandIn(f"USTANDIN{k}", poster.team_id)
                services.hub.add(stand_in, [channel.id])
                stand_ins.append(stand_in)
        await services.consumer.listen([c.id for c in channels])
        tune_gc()

        def by_sender(channel: str) -> Callable[[str], Awaitable[None]]:
            async def post(text: str) -> None:
                await services.sender.post(user, channel, text)

            return post

        def by_api(channel: str) -> Callable[[str], Awaitable[None]]:
            async def post(text: str) -> None:
                answer = await services.api.handle(
                    http_method="POST",
                    name="chat.postMessage",
                    query="",
                    content_type="application/json",
                    body=orjson.dumps({"channel": channel, "text": text}),
                    authorization=f"Bearer {poster.token}",
                    base_url=f"http://{HOST}/",
                )
                assert answer.status == 200, answer.body

            return post

        def by_http(channel: str) -> Callable[[str], Awaitable[None]]:
            connection = http.protocol()
            transport = Transport()
            connection.connection_made(transport)  # type: ignore[arg-type]

            async def post(text: str) -> None:
                body = orjson.dumps({"channel": channel, "text": text})
                transport.waiter = asyncio.get_running_loop().create_future()
                connection.data_received(_request(poster.token, body))  # type: ignore[attr-defined]
                await transport.waiter
                assert transport.answer.startswith(b"HTTP/1.1 200"), transport.answer[:300]

            return post

        entry = {"sender": by_sender, "api": by_api, "http": by_http}[args.via]
        posters = [entry(channels[j % len(channels)].id) for j in range(args.posters)]

        async def post(j: int, count: int) -> None:
            for k in range(count):
                await posters[j](f"message {k} of poster {j}")

        await asyncio.gather(*(post(j, WARM_UP) for j in range(args.posters)))
        profile = cProfile.Profile() if args.profile else None
        began = time.thread_time()
        if profile is not None:
            profile.enable()
        await asyncio.gather(*(post(j, args.per) for j in range(args.posters)))
        expected = args.posters * (WARM_UP + args.per) * args.subscribers
        while sum(s.delivered for s in stand_ins) < expected:
            await asyncio.sleep(0.001)
        if profile is not None:
            profile.disable()
        spent = time.thread_time() - began
    finally:
        await services.close()
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
    return spent / (args.posters * args.per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--via", choices=("sender", "api", "http"), default="sender")
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--posters", type=int, default=128)
    parser.add_argument("--per", type=int, default=400, help="messages per poster")
    parser.add_argument("--subscribers", type=int, default=1, help="stand-ins per channel")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        per = uvloop.run(measure(args, data_dir))
    print(f"{per * 1e6:.1f} us of the event loop's CPU a message (via {args.via})")


if __name__ == "__main__":
    main()
