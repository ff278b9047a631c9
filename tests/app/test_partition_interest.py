"""A gateway reads only the event-log partitions its clients need, and a client that
joins a channel whose partition it did not read gets the join and every message after
it, in order, once (``parley.gateway.consumer``). The same check runs on JetStream in
``tests/integration/test_jetstream_bus.py``."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from parley.bus.interface import JOIN_NOTICE
from parley.storage.router import partition_for
from tests.helpers import RunningServer, WsClient, server_in_thread

PARTITIONS = 64


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with server_in_thread(tmp_path_factory.mktemp("data"), partitions=PARTITIONS) as srv:
        yield srv


def read_partitions(srv: RunningServer) -> list[int]:
    return srv.on_loop(lambda svc: svc.consumer.partitions())


def delay_join_notices(srv: RunningServer, seconds: float) -> None:
    """Makes the gateway take in join notices ``seconds`` late, as when the team's
    partition is read behind the channel's: the messages of that gap are what the
    joiner's catch-up must bring from the store."""

    def install(svc) -> None:
        hub, loop = svc.hub, asyncio.get_running_loop()
        deliver = hub.deliver

        def late(event):
            if event.type != JOIN_NOTICE:
                return deliver(event)
            loop.call_later(seconds, deliver, event)
            return 0

        hub.deliver = late

    srv.on_loop(install)


def check_join_catch_up(srv: RunningServer, tag: str) -> None:
    """Alice follows one channel; Bob posts 60 messages to another, in a partition her
    gateway does not read; she joins it after about 20 of them, and her gateway hears of
    the join a quarter of a second late."""
    p = srv.settings.partitions
    delay_join_notices(srv, 0.25)

    def part(key: str) -> int:
        return partition_for(key, p)

    alice, bob = srv.user(f"alice-{tag}"), srv.user(f"bob-{tag}")
    ac, bc = srv.client(alice.token), srv.client(bob.token)
    team = ac.auth_test()["team_id"]
    home = ac.conversations_create(name=f"home-{tag}")["channel"]["id"]
    busy = None
    for i in range(50):
        cid = bc.conversations_create(name=f"busy-{tag}-{i}")["channel"]["id"]
        if part(cid) not in (part(home), part(team)):
            busy = cid
            break
    assert busy is not None
    url = ac.rtm_connect()["url"]
    acked: list[int] = []
    joined_at: dict[str, int] = {}

    def post() -> None:
        for i in range(60):
            if i == 20:
                joined_at["before"] = len(acked)
                ac.conversations_join(channel=busy)
                joined_at["after"] = len(acked)
            bc.chat_postMessage(channel=busy, text=f"m{i}")
            acked.append(i)
            time.sleep(0.005)

    async def go() -> list[dict]:
        ws = await WsClient.open(url)
        try:
            await ws.next(type="hello")
            assert read_partitions(srv) == sorted({part(home), part(team)})
            poster = threading.Thread(target=post)
            poster.start()
            got = []
            while True:
                frame = await ws.next(timeout=15)
                if frame.get("channel") == busy:
                    got.append(frame)
                    if frame.get("text") == "m59":
                        break
            poster.join(30)
            return got
        finally:
            ws.close()

    got = asyncio.run(go())
    assert got[0]["type"] == "member_joined_channel" and got[0]["user"] == alice.user_id
    seqs = [f["seq"] for f in got[1:]]
    assert all(f["type"] == "message" for f in got[1:])
    assert seqs == list(range(seqs[0], 61)), seqs  # in order, once, none missing
    # nothing from before the join; everything acknowledged after it returned
    assert joined_at["before"] < seqs[0] <= joined_at["after"] + 1
    assert part(busy) in read_partitions(srv)


def test_a_join_into_an_unread_partition_brings_everything_after_it(server):
    check_join_catch_up(server, "mem")


def test_a_gateway_with_no_clients_reads_no_partition(tmp_path):
    with server_in_thread(tmp_path, partitions=PARTITIONS) as srv:
        creds = srv.user("lonely")
        client = srv.client(creds.token)
        quiet = client.conversations_create(name="quiet")["channel"]["id"]
        client.chat_postMessage(channel=quiet, text="nobody listens")
        assert read_partitions(srv) == []


def test_a_join_left_again_before_its_notice_arrives_follows_nothing(server):
    """Bob is invited to a private channel and leaves it at once; his gateway hears of
    the invitation late, after the leave, from a partition it did not read. He must not
    start following the channel: what is posted there after he left never reaches him."""
    delay_join_notices(server, 0.25)
    alice, bob = server.user("alice-leak"), server.user("bob-leak")
    ac, bc = server.client(alice.token), server.client(bob.token)
    team = bc.auth_test()["team_id"]
    secret = None
    for i in range(50):
        created = ac.conversations_create(name=f"secret-{i}", is_private=True)
        cid = created["channel"]["id"]
        if partition_for(cid, PARTITIONS) != partition_for(team, PARTITIONS):
            secret = cid
            break
    assert secret is not None
    url = bc.rtm_connect()["url"]

    async def go() -> list[dict]:
        ws = await WsClient.open(url)
        try:
            await ws.next(type="hello")
            ac.conversations_invite(channel=secret, users=bob.user_id)
            bc.conversations_leave(channel=secret)
            await asyncio.sleep(0.5)  # the notice has come, after the leave
            ac.chat_postMessage(channel=secret, text="qzsecretmark9 after bob left")
            ws.send({"type": "ping", "id": 1})
            return await ws.until(type="pong", timeout=10) + await drain(ws, 0.5)
        finally:
            ws.close()

    seen = asyncio.run(go())
    assert not [f for f in seen if f.get("channel") == secret], seen
    assert "qzsecretmark9" not in repr(seen)


async def drain(ws: WsClient, seconds: float) -> list[dict]:
    out = []
    try:
        while True:
            out.append(await ws.next(timeout=seconds))
    except TimeoutError:
        return out
