"""Many nodes, end to end: two API nodes and two gateways as separate processes behind
HAProxy (deploy/haproxy.cfg), over MariaDB shards, Redis and NATS JetStream.

These servers (and ``haproxy``) are required in CI (``CI`` set): missing, the tests fail
there; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from parley import admin
from parley.notify.fakes import running
from tests.fleet import Fleet, get
from tests.helpers import TEST_RATE_LIMIT, error_of, fetch, succeeds
from tests.push_support import pushes, wait_pushes
from tests.subscriber import Subscriber, last_seq, run_subscribers, wait_for

SERVICES = {
    "MariaDB": ("127.0.0.1", 3306),
    "Redis": ("127.0.0.1", 6379),
    "NATS": ("127.0.0.1", 4222),
}


@pytest.fixture(scope="module", autouse=True)
def needs_services():
    missing = []
    for name, address in SERVICES.items():
        try:
            socket.create_connection(address, timeout=2).close()
        except OSError as exc:
            missing.append(f"{name} at {address[0]}:{address[1]} ({exc})")
    if not (shutil.which("haproxy") or os.path.exists("/usr/sbin/haproxy")):
        missing.append("haproxy (apt-get install haproxy)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"required in CI: {'; '.join(missing)}")
        pytest.skip(f"missing: {'; '.join(missing)}")


@pytest.fixture(scope="module")
def providers(tmp_path_factory):
    """Local APNs and FCM servers the fleet's worker pushes to."""
    with running(tmp_path_factory.mktemp("providers")) as local:
        yield local


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, providers):
    f = Fleet(tmp_path_factory.mktemp("fleet"))
    f.env.update({f"PARLEY_{k.upper()}": v for k, v in providers.settings.items()})
    try:
        f.start("api1", "api", 1)
        f.start("api2", "api", 2)
        f.start("gw1", "gateway", 3)
        f.start("gw2", "gateway", 4)
        f.start("worker", "worker", 5)
        f.start_lb()
        yield f
    except BaseException:
        print(f.logs())
        raise
    finally:
        f.close()


@pytest.fixture(scope="module")
def team(fleet):
    """alice posts; four bots listen; all in one channel."""
    alice = fleet.user("alice")
    bots = [fleet.user(f"listener{i}", bot=True) for i in range(4)]
    web = fleet.client(alice.token, via="api1")
    channel = web.conversations_create(name="fleet")["channel"]["id"]
    web.conversations_invite(channel=channel, users=",".join(b.user_id for b in bots))
    return alice, bots, channel


def post_from(fleet: Fleet, token: str, channel: str, via: str, texts: list[str], rate: float):
    web = fleet.client(token, via=via)
    for text in texts:
        web.chat_postMessage(channel=channel, text=text)
        time.sleep(1 / rate)


def pinned(fleet: Fleet, gateway: str):
    """Rewrites rtm.connect's URL to reach ``gateway`` itself, past the load balancer
    (the ticket is good on any gateway)."""
    port = fleet.nodes[gateway].gateway_port
    return lambda url: f"ws://127.0.0.1:{port}/?" + url.split("?", 1)[1]


def test_health_and_roles(fleet):
    """Every node answers /healthz and /readyz; a gateway serves no Web API; the load
    balancer routes the Web API to the API nodes."""
    for node in fleet.nodes.values():
        assert get(f"{node.url}/healthz") == 200
        assert get(f"{node.url}/readyz") == 200
    assert get(f"{fleet.nodes['gw1'].url}/api/openapi.json") == 404
    assert get(f"{fleet.lb}/api/openapi.json") == 200


def test_the_load_balancer_closes_a_connection_that_never_says_anything(fleet):
    """deploy/haproxy.cfg's ``timeout http-request``: a client that connects and sends
    nothing is closed (Parley's own HTTP server only times out after a first byte)."""
    host, port = fleet.lb.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as silent:
        began = time.monotonic()
        rest = b""
        while chunk := silent.recv(4096):  # a 408 at most, then the close
            rest += chunk
        assert time.monotonic() - began < 25, "held open past the request timeout"
        assert rest == b"" or rest.startswith(b"HTTP/1.1 408"), rest[:80]


