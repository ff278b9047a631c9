"""Paging without Alertmanager: a server evaluating its alert rules pages the local
PagerDuty (``parley.notify.fakes.FakePagerDuty``, checking the Events API v2 wire format)
when a push provider's breaker opens and dead letters appear, resolves the breaker's
incident when it closes, and ``parley alerts ack`` acknowledges by the same dedup key."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

import pytest

from parley.notify.fakes import FakePagerDuty, running
from tests.app.test_push_faults import FAULTY, offline_pair
from tests.helpers import server_in_thread
from tests.subscriber import wait_for


@pytest.fixture
def paged(tmp_path):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    pager = FakePagerDuty(tmp_path / "pagerduty")
    asyncio.run_coroutine_threadsafe(pager.start(), loop).result(10)
    alerting = {
        "pagerduty_routing_key": pager.routing_key,
        "pagerduty_url": pager.url,
        "alerts_ca_file": str(pager.ca_file),
        "alert_interval": 0.1,
        "alert_for_scale": 0.0,
    }
    try:
        with (
            running(tmp_path / "providers") as providers,
            server_in_thread(tmp_path / "data", **FAULTY, **alerting, **providers.settings) as srv,
        ):
            yield srv, providers, pager, alerting
    finally:
        asyncio.run_coroutine_threadsafe(pager.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def events(pager: FakePagerDuty) -> list[tuple[str, str]]:
    return [(e["event_action"], key) for key, e, _ in list(pager.received)]


def test_a_breaker_open_and_dead_letters_page_and_resolve(paged):
    srv, providers, pager, alerting = paged
    fcm = providers.fcm
    web, room, bob_id, _token = offline_pair(srv, "paged")

    fcm.fail_always = 500
    for i in range(6):
        web.chat_postMessage(channel=room, text=f"<@{bob_id}> down {i}")
    breaker = ("trigger", "parley/all-0/ParleyCircuitBreakerOpen")
    dead = ("trigger", "parley/all-0/ParleyDeadLettersGrowing")
    wait_for(lambda: breaker in events(pager), 20, "the breaker's page")
    wait_for(lambda: dead in events(pager), 30, "the dead letters' page")
    trigger = next(e for k, e, _ in pager.received if k == breaker[1])
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "all-0"
    assert trigger["payload"]["summary"].startswith("ParleyCircuitBreakerOpen")

    # the provider is back: new pushes close the breaker, and its incident resolves
    fcm.fail_always = None

    def closed() -> bool:
        web.chat_postMessage(channel=room, text=f"<@{bob_id}> up again")
        return ("resolve", breaker[1]) in events(pager)

    wait_for(closed, 30, "the breaker's incident resolved")
    assert events(pager).count(breaker) == 1  # paged once, however long it stayed open

    # an operator acknowledges the dead letters' incident from the command line
    env = {**os.environ, **{f"PARLEY_{k.upper()}": str(v) for k, v in alerting.items()}}
    proc = subprocess.run(
        [sys.executable, "-m", "parley", "alerts", "ack", "ParleyDeadLettersGrowing"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"sent": True}, proc.stderr
    assert ("acknowledge", dead[1]) in events(pager)
    assert pager.answered.get(400, 0) == 0  # every event had PagerDuty's shape
