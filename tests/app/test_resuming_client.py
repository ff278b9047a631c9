"""parley.client.ResumingRTMClient: after its connection drops, the SDK's own reconnect
resumes where it left off; every message arrives once, in order."""

from __future__ import annotations

import threading
import time

from parley.client import ResumingRTMClient


def test_a_dropped_connection_loses_nothing(server):
    bot = server.user("resuming-bot", bot=True)
    poster = server.user("resuming-poster")
    web = server.client(poster.token)
    ch = web.conversations_create(name="resuming")["channel"]["id"]
    web.conversations_invite(channel=ch, users=bot.user_id)

    got: list[tuple[int, str]] = []
    hello = threading.Event()
    rtm = ResumingRTMClient(web_client=server.client(bot.token), ping_interval=1)

    @rtm.on("*")
    def record(client, event):
        if event.get("type") == "hello":
            hello.set()
        if event.get("type") == "message" and event.get("channel") == ch:
            got.append((event["seq"], event["text"]))

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 20
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    rtm.connect()
    try:
        assert hello.wait(10)
        for i in range(5):
            web.chat_postMessage(channel=ch, text=f"before {i}")
        wait_for(5)
        rtm.auto_reconnect_enabled = False  # hold the reconnect while messages pile up
        rtm.current_session.disconnect()  # the network goes away
        for i in range(20):
            web.chat_postMessage(channel=ch, text=f"while away {i}")
        hello.clear()
        rtm.auto_reconnect_enabled = True  # the SDK's monitor reconnects on its own
        assert hello.wait(15), "no reconnect"
        for i in range(5):
            web.chat_postMessage(channel=ch, text=f"after {i}")
        wait_for(30)
        time.sleep(0.3)  # nothing more (no duplicates) should trickle in
        assert [seq for seq, _ in got] == list(range(1, 31))
        assert [text for _, text in got] == [f"before {i}" for i in range(5)] + [
            f"while away {i}" for i in range(20)
        ] + [f"after {i}" for i in range(5)]
    finally:
        rtm.close()
