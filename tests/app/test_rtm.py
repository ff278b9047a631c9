"""Real-time delivery through the official slack_sdk RTMClient (rtm_v2), unmodified."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest
from picows import WSError, WSListener, ws_connect
from slack_sdk.rtm_v2 import RTMClient


class Recorder:
    """An RTMClient whose received events land in a queue."""

    def __init__(self, server, creds) -> None:
        self.events: queue.Queue = queue.Queue()
        self.client = RTMClient(
            web_client=server.client(creds.token), ping_interval=30, concurrency=1
        )
        self.hello = threading.Event()

        @self.client.on("*")
        def record(client, event):
            if event.get("type") == "hello":
                self.hello.set()
            self.events.put(event)

        self.client.connect()
        assert self.hello.wait(10), "no hello"

    def next(self, kind: str, timeout: float = 10.0, **match) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} event matching {match}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def close(self) -> None:
        self.client.close()


@pytest.fixture()
def bots(server):
    made = [server.user(f"rtm-bot-{time.monotonic_ns()}-{i}", bot=True) for i in range(3)]
    yield made


def test_rtm_connect_gives_a_ticket_url_not_the_token(server, bots):
    resp = server.client(bots[0].token).rtm_connect()
    assert resp["url"].startswith("ws://") and "ticket=" in resp["url"]
    assert bots[0].token not in resp["url"]
    assert resp["self"]["id"] == bots[0].user_id and resp["team"]["id"] == bots[0].team_id


def test_messages_reach_members_in_order_over_http_and_websocket(server, bots):
    a_creds, b_creds, outsider = bots
    a_web, b_web = server.client(a_creds.token), server.client(b_creds.token)
    ch = a_web.conversations_create(name=f"rtm-{time.monotonic_ns()}")["channel"]["id"]
    a_web.conversations_invite(channel=ch, users=b_creds.user_id)
    a, b, out = Recorder(server, a_creds), Recorder(server, b_creds), Recorder(server, outsider)
    try:
        texts = [f"http {i}" for i in range(10)]
        for t in texts:
            a_web.chat_postMessage(channel=ch, text=t)
        for i in range(5):  # the same send path over the socket
            a.client.send({"id": i + 1, "type": "message", "channel": ch, "text": f"ws {i}"})
            texts.append(f"ws {i}")
        got = [b.next("message", channel=ch) for _ in texts]
        assert [e["text"] for e in got] == texts
        assert [e["seq"] for e in got] == list(range(1, len(texts) + 1))
        assert all(e["channel"] == ch and e["ts"] and e["bot_id"] == a_creds.bot_id for e in got)
        reply = b_web.chat_postMessage(channel=ch, text="in a thread", thread_ts=got[0]["ts"])
        threaded = a.next("message", channel=ch, text="in a thread")
        assert threaded["thread_ts"] == got[0]["ts"] and threaded["ts"] == reply["ts"]
        with pytest.raises(queue.Empty):  # the outsider heard nothing of it
            while True:
                event = out.events.get(timeout=0.3)
                assert event.get("channel") != ch, event
    finally:
        for r in (a, b, out):
            r.close()


def test_socket_acks_pings_typing_and_errors(server, bots):
    a_creds, b_creds, _ = bots
    a_web = server.client(a_creds.token)
    ch = a_web.conversations_create(name=f"rtm-{time.monotonic_ns()}")["channel"]["id"]
    a_web.conversations_invite(channel=ch, users=b_creds.user_id)
    a, b = Recorder(server, a_creds), Recorder(server, b_creds)
    acks: queue.Queue = queue.Queue()
    a.client.message_listeners.append(lambda client, event: acks.put(event))
    try:
        a.client.send({"id": 7, "type": "message", "channel": ch, "text": "hi"})
        a.client.send({"id": 8, "type": "message", "channel": "CNOPE", "text": "hi"})
        a.client.send({"id": 9, "type": "ping"})
        a.client.send({"type": "typing", "channel": ch})
        a.client.send("not json")
        seen: dict = {}
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            event = acks.get(timeout=10)
            if "reply_to" in event:
                seen[event["reply_to"]] = event
        assert seen[7]["ok"] is True and seen[7]["text"] == "hi" and seen[7]["ts"]
        assert seen[8]["ok"] is False and seen[8]["error"]["code"] == "channel_not_found"
        assert seen[9]["type"] == "pong"
        typing = b.next("user_typing", channel=ch)
        assert typing["user"] == a_creds.user_id
    finally:
        a.close()
        b.close()


def opens(url: str) -> bool:
    """Whether a WebSocket to ``url`` opens (and gets its hello)."""

    class Listener(WSListener):
        def __init__(self) -> None:
            self.frames: list[bytes] = []

        def on_ws_frame(self, transport, frame) -> None:
            self.frames.append(frame.get_payload_as_bytes())

    async def attempt() -> bool:
        try:
            transport, listener = await ws_connect(Listener, url)
        except WSError:
            return False
        for _ in range(100):
            if listener.frames:
                break
            await asyncio.sleep(0.02)
        transport.disconnect()
        return listener.frames[:1] == [b'{"type":"hello"}']

    return asyncio.run(attempt())


def test_tickets_are_single_use(server, bots):
    url = server.client(bots[0].token).rtm_connect()["url"]
    assert not opens(url.replace("ticket=", "ticket=x"))
    assert opens(url)
    assert not opens(url)
