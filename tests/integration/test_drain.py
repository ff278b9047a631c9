"""SIGTERM drains the gateway: goodbye first, a grace period, then a clean exit that
keeps everything acknowledged."""

from __future__ import annotations

import asyncio
import signal
import time

from slack_sdk import WebClient

from parley import admin
from parley.config import Settings
from tests.helpers import TEST_RATE_LIMIT, WsClient, server_process


def test_sigterm_says_goodbye_and_loses_nothing(tmp_path):
    settings = Settings.load({}, data_dir=tmp_path)
    bot = admin.create_user(settings, "drainer", bot=True, rate_limit=TEST_RATE_LIMIT)
    with server_process(tmp_path) as (proc, url):
        web = WebClient(token=bot.token, base_url=f"{url}/api/")
        ch = web.conversations_create(name="drain")["channel"]["id"]

        async def scenario() -> float:
            client = await WsClient.open(web.rtm_connect()["url"])
            await client.next(type="hello")
            for i in range(20):
                client.send({"id": i, "type": "message", "channel": ch, "text": f"m{i}"})
            acks = [await client.next(reply_to=i) for i in range(20)]
            assert all(a["ok"] for a in acks)
            proc.send_signal(signal.SIGTERM)
            await client.next(type="goodbye", timeout=10)
            said_goodbye = time.monotonic()
            client.close()  # the client moves on; the server may exit at once
            return said_goodbye

        said_goodbye = asyncio.run(scenario())
        assert proc.wait(15) == 0
        assert time.monotonic() - said_goodbye < 4  # did not sit out the whole grace period

    with server_process(tmp_path) as (_proc, url):
        web = WebClient(token=bot.token, base_url=f"{url}/api/")
        texts = [m["text"] for m in web.conversations_history(channel=ch)["messages"]]
        assert texts == [f"m{i}" for i in range(19, -1, -1)]


def test_readyz_turns_503_while_draining_and_the_api_still_serves(tmp_path):
    """During the drain a load balancer sees /readyz 503 (and /healthz 200), and the Web
    API keeps answering the requests that still arrive, until the gateway has emptied."""
    import urllib.error
    import urllib.request

    def get(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    settings = Settings.load({}, data_dir=tmp_path)
    bot = admin.create_user(settings, "lingerer", bot=True, rate_limit=TEST_RATE_LIMIT)
    with server_process(tmp_path) as (proc, url):
        web = WebClient(token=bot.token, base_url=f"{url}/api/")
        assert get(f"{url}/readyz") == 200 and get(f"{url}/healthz") == 200

        async def scenario() -> None:
            client = await WsClient.open(web.rtm_connect()["url"])  # stays: the drain waits
            await client.next(type="hello")
            proc.send_signal(signal.SIGTERM)
            await client.next(type="goodbye", timeout=10)
            assert get(f"{url}/readyz") == 503
            assert get(f"{url}/healthz") == 200
            assert web.auth_test()["ok"]  # still serving while draining
            client.close()

        asyncio.run(scenario())
        assert proc.wait(15) == 0


def test_a_drain_serves_the_web_api_until_its_requests_stop(tmp_path):
    """A node with no WebSocket to wait for still serves the requests that keep coming
    after SIGTERM (a load balancer sends them until its health checks take the node
    out), each answered and its connection closed; once they stop, it exits."""
    settings = Settings.load({}, data_dir=tmp_path)
    bot = admin.create_user(settings, "steady", bot=True, rate_limit=TEST_RATE_LIMIT)
    with server_process(tmp_path) as (proc, url):
        web = WebClient(token=bot.token, base_url=f"{url}/api/")
        ch = web.conversations_create(name="steady")["channel"]["id"]
        web.chat_postMessage(channel=ch, text="before")
        proc.send_signal(signal.SIGTERM)
        sent = 0
        until = time.monotonic() + 1.5
        while time.monotonic() < until:  # 20 ms apart: never quiet for QUIET seconds
            assert web.chat_postMessage(channel=ch, text=f"during {sent}")["ok"]
            sent += 1
            time.sleep(0.02)
        assert proc.poll() is None  # still serving
        assert proc.wait(15) == 0

    with server_process(tmp_path) as (_proc, url):
        web = WebClient(token=bot.token, base_url=f"{url}/api/")
        texts = [m["text"] for m in web.conversations_history(channel=ch, limit=1000)["messages"]]
        assert texts == [f"during {i}" for i in range(sent - 1, -1, -1)] + ["before"]
