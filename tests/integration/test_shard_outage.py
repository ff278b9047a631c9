"""A store shard that becomes unreachable: MariaDB's port refuses connections (a TCP
proxy in front of the real server is cut). Sends to that shard's channels fail fast
with 503 ``fatal_error`` and ``Retry-After``, its circuit breaker opens, the other
shard keeps serving, nothing half-written appears, and when the port comes back the
shard serves again by itself."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from slack_sdk.errors import SlackApiError

from parley.storage.router import shard_for
from tests import mysql_support
from tests.helpers import WsClient, server_in_thread
from tests.tcp_proxy import TcpProxy

#: Short waits so the outage and the recovery fit in a test; the policy is the seed's.
#: (Open long enough that a slow machine checks an open breaker before it half-opens.)
BREAKER = {"breaker_open_seconds": 8.0, "breaker_min_calls": 5, "mysql_timeout": 2.0}


@pytest.fixture(scope="module", autouse=True)
def needs_mariadb():
    mysql_support.require()


def _post(url: str, token: str, channel: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/chat.postMessage",
        headers={"authorization": f"Bearer {token}"},
        json={"channel": channel, "text": text},
        timeout=30,
    )


def _breakers(url: str) -> tuple[int, dict]:
    """``/readyz``'s status and body, with only the shards' breakers."""
    ready = httpx.get(f"{url}/readyz", timeout=10)
    body = ready.json()
    body["breakers"] = {k: v for k, v in body["breakers"].items() if k.startswith("shard:")}
    return ready.status_code, body


async def _ws_send(url: str, channel: str) -> dict:
    """A send over the WebSocket to ``channel``: its answer."""
    ws = await WsClient.open(url)
    try:
        await ws.next(type="hello")
        ws.send({"id": 1, "type": "message", "channel": channel, "text": "over the socket"})
        return await ws.next(reply_to=1)
    finally:
        ws.close()


def test_a_shard_that_refuses_connections_fails_fast_and_recovers(tmp_path):
    host, port = mysql_support.host_port()
    with (
        mysql_support.databases(2, "outage") as urls,
        TcpProxy(host, port) as proxy,
    ):
        behind_proxy = urls[1].replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        assert behind_proxy != urls[1]
        with server_in_thread(
            tmp_path / "data", shard_urls=(urls[0], behind_proxy), **BREAKER
        ) as srv:
            user = srv.user("outage")
            client = srv.client(user.token)
            on: dict[int, str] = {}
            for i in range(40):
                ch = client.conversations_create(name=f"outage-{i}")["channel"]["id"]
                on.setdefault(shard_for(ch, 2), ch)
                if len(on) == 2:
                    break
            healthy, failing = on[0], on[1]
            acked = [_post(srv.url, user.token, failing, f"before {i}") for i in range(3)]
            assert all(r.json()["ok"] for r in acked)
            assert _breakers(srv.url) == (
                200,
                {"ok": True, "breakers": {"shard:0": "closed", "shard:1": "closed"}},
            )

            proxy.cut()
            # the first failures reach the dead port; then the breaker opens
            refused = []
            for i in range(30):
                r = _post(srv.url, user.token, failing, f"during {i}")
                assert r.status_code == 503, r.text
                assert r.json() == {"ok": False, "error": "fatal_error"}
                refused.append(int(r.headers["retry-after"]))
                # the healthy shard serves all along
                assert _post(srv.url, user.token, healthy, f"fine {i}").json()["ok"]
                if _breakers(srv.url)[1]["breakers"]["shard:1"] == "open":
                    break
            status, ready = _breakers(srv.url)
            assert ready["breakers"] == {"shard:0": "closed", "shard:1": "open"}
            assert status == 200  # one shard down: the node still serves the others
            # open: answered at once, without a connection, with the breaker's wait
            accepted = proxy.accepted
            for i in range(20):
                r = _post(srv.url, user.token, failing, f"fast {i}")
                assert r.status_code == 503
                assert 1 <= int(r.headers["retry-after"]) <= BREAKER["breaker_open_seconds"]
            assert proxy.accepted == accepted
            nack = asyncio.run(_ws_send(client.rtm_connect()["url"], failing))
            assert nack["ok"] is False and nack["error"]["code"] == "fatal_error"
            assert 1 <= nack["error"]["retry_after"] <= BREAKER["breaker_open_seconds"]
            with pytest.raises(SlackApiError) as refusal:
                client.chat_postMessage(channel=failing, text="through the sdk")
            assert refusal.value.response.status_code == 503
            assert refusal.value.response["error"] == "fatal_error"
            metrics = httpx.get(f"{srv.url}/metrics", timeout=10).text
            assert 'parley_breaker_state{breaker="shard:1"} 2.0' in metrics
            assert 'parley_breaker_opened_total{breaker="shard:1"} 1.0' in metrics

            proxy.restore()
            deadline = time.monotonic() + 30
            while True:  # no one intervenes: the breaker probes and closes by itself
                r = _post(srv.url, user.token, failing, "after")
                if r.status_code == 200:
                    break
                assert r.status_code == 503
                assert time.monotonic() < deadline, "the shard did not come back"
                time.sleep(0.25)
            for i in range(3):
                assert _post(srv.url, user.token, failing, f"after {i}").json()["ok"]
            assert _breakers(srv.url)[1]["breakers"]["shard:1"] == "closed"

            history = client.conversations_history(channel=failing, limit=100)["messages"]
            texts = [m["text"] for m in reversed(history)]
            # what was acknowledged is there, in order; nothing refused was half-written
            assert texts == ["before 0", "before 1", "before 2", "after"] + [
                f"after {i}" for i in range(3)
            ]
            assert len(client.conversations_history(channel=healthy)["messages"]) == len(refused)


def test_a_node_whose_every_shard_is_down_is_not_ready_until_it_may_probe(tmp_path):
    host, port = mysql_support.host_port()
    with (
        mysql_support.databases(3, "down") as urls,
        TcpProxy(host, port) as proxy,
    ):
        shards = tuple(u.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}") for u in urls[:2])
        with server_in_thread(
            tmp_path / "data", shard_urls=shards, directory_url=urls[2], **BREAKER
        ) as srv:
            user = srv.user("down")
            client = srv.client(user.token)
            # each shard gets enough channels that the posts after the outage close its
            # breaker (``breaker_close_after`` probes in a row; 12 channels at random left
            # a shard fewer in about one run in 25)
            channels: list[str] = []
            while min(sum(shard_for(ch, 2) == s for ch in channels) for s in (0, 1)) < 3:
                assert len(channels) < 60, "channel ids fell on one shard"
                reply = client.conversations_create(name=f"down-{len(channels)}")
                channels.append(reply["channel"]["id"])
            proxy.cut()
            for _ in range(10):  # until both breakers are open
                for ch in channels:
                    assert _post(srv.url, user.token, ch, "x").status_code == 503
                if set(_breakers(srv.url)[1]["breakers"].values()) == {"open"}:
                    break
            status, ready = _breakers(srv.url)
            assert (status, ready) == (
                503,
                {
                    "ok": False,
                    "error": "store_unavailable",
                    "breakers": {"shard:0": "open", "shard:1": "open"},
                },
            )
            assert httpx.get(f"{srv.url}/healthz", timeout=10).status_code == 200  # alive
            proxy.restore()
            time.sleep(BREAKER["breaker_open_seconds"])
            # the wait is over: the next calls are probes, so the node takes work again
            assert _breakers(srv.url)[0] == 200
            for ch in channels:
                assert _post(srv.url, user.token, ch, "back").json()["ok"]
            assert _breakers(srv.url)[1]["breakers"] == {"shard:0": "closed", "shard:1": "closed"}