def test_a_message_through_either_api_node_reaches_both_gateways_in_order(fleet, team):
    """Two API nodes post into one channel at once; subscribers held by each gateway get
    every message once, in seq order (two publishers, one order)."""
    alice, bots, channel = team
    start = last_seq(fleet.client(alice.token), channel)
    subs = [
        Subscriber(fleet.client(bot.token), channel, start, pinned(fleet, gw), name=gw)
        for bot, gw in zip(bots, ("gw1", "gw1", "gw2", "gw2"), strict=True)
    ]

    def body():
        senders = [
            threading.Thread(
                target=post_from,
                args=(fleet, alice.token, channel, via, [f"{via}-{i}" for i in range(60)], 200),
            )
            for via in ("api1", "api2")
        ]
        for t in senders:
            t.start()
        for t in senders:
            t.join(60)
        wait_for(lambda: all(len(s.seqs) >= 120 for s in subs), 20, "120 deliveries each")
        time.sleep(0.3)  # nothing more may come

    run_subscribers(subs, body)
    expected = list(range(start + 1, start + 121))
    for sub in subs:
        assert sub.seqs == expected, (sub.name, sub.seqs)


def test_a_message_committed_but_never_published_still_reaches_the_subscribers(fleet, team):
    """An API node that dies between its commit and its publish leaves a message in the
    store that no event carries; the worker finds it by the channel's tail and publishes
    it, and the gateways deliver it in order. (The message is written here straight to
    the shared store, without publishing, as the dead node would have left it.)"""
    import asyncio

    from parley.app import open_storage
    from parley.ids import Snowflake
    from parley.storage.models import PostRequest

    alice, bots, channel = team
    web = fleet.client(alice.token)
    web.chat_postMessage(channel=channel, text="published as usual")  # the worker knows C
    start = last_seq(web, channel)
    sub = Subscriber(fleet.client(bots[0].token), channel, start, pinned(fleet, "gw2"))

    async def commit_without_publishing() -> int:
        directory, store = await open_storage(fleet.settings())
        try:
            req = PostRequest(
                id=Snowflake(900).next(),
                channel=channel,
                team=alice.team_id,
                user=alice.user_id,
                bot_id=None,
                text="committed, never published",
            )
            return (await store.post(req)).message.seq
        finally:
            await store.close()
            await directory.close()

    def body():
        seq = asyncio.run(commit_without_publishing())
        assert seq == start + 1
        wait_for(lambda: sub.seqs == [start + 1], 30, "the republished message")

    run_subscribers([sub], body)


def test_an_api_node_killed_under_load_loses_nothing_it_committed(fleet, team):
    """SIGKILL an API node while both post into one channel: its clients' requests in
    flight fail, and every message either node committed (acknowledged or not: the kill
    can fall between commit and answer, or between commit and publish) reaches every
    subscriber once, in order; the worker republishes what the dead node never did."""
    alice, bots, channel = team
    web = fleet.client(alice.token, via="api2")
    start = last_seq(web, channel)
    subs = [Subscriber(fleet.client(bot.token), channel, start) for bot in bots]

    def post_until_it_fails(via: str) -> None:
        poster = fleet.client(alice.token, via=via)
        poster.retry_handlers.clear()
        for i in range(150):
            try:
                poster.chat_postMessage(channel=channel, text=f"{via}-{i}")
            except Exception:  # the node died under this request
                return
            time.sleep(0.02)

    def body():
        senders = [
            threading.Thread(target=post_until_it_fails, args=(v,)) for v in ("api1", "api2")
        ]
        for t in senders:
            t.start()
        time.sleep(1.0)
        fleet.kill("api1")
        for t in senders:
            t.join(60)
        last = last_seq(web, channel)
        wait_for(lambda: all(s.seqs and s.seqs[-1] >= last for s in subs), 30, "every commit")
        time.sleep(0.3)

    run_subscribers(subs, body)
    expected = list(range(start + 1, last_seq(web, channel) + 1))
    for sub in subs:
        assert sub.seqs == expected
    fleet.start("api1", "api", 1)


