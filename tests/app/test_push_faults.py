"""A push provider that fails (issue 10's first fault test, on the embedded server): the
provider's breaker opens and holds the pushes back without using their attempts,
retries back off, each push reaches the dead letters past its attempts, and ``parley dlq
replay`` (the CLI, in its own process) delivers each exactly once when the provider is
back, however often it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from slack_sdk.errors import SlackApiError

from parley.errors import StorageUnavailable
from parley.notify.fakes import running
from tests.app.test_metrics import scrape, value
from tests.app.test_push_devices import FCM
from tests.helpers import server_in_thread
from tests.push_support import pushes, wait_pushes
from tests.subscriber import wait_for

FAULTY = {
    "push_attempts": 3,
    "push_retry_base": 0.2,
    "breaker_error_rate": 0.2,
    "breaker_window": 10,
    "breaker_min_calls": 4,
    "breaker_open_seconds": 1.0,
    "breaker_close_after": 2,
}


def dlq(data_dir, *args: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "parley", "dlq", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture
def faulty(tmp_path):
    with (
        running(tmp_path / "providers") as providers,
        server_in_thread(tmp_path / "data", **FAULTY, **providers.settings) as srv,
    ):
        yield srv, providers, tmp_path / "data"


def offline_pair(srv, tag: str):
    """alice, and bob offline with one FCM device, in a room of their own: alice's
    client, the room, bob's user id and his device token."""
    alice, bob = srv.user(f"{tag}-alice"), srv.user(f"{tag}-bob")
    web, bob_web = srv.client(alice.token), srv.client(bob.token)
    token = f"{FCM}-{tag}"
    bob_web.api_call("push.register", json={"platform": "fcm", "device_token": token})
    room = web.conversations_create(name=tag)["channel"]["id"]
    web.conversations_invite(channel=room, users=bob.user_id)
    return web, room, bob.user_id, token


def test_a_failing_provider_opens_its_breaker_and_dead_letters_replay_once(faulty):
    srv, providers, data = faulty
    fcm = providers.fcm
    web, room, bob_id, token = offline_pair(srv, "faults")

    fcm.fail_always = 500
    texts = [f"<@{bob_id}> outage {i}" for i in range(10)]
    for text in texts:
        web.chat_postMessage(channel=room, text=text)
        time.sleep(0.05)

    # every push is given up after its attempts and waits as a dead letter
    def letters() -> list[dict]:
        return dlq(data, "list", "--step", "push")

    wait_for(lambda: len(letters()) == 10, 30, "ten dead letters")
    # an attempt is a call to the provider: each push made its 3, and no more; the
    # breaker's refusals between them (open, or half-open with its probes out) made the
    # pushes wait without using up their attempts
    assert fcm.answered.get(500, 0) == 10 * FAULTY["push_attempts"]
    shown = dlq(data, "show", "push", letters()[0]["item"])[0]
    assert shown["attempts"] == 3 and len(shown["errors"]) == 3
    assert any("500" in e or "INTERNAL" in e or "breaker" in e for e in shown["errors"])
    assert pushes(fcm, token) == []
    figures = scrape(srv.url)  # and /metrics shows it
    assert value(figures, "parley_push_total", outcome="dead_letters") == 10
    assert value(figures, "parley_push_total", outcome="breaker_open") > 0
    assert value(figures, "parley_breaker_opened_total", breaker="push:fcm") >= 1
    assert ("parley_breaker_state", (("breaker", "push:fcm"),)) in figures

    # the provider is back: replaying (twice, at once) delivers each push exactly once
    fcm.fail_always = None
    time.sleep(FAULTY["breaker_open_seconds"])  # the breaker lets probes through again
    assert dlq(data, "replay", "push", "--all") == [{"replayed": 10}]
    assert dlq(data, "replay", "push", "--all") == [{"replayed": 0}]
    got = wait_pushes(fcm, token, 10, timeout=20)
    time.sleep(1.5)  # nothing more comes
    bodies = sorted(p["notification"]["body"] for p in pushes(fcm, token))
    assert len(bodies) == 10 and len(set(bodies)) == 10, bodies
    assert all(any(b.endswith(f"outage {i}") for b in bodies) for i in range(10)), got
    assert letters() == []

    # purge: a dead letter can be dropped for good
    fcm.fail_always = 500
    web.chat_postMessage(channel=room, text=f"<@{bob_id}> lost cause")
    wait_for(lambda: len(letters()) == 1, 30, "one dead letter")
    assert dlq(data, "purge", "push", letters()[0]["item"]) == [{"purged": 1}]
    assert letters() == []


