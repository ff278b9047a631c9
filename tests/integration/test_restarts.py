"""A dependency restarting under load: NATS (the event log), then Redis (limits, tickets).

Each test starts its own ``nats-server`` / ``redis-server`` on a free port (never the
shared ones) and a Parley server over them, posts at a steady rate while the dependency
is stopped and started again, and checks the promise: every send either succeeded or
failed with a clear error, nothing acknowledged is lost (it is in the history and reaches
the subscriber, once, in order), and the service recovers by itself.

The server binaries are required in CI (``CI`` set); elsewhere a missing one skips.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from slack_sdk.errors import SlackApiError

from tests.helpers import server_in_thread
from tests.own_server import OwnServer, own_nats, own_redis, redis_url
from tests.subscriber import Subscriber, last_seq, run_subscribers, wait_for


@pytest.fixture
def nats_server(tmp_path: Path):
    svc = own_nats(str(tmp_path / "jetstream"))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def redis_server():
    svc = own_redis()
    svc.start()
    yield svc
    svc.stop()


def load_through_a_restart(server, service: OwnServer, breaker: str, *, opens: bool = True) -> None:
    """Posts ~40 messages/s for 6 s; the service is down from 1.5 s to 3.5 s. Checks what
    the module docstring promises, and that the service's circuit breaker (``breaker``)
    opened while it was down (when ``opens``: every send calls Redis, but only one
    publisher calls NATS here, too few calls in two seconds for the error rate to count)
    and is closed once it is back."""
    alice = server.user("alice")
    listener = server.user("listener", bot=True)
    web = server.client(alice.token)
    channel = web.conversations_create(name=f"restart-{uuid.uuid4().hex[:6]}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=listener.user_id)
    start = last_seq(web, channel)
    sub = Subscriber(server.client(listener.token), channel, start)
    acked: list[int] = []
    failed: Counter[str] = Counter()
    slowest = [0.0]

    def send() -> None:
        poster = server.client(alice.token)
        poster.retry_handlers.clear()  # a failure is seen, not retried away
        for i in range(240):
            began = time.monotonic()
            try:
                acked.append(
                    poster.chat_postMessage(channel=channel, text=f"m{i}")["message"]["seq"]
                )
            except SlackApiError as exc:
                failed[exc.response["error"]] += 1
            slowest[0] = max(slowest[0], time.monotonic() - began)
            time.sleep(0.025)

    def body() -> None:
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.5)
        service.stop()
        time.sleep(2.0)
        service.start()
        sender.join(60)
        wait_for(lambda: sub.seqs and sub.seqs[-1] >= max(acked), 30, "the last acked message")

    run_subscribers([sub], body)
    assert acked, f"nothing was acknowledged: {failed}"
    assert set(failed) <= {"service_unavailable", "fatal_error"}, failed
    # no send hung on the dead dependency (a generous bound: fail fast, not fast)
    assert slowest[0] < 10, slowest
    # nothing acknowledged is lost, nothing doubled, order exact
    assert sub.seqs == sorted(set(sub.seqs)), "duplicates or disorder"
    assert set(acked) <= set(sub.seqs)
    history = {m["seq"] for m in web.conversations_history(channel=channel, limit=1000)["messages"]}
    assert set(acked) <= history
    # and it recovered: a send now is acknowledged and delivered
    seq = web.chat_postMessage(channel=channel, text="after")["message"]["seq"]
    assert seq > max(acked)
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert f'parley_breaker_opened_total{{breaker="{breaker}"}}' in metrics
    opened = float(
        metrics.split(f'parley_breaker_opened_total{{breaker="{breaker}"}} ')[1].split()[0]
    )
    assert opened >= 1 or not opens, f"the {breaker} breaker never opened"
    wait_for(
        lambda: (
            httpx.get(f"{server.url}/readyz", timeout=10).json()["breakers"][breaker] == "closed"
        ),
        60,
        f"the {breaker} breaker to close",
    )


def test_nats_restarting_under_load_loses_nothing_acknowledged(tmp_path, nats_server):
    with server_in_thread(
        tmp_path / "data",
        bus_url=f"nats://127.0.0.1:{nats_server.port}",
        bus_stream=f"RESTART_{uuid.uuid4().hex[:8]}",
    ) as server:
        load_through_a_restart(server, nats_server, "event_log", opens=False)


def test_redis_restarting_under_load_loses_nothing_acknowledged(tmp_path, redis_server):
    with server_in_thread(
        tmp_path / "data", redis_url=redis_url(redis_server), breaker_open_seconds=2.0
    ) as server:
        load_through_a_restart(server, redis_server, "redis")
