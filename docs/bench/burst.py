"""One client's burst on one WebSocket: how fast a single connection's sends get through.

Starts ``parley serve`` (embedded defaults) on a temporary data dir, makes a user whose
limits allow the burst and a channel, then, ``--rounds`` times, opens an RTM connection,
sends ``--sends`` messages to the channel at once and times them from the first send to
the last answer (every answer must be ``ok``). This is what a bot or an importer posting
over one socket sees; ``parley bench`` spreads its load over 128 connections and does
not show it. ``--sends`` is at most 256, the commands one connection may hold (more are
answered ``ratelimited``).

    python docs/bench/burst.py [--sends 200] [--rounds 5]

See docs/benchmarks.md, "2026-12-07, 01:00 UTC".
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import urllib.request

import orjson
from picows import WSListener, WSMsgType, ws_connect

from parley import admin
from parley.config import Settings
from parley.server import free_port


class Answers(WSListener):
    """Counts the answers (frames with ``reply_to``); wakes ``done`` at ``expected``."""

    def __init__(self) -> None:
        self.hello = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.expected = 0
        self.answered = 0

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        data = orjson.loads(frame.get_payload_as_bytes())
        if data.get("type") == "hello" and not self.hello.done():
            self.hello.set_result(None)
        elif "reply_to" in data:
            if not data.get("ok"):
                self.done.set_exception(RuntimeError(f"send refused: {data}"))
                return
            self.answered += 1
            if self.answered == self.expected and not self.done.done():
                self.done.set_result(None)


async def burst(url: str, channel: str, sends: int) -> float:
    """Seconds from the first of ``sends`` sends to the last answer."""
    transport, client = await ws_connect(Answers, url)
    await client.hello
    client.expected = sends
    began = time.perf_counter()
    for i in range(sends):
        frame = {"id": i, "type": "message", "channel": channel, "text": f"burst {i}"}
        transport.send(WSMsgType.TEXT, orjson.dumps(frame))
    await asyncio.wait_for(client.done, 60)
    took = time.perf_counter() - began
    transport.disconnect()
    return took


def rtm_url(api: str, token: str) -> str:
    request = urllib.request.Request(
        f"{api}/api/rtm.connect", data=b"{}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return orjson.loads(resp.read())["url"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = free_port("127.0.0.1")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.load(data_dir=data_dir)
        user = admin.create_user(settings, "burster", rate_limit=100_000)
        channel = admin.ensure_channel(settings, user.team_id, "burst", user.user_id, [])
        server = subprocess.Popen(
            [sys.executable, "-m", "parley", "serve", "--port", str(port)]
            + ["--gateway-port", "0", "--data-dir", data_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{api}/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            for _ in range(args.rounds):
                took = asyncio.run(burst(rtm_url(api, user.token), channel.id, args.sends))
                print(
                    f"{args.sends} sends on one connection: {took * 1000:.1f} ms, "
                    f"{args.sends / took:,.0f} msg/s"
                )
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