def api(client, method: str, **args) -> dict:
    """``method``'s answer, errors included (GET for the listing methods)."""
    try:
        if method in ("admin.dlq.list", "admin.dlq.info"):
            return client.api_call(method, http_verb="GET", params=args).data
        return client.api_call(method, json=args).data
    except SlackApiError as exc:
        return exc.response.data


def test_the_admin_api_lists_shows_replays_and_purges_dead_letters(faulty):
    """``admin.dlq.*`` do over the Web API what ``parley dlq`` does, for a token an
    operator granted ``admin:dlq``; anyone else gets ``missing_scope``."""
    srv, providers, _data = faulty
    fcm = providers.fcm
    web, room, bob_id, token = offline_pair(srv, "adminapi")
    operator = srv.client(srv.user("operator", scopes="admin:dlq").token)
    assert api(web, "admin.dlq.list")["error"] == "missing_scope"

    fcm.fail_always = 500
    for i in range(3):
        web.chat_postMessage(channel=room, text=f"<@{bob_id}> via the api {i}")

    def letters(**args) -> list[dict]:
        return api(operator, "admin.dlq.list", **args)["dead_letters"]

    wait_for(lambda: len(letters(step="push")) == 3, 30, "three dead letters")
    first = api(operator, "admin.dlq.list", limit=2)
    rest = api(
        operator, "admin.dlq.list", limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert len(first["dead_letters"]) == 2 and len(rest["dead_letters"]) == 1
    assert rest["response_metadata"]["next_cursor"] == ""
    item = first["dead_letters"][0]["item"]
    shown = api(operator, "admin.dlq.info", step="push", item=item)["dead_letter"]
    assert shown["attempts"] == FAULTY["push_attempts"] and len(shown["errors"]) == 3
    assert json.loads(shown["payload"])["device"]["token"] == token
    assert api(operator, "admin.dlq.info", step="push", item="x")["error"] == "not_found"
    assert api(operator, "admin.dlq.replay", step="push")["error"] == "invalid_arguments"
    assert api(operator, "admin.dlq.list", step="nope")["error"] == "invalid_arguments"

    fcm.fail_always = None
    time.sleep(FAULTY["breaker_open_seconds"])
    assert api(operator, "admin.dlq.replay", step="push", items=item)["replayed"] == 1
    assert api(operator, "admin.dlq.replay", step="push", items=item)["replayed"] == 0
    [pushed] = wait_pushes(fcm, token, 1, timeout=20)
    assert pushed["data"]["ts"] in item
    assert api(operator, "admin.dlq.purge", step="push", all=True)["purged"] == 2
    assert letters() == []
    time.sleep(1.0)
    assert len(pushes(fcm, token)) == 1  # the purged ones never go


def test_a_message_whose_pushes_cannot_be_worked_out_is_a_dead_letter_not_dropped(faulty):
    """Reading who a message concerns keeps failing (here the member list, as a failing
    directory would): after its attempts the whole message becomes a dead letter, the
    partition goes on, and a replay once the directory answers pushes it once."""
    srv, providers, data = faulty
    fcm = providers.fcm
    web, room, bob_id, token = offline_pair(srv, "msgdead")
    pusher = srv.services.pusher
    pusher._message_attempts = 2  # 10 by default: 22 s of waiting
    real = pusher._members

    async def failing(channel: str):
        if channel == room:
            raise StorageUnavailable("the directory is down")
        return await real(channel)

    pusher._members = failing
    web.chat_postMessage(channel=room, text=f"<@{bob_id}> stuck")
    wait_for(lambda: len(dlq(data, "list", "--step", "push")) == 1, 30, "a dead letter")
    [letter] = dlq(data, "list", "--step", "push")
    assert letter["item"].endswith(":message") and "directory is down" in letter["last_error"]
    other_web, other_room, carol_id, carol_token = offline_pair(srv, "msgdead-other")
    other_web.chat_postMessage(channel=other_room, text=f"<@{carol_id}> flows")
    wait_pushes(fcm, carol_token, 1, timeout=10)  # the partitions went on
    assert pushes(fcm, token) == []

    pusher._members = real
    assert dlq(data, "replay", "push", "--all") == [{"replayed": 1}]
    [pushed] = wait_pushes(fcm, token, 1, timeout=20)
    assert pushed["notification"]["body"].endswith("stuck")
    time.sleep(1.0)
    assert len(pushes(fcm, token)) == 1 and dlq(data, "list", "--step", "push") == []
