"""Test support: an RTM client that holds its place in one channel across reconnects."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient


class Subscriber:
    """Follows ``channel`` from ``start`` (the last seq it holds): connects with
    ``rtm.connect(resume=...)``, records every new-message ``seq`` it receives, and when
    its connection drops (or cannot be made) connects again, resuming from the last seq
    it holds, as a client that plays its part does. It removes nothing: duplicates and
    disorder are left for the test to see. ``rewrite`` may change the URL rtm.connect
    gave (to reach one gateway past a load balancer)."""

    def __init__(
        self,
        web: WebClient,
        channel: str,
        start: int,
        rewrite: Callable[[str], str] | None = None,
        name: str = "",
    ) -> None:
        self.web = web
        self.channel = channel
        self.start = start
        self.rewrite = rewrite
        self.name = name
        self.seqs: list[int] = []
        self.connects = 0
        self.connected = threading.Event()

    def _url(self) -> str:
        held = self.seqs[-1] if self.seqs else self.start
        url = self.web.rtm_connect(resume=json.dumps({self.channel: held}))["url"]
        return self.rewrite(url) if self.rewrite else url

    async def run(self, stop: asyncio.Event) -> None:
        from picows import WSListener, WSMsgType, ws_connect

        frames: asyncio.Queue = asyncio.Queue()

        class Listener(WSListener):
            def on_ws_frame(self, transport, frame) -> None:
                if frame.msg_type == WSMsgType.TEXT:
                    frames.put_nowait(json.loads(frame.get_payload_as_bytes()))

            def on_ws_disconnected(self, transport) -> None:
                frames.put_nowait(None)

        while not stop.is_set():
            try:
                url = await asyncio.to_thread(self._url)
                transport, _ = await ws_connect(Listener, url)
            except Exception:  # nothing serves yet (a node died, a server restarts)
                await asyncio.sleep(0.2)
                continue
            self.connects += 1
            try:
                while not stop.is_set():
                    try:
                        frame = await asyncio.wait_for(frames.get(), 0.2)
                    except TimeoutError:
                        continue
                    if frame is None:
                        break
                    if frame.get("type") == "hello":
                        self.connected.set()
                    elif (
                        frame.get("type") == "message"
                        and frame.get("channel") == self.channel
                        and frame.get("subtype") is None
                    ):
                        self.seqs.append(frame["seq"])
            finally:
                transport.disconnect()
                while not frames.empty():
                    frames.get_nowait()


def run_subscribers(subs: list[Subscriber], body: Callable[[], None]) -> None:
    """Runs the subscribers on an event loop in a thread while ``body()`` runs here, once
    each has had its ``hello``."""
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()

    async def main() -> None:
        await asyncio.gather(*(s.run(stop) for s in subs))

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        wait_for(lambda: all(s.connected.is_set() for s in subs), 30, "every subscriber's hello")
        body()
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def last_seq(web: WebClient, channel: str) -> int:
    """The channel's newest top-level message seq (0 when empty)."""
    messages = web.conversations_history(channel=channel, limit=1)["messages"]
    return messages[0]["seq"] if messages else 0
