"""A dependency restarting under load: NATS (the event log), then Redis (limits, tickets).

Each test starts its own ``nats-server`` / ``redis-server`` on a free port (never the
shared ones) and a Parley server over them, posts at a steady rate while the dependency
is stopped and started again, and checks the promise: every send either succeeded or
failed with a clear error, nothing acknowledged is lost (it is in the history and reaches
the subscriber, once, in order), and the service recovers by itself.

The server binaries are required in CI (``CI`` set); elsewhere a missing one skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from parley.server import free_port
from tests.helpers import server_in_thread
from tests.subscriber import Subscriber, last_seq, run_subscribers, wait_for


def binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI")
        pytest.skip(f"no {name} on this machine")
    return found


class Service:
    """A server process on a free port that can be stopped and started again with the
    same port and data."""

    def __init__(self, argv_for_port, port: int) -> None:
        self._argv = argv_for_port
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self._argv(self.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{self._argv(self.port)[0]} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def nats_server(tmp_path: Path):
    exe = binary("nats-server")
    store = tmp_path / "jetstream"
    svc = Service(
        lambda port: [exe, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        free_port("127.0.0.1"),
    )
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def redis_server():
    exe = binary("redis-server")
    svc = Service(
        lambda port: (
            [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", ""] + ["--appendonly", "no"]
        ),
        free_port("127.0.0.1"),
    )
    svc.start()
    yield svc
    svc.stop()


def load_through_a_restart(server, service: Service) -> None:
    """Posts ~40 messages/s for 6 s; the service is down from 1.5 s to 3.5 s. Checks what
    the module docstring promises."""
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


def test_nats_restarting_under_load_loses_nothing_acknowledged(tmp_path, nats_server):
    with server_in_thread(
        tmp_path / "data",
        bus_url=f"nats://127.0.0.1:{nats_server.port}",
        bus_stream=f"RESTART_{uuid.uuid4().hex[:8]}",
    ) as server:
        load_through_a_restart(server, nats_server)


def test_redis_restarting_under_load_loses_nothing_acknowledged(tmp_path, redis_server):
    with server_in_thread(
        tmp_path / "data", redis_url=f"redis://127.0.0.1:{redis_server.port}/0"
    ) as server:
        load_through_a_restart(server, redis_server)