def test_an_api_node_drained_under_load_fails_no_request(fleet, team):
    """A rolling restart: SIGTERM an API node while clients post through the load
    balancer on keep-alive connections (and HAProxy keeps its own open to the nodes):
    every request is answered ``ok``, none refused or cut off; the node exits once
    HAProxy has taken it out, every post is stored once, and the node comes back."""
    alice, _bots, channel = team
    web = fleet.client(alice.token, via="api2")
    start = last_seq(web, channel)
    failures: list[str] = []
    answered: list[int] = []

    def post_steadily(name: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", fleet.lb_port, timeout=10)
        headers = {
            "Authorization": f"Bearer {alice.token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        for i in range(200):
            body = json.dumps({"channel": channel, "text": f"{name}-{i}"})
            try:  # http.client opens a new connection after one the server closed
                conn.request("POST", "/api/chat.postMessage", body, headers)
                answer = json.loads(conn.getresponse().read())
            except Exception as exc:  # noqa: BLE001 - what the test counts
                failures.append(f"{name}-{i}: {exc!r}")
                conn.close()
                continue
            if answer.get("ok"):
                answered.append(1)
            else:
                failures.append(f"{name}-{i}: {answer}")
            time.sleep(0.01)
        conn.close()

    posters = [threading.Thread(target=post_steadily, args=(f"roll{n}",)) for n in range(2)]
    for t in posters:
        t.start()
    time.sleep(0.5)
    fleet.kill("api1", signal.SIGTERM)  # returns once it has exited
    for t in posters:
        t.join(60)
    assert failures == []
    assert len(answered) == 400
    assert last_seq(web, channel) == start + 400
    fleet.start("api1", "api", 1)


def test_a_gateway_killed_under_load_loses_and_doubles_nothing(fleet, team):
    """SIGKILL one gateway while messages flow: its clients reconnect through the load
    balancer to the other and resume; every subscriber ends with every message once, in
    order. Then the killed gateway comes back and takes connections again."""
    alice, bots, channel = team
    start = last_seq(fleet.client(alice.token), channel)
    subs = [Subscriber(fleet.client(bot.token), channel, start) for bot in bots]
    total = 300

    def body():
        senders = [
            threading.Thread(
                target=post_from,
                args=(fleet, alice.token, channel, via, [f"k{via}-{i}" for i in range(150)], 50),
            )
            for via in ("api1", "api2")
        ]
        for t in senders:
            t.start()
        time.sleep(1.0)
        fleet.kill("gw1")
        for t in senders:
            t.join(60)
        wait_for(lambda: all(len(s.seqs) >= total for s in subs), 30, f"{total} deliveries each")
        time.sleep(0.3)

    run_subscribers(subs, body)
    assert sum(s.connects for s in subs) > len(subs), "nobody was connected to gw1"
    expected = list(range(start + 1, start + total + 1))
    for sub in subs:
        assert sub.seqs == expected

    fleet.start("gw1", "gateway", 3)
    wait_for(lambda: get(f"{fleet.nodes['gw1'].url}/readyz") == 200, 10, "gw1 ready")
    back = Subscriber(fleet.client(bots[0].token), channel, start + total, pinned(fleet, "gw1"))
    run_subscribers([back], lambda: None)
    assert back.connects == 1


def test_an_app_connected_through_both_gateways_gets_each_slash_command_once(fleet, team):
    """A Socket Mode app with a connection on each gateway: every gateway reads the
    request, one claims it (Redis), so the app runs each command once, and hears each
    opening of its home tab once."""
    alice, _bots, channel = team
    bot = admin.create_user(
        fleet.settings(), "fleet-app", bot=True, app_token=True, rate_limit=TEST_RATE_LIMIT
    )
    admin.register_command(fleet.settings(), bot.user_id, "/fleetcmd")
    opener = fleet.client(bot.token)
    got: list[tuple[str, str]] = []
    homes: list[str] = []
    sockets = []
    for gw in ("gw1", "gw2"):
        ws = connect(
            pinned(fleet, gw)(opener.apps_connections_open(app_token=bot.app_token)["url"])
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        sockets.append((gw, ws))

    def serve(name: str, ws) -> None:
        while True:
            try:
                frame = json.loads(ws.recv(timeout=3))
            except (TimeoutError, ConnectionClosed):
                return
            if frame.get("type") == "slash_commands":
                got.append((name, frame["payload"]["text"]))
                reply = {"text": f"ran on {name}"}
                ws.send(json.dumps({"envelope_id": frame["envelope_id"], "payload": reply}))
            elif frame.get("type") == "events_api":
                event = frame["payload"]["event"]
                if event["type"] == "app_home_opened":
                    homes.append(event["event_ts"])
                ws.send(json.dumps({"envelope_id": frame["envelope_id"]}))

    threads = [threading.Thread(target=serve, args=pair) for pair in sockets]
    for t in threads:
        t.start()
    try:
        web = fleet.client(alice.token)
        for i in range(6):
            args = {"channel": channel, "command": "/fleetcmd", "text": str(i)}
            assert web.api_call("chat.command", json=args)["ok"]
        for _ in range(3):
            assert web.api_call("views.home", json={"app": bot.user_id})["ok"]
        wait_for(lambda: len(got) >= 6, 15, "six commands")
        wait_for(lambda: len(homes) >= 3, 15, "three homes opened")
        time.sleep(1)  # a second gateway's copy would have come by now
        assert sorted(text for _gw, text in got) == [str(i) for i in range(6)]
        assert len(homes) == len(set(homes)) == 3
    finally:
        for t in threads:
            t.join(10)
        for _gw, ws in sockets:
            ws.close()


def test_a_file_uploaded_through_one_api_node_is_served_by_the_other(fleet, team):
    """The upload URL one node gave takes the bytes on the other; either node serves the
    content (kept in the directory's MariaDB), and each has the message that shares it."""
    alice, bots, channel = team
    content = os.urandom(600_000)  # three chunks
    ticket = fleet.client(alice.token, via="api1").files_getUploadURLExternal(
        filename="fleet.bin", length=len(content)
    )
    path = "/" + ticket["upload_url"].split("/", 3)[3]
    assert fetch(fleet.nodes["api2"].url + path, method="POST", data=content)[0] == 200
    done = fleet.client(alice.token, via="api2").files_completeUploadExternal(
        files=[{"id": ticket["file_id"], "title": "fleet"}], channel_id=channel
    )["files"][0]
    file_path = "/" + done["url_private"].split("/", 3)[3]
    for node in ("api1", "api2"):
        status, _headers, body = fetch(fleet.nodes[node].url + file_path, bots[0].token)
        assert (status, body == content) == (200, True), node
    for via in ("api1", "api2"):
        latest = fleet.client(bots[1].token, via=via).conversations_history(channel=channel)
        assert latest["messages"][0]["files"][0]["id"] == done["id"]


def test_the_worker_pushes_offline_members_by_the_fleet_s_presence(fleet, team, providers):
    """The push worker (its own process, reading JetStream) asks Redis presence: a member
    connected to a gateway gets no push; once they disconnect, the next mention pushes
    their device within a second."""
    alice, _bots, channel = team
    bob = fleet.user("pushed-bob")
    web = fleet.client(alice.token, via="api1")
    bob_web = fleet.client(bob.token, via="api2")
    web.conversations_invite(channel=channel, users=bob.user_id)
    token = "fleet:APA91b" + "z" * 80
    bob_web.api_call("push.register", json={"platform": "fcm", "device_token": token})
    fcm = providers.fcm
    with connect(bob_web.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        web.chat_postMessage(channel=channel, text=f"<@{bob.user_id}> online, no push")
        time.sleep(1.0)
        assert pushes(fcm, token) == []
    wait_for(lambda: web.users_getPresence(user=bob.user_id)["presence"] == "away", 10, "bob away")
    sent = time.monotonic()
    web.chat_postMessage(channel=channel, text=f"<@{bob.user_id}> offline now")
    [pushed] = wait_pushes(fcm, token, 1, timeout=5)
    assert pushed["notification"]["body"].endswith("offline now")
    arrived = next(at for t, _, at in fcm.received if t == token)
    sent2 = time.monotonic()
    web.chat_postMessage(channel=channel, text=f"<@{bob.user_id}> again")
    wait_pushes(fcm, token, 2, timeout=5)
    arrived2 = [at for t, _, at in fcm.received if t == token][-1]
    # within a second, the second one too: a JetStream fetch used to wait out its whole
    # timeout after a lone event
    assert arrived - sent < 1.0 and arrived2 - sent2 < 1.0


def test_the_worker_killed_mid_batch_resumes_and_indexes_and_pushes_each_message_once(
    fleet, team, providers
):
    """SIGKILL of the worker process under load, pushes in flight (the provider answers
    after 50 ms, messages keep coming at ~50/s through the kill and the restart): its
    replacement resumes from the committed offsets. Every message is pushed (none lost
    with the killed batch) and shows once on the device (a push sent again carries the
    same per-message identity, which replaces the first), and is found once by search."""
    alice, _bots, channel = team
    carol = fleet.user("killed-worker-carol")
    web = fleet.client(alice.token, via="api1")
    web.conversations_invite(channel=channel, users=carol.user_id)
    token = "fleet:kill:APA91b" + "k" * 80
    carol_web = fleet.client(carol.token, via="api2")
    carol_web.api_call("push.register", json={"platform": "fcm", "device_token": token})
    fcm = providers.fcm
    fcm.delay = 0.05
    count = 150
    stamps: list[str] = []

    def post() -> None:
        for i in range(count):
            text = f"<@{carol.user_id}> zebracrash {i}"
            stamps.append(web.chat_postMessage(channel=channel, text=text)["ts"])
            time.sleep(0.02)

    poster = threading.Thread(target=post)
    try:
        poster.start()
        wait_for(lambda: len(pushes(fcm, token)) >= 20, 30, "pushes under way")
        fleet.kill("worker")
        sent_before = len(pushes(fcm, token))
        fleet.start("worker", "worker", 5)
        poster.join(60)

        def tags() -> list[str]:
            return [p["android"]["notification"]["tag"] for p in pushes(fcm, token)]

        wait_for(lambda: len(set(tags())) >= count, 60, "every message pushed")
    finally:
        fcm.delay = 0.0
    assert sent_before < count, "the worker was not killed mid-batch"
    assert set(tags()) == {f"{channel}:{ts}" for ts in stamps}  # each on the device once
    print(f"pushes: {len(tags())} for {count} messages ({sent_before} before the kill)")

    def found() -> list[str]:
        got = carol_web.search_messages(query="zebracrash", count=100, page=1)["messages"]
        pages = got["paging"]["pages"]
        matches = list(got["matches"])
        for page in range(2, pages + 1):
            more = carol_web.search_messages(query="zebracrash", count=100, page=page)
            matches += more["messages"]["matches"]
        return [m["ts"] for m in matches]

    wait_for(lambda: len(found()) >= count, 30, "every message indexed")
    assert sorted(found()) == sorted(stamps)  # each once


def test_a_person_deactivated_through_one_node_is_refused_and_closed_on_every_node(fleet):
    """``admin.users.remove`` on api1: the person's token, cached on api2, answers
    ``account_inactive`` there at once, their WebSockets on both gateways are closed, and
    a watcher on a gateway hears ``user_change``. Made active again from the command
    line (another process), the worker applies it: the token works on api2 again."""
    settings = fleet.settings()
    operator = admin.create_user(settings, "fleet-operator", scopes="admin.users:write")
    watcher, leaver = fleet.user("fleet-watcher"), fleet.user("fleet-leaver")
    on_api2 = fleet.client(leaver.token, via="api2")
    assert on_api2.auth_test()["user_id"] == leaver.user_id  # cached on api2 now

    def rtm(token: str, gateway: str):
        url = fleet.client(token, via="api1").rtm_connect()["url"]
        ws = opened.enter_context(connect(pinned(fleet, gateway)(url), open_timeout=10))
        assert '"hello"' in ws.recv(timeout=10)
        return ws

    with contextlib.ExitStack() as opened:
        watching = rtm(watcher.token, "gw2")
        leaving = [rtm(leaver.token, gw) for gw in ("gw1", "gw2")]
        fleet.client(operator.token, via="api1").admin_users_remove(
            team_id=leaver.team_id, user_id=leaver.user_id
        )
        for ws in leaving:
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd.code == 1008
        while True:
            event = json.loads(watching.recv(timeout=10))
            if event.get("type") == "user_change" and event["user"]["id"] == leaver.user_id:
                break
        assert event["user"]["deleted"] is True
        assert error_of(on_api2.auth_test) == "account_inactive"
        admin.set_active(settings, None, "fleet-leaver", True)  # as the command line does
        wait_for(lambda: succeeds(on_api2.auth_test), 15, "the worker to apply it")
