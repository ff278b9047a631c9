"""Redis (the fleet's shared cache) going away, behind its circuit breaker: a Redis of
the test's own is stopped under a running server. Sends keep going (rate limits let them
through, the recent buffer is bypassed) and, once the ``redis`` breaker is open, without
waiting on Redis at all; ``rtm.connect``, which needs Redis for its ticket, answers 503
with ``Retry-After``; ``/readyz`` and ``/metrics`` show the breaker; when Redis is back
the breaker closes by itself and tickets work again."""

from __future__ import annotations

import time

import httpx

from tests.helpers import server_in_thread
from tests.own_server import own_redis, redis_url
from tests.subscriber import wait_for

BREAKER = {"breaker_open_seconds": 2.0, "breaker_min_calls": 5}


def breakers(url: str) -> dict[str, str]:
    return httpx.get(f"{url}/readyz", timeout=10).json()["breakers"]


def test_sends_go_on_while_redis_is_down_and_the_breaker_recovers(tmp_path):
    cache = own_redis()
    cache.start()
    try:
        with server_in_thread(tmp_path / "data", redis_url=redis_url(cache), **BREAKER) as srv:
            user = srv.user("cached")
            web = srv.client(user.token)
            channel = web.conversations_create(name="redis-down")["channel"]["id"]
            assert breakers(srv.url)["redis"] == "closed"
            cache.stop()
            sent = 0
            for i in range(40):  # each send checks its rate limit in Redis: failures
                assert web.chat_postMessage(channel=channel, text=f"down {i}")["ok"]
                sent += 1
                if breakers(srv.url)["redis"] == "open":
                    break
            assert breakers(srv.url)["redis"] == "open"
            for i in range(20):  # open: through at once, Redis not even asked
                assert web.chat_postMessage(channel=channel, text=f"fast {i}")["ok"]
            answer = httpx.post(
                f"{srv.url}/api/rtm.connect",
                headers={"authorization": f"Bearer {user.token}"},
                timeout=10,
            )
            assert answer.status_code == 503 and answer.json()["error"] == "fatal_error"
            assert int(answer.headers["retry-after"]) >= 1
            metrics = httpx.get(f"{srv.url}/metrics", timeout=10).text
            assert 'parley_breaker_opened_total{breaker="redis"} 1.0' in metrics
            history = web.conversations_history(channel=channel, limit=100)["messages"]
            assert len(history) == sent + 20  # nothing acknowledged was lost

            cache.start()  # the same port: the client reconnects
            time.sleep(BREAKER["breaker_open_seconds"])

            def tickets_work() -> bool:
                try:
                    return bool(web.rtm_connect()["url"])
                except Exception:  # noqa: BLE001 - 503 until the breaker lets probes by
                    return False

            wait_for(tickets_work, 30, "rtm.connect to work again")
            for i in range(5):
                web.chat_postMessage(channel=channel, text=f"back {i}")
            wait_for(lambda: breakers(srv.url)["redis"] == "closed", 10, "the breaker closed")
    finally:
        cache.stop()
