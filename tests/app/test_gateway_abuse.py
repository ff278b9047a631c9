"""The gateway's bounds against abusive clients, over real WebSocket connections.

Each abuse ends the way :mod:`parley.gateway.server` documents (an error reply, or a
close with its code and a reason), and a bystander's connection on the same server keeps
receiving its messages throughout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from picows import WSInvalidStatusError, WSMsgType, ws_connect

from tests.helpers import RawClient

_n = itertools.count()


class Bystander:
    """A well-behaved user with a channel: proves the server still serves others."""

    def __init__(self, server) -> None:
        creds = server.user(f"bystander-{next(_n)}")
        self.web = server.client(creds.token)
        self.channel = self.web.conversations_create(name=f"calm-{next(_n)}")["channel"]["id"]
        self.client: RawClient | None = None

    async def connect(self) -> Bystander:
        self.client = await RawClient.open(self.web.rtm_connect()["url"])
        return self

    async def still_served(self) -> None:
        text = f"still here {next(_n)}"
        self.web.chat_postMessage(channel=self.channel, text=text)
        await self.client.next(type="message", text=text)
        self.client.send_json({"type": "ping", "id": 1})
        await self.client.next(type="pong", reply_to=1)


def abuser(server):
    """A user with the default limits (the tests' users otherwise get a high rate)."""
    return server.client(server.user(f"abuser-{next(_n)}", rate_limit=None).token)


def run(scenario):
    return asyncio.run(scenario())


# -- (1) frames per second --------------------------------------------------------------------


def test_a_burst_past_the_bucket_is_answered_ratelimited_and_not_run(server):
    web = abuser(server)

    async def scenario():
        client = await RawClient.open(web.rtm_connect()["url"])
        began = time.monotonic()
        for i in range(150):
            client.send_json({"type": "ping", "id": i})
        answers = [await client.next() for _ in range(150)]
        took = time.monotonic() - began
        pongs = [a for a in answers if a.get("type") == "pong"]
        refused = [a for a in answers if a.get("ok") is False]
        # the burst of 100 passes, plus what the bucket refilled while the frames came
        # in (at most the rate times this side's whole exchange, which spans the server's)
        refilled = int(server.settings.ws_frame_rate * took) + 1
        assert 100 <= len(pongs) <= 100 + refilled and len(pongs) + len(refused) == 150
        assert refused, "nothing past the burst was refused"
        assert [a["reply_to"] for a in answers] == list(range(150))  # in order, each once
        for a in refused:
            assert a["error"]["code"] == "ratelimited" and a["error"]["retry_after"] >= 1
            assert set(a) == {"ok", "reply_to", "error"}
        # a frame without an id is refused too, with an error frame
        client.send_json({"type": "typing", "channel": "C1"})
        bare = await client.next(type="error")
        assert bare["error"]["code"] == "ratelimited"
        assert not client.closed.done()  # refused, not closed
        client.close()

    run(scenario)


def test_refused_messages_are_not_posted(server):
    """Whichever limit refuses a message frame (the frame rate, or the user's message
    rate, which binds first for a default user), nothing refused is posted."""
    creds = server.user(f"poster-{next(_n)}", rate_limit=None)
    web = server.client(creds.token)
    ch = web.conversations_create(name=f"burst-{next(_n)}")["channel"]["id"]

    async def scenario():
        client = await RawClient.open(web.rtm_connect()["url"])
        for i in range(130):
            client.send_json({"id": i, "type": "message", "channel": ch, "text": f"m{i}"})
        # refusals are answered at once, commands once run: correlate by reply_to
        acks: dict[int, dict] = {}
        while len(acks) < 130:
            frame = await client.next()
            if "reply_to" in frame:  # not the message events of the channel
                acks[frame["reply_to"]] = frame
        client.close()
        return acks

    acks = run(scenario)
    posted = [a for a in acks.values() if a["ok"]]
    refused = [a for a in acks.values() if not a["ok"]]
    assert len(refused) >= 30 and {a["error"]["code"] for a in refused} == {"ratelimited"}
    history = web.conversations_history(channel=ch, limit=200)["messages"]
    assert sorted(m["text"] for m in history) == sorted(a["text"] for a in posted)


def test_an_operator_raised_rate_raises_the_frame_rate(server):
    """A user made with ``--rate-limit 300`` may send 300 frames at once on a socket."""
    web = server.client(server.user(f"trusted-{next(_n)}", rate_limit=300).token)

    async def scenario():
        client = await RawClient.open(web.rtm_connect()["url"])
        for i in range(250):
            client.send_json({"type": "ping", "id": i})
        answers = [await client.next() for _ in range(250)]
        assert all(a.get("type") == "pong" for a in answers)
        client.close()

    run(scenario)


def test_a_flood_is_closed_with_1008_and_others_keep_being_served(server):
    web = abuser(server)

    async def scenario():
        bystander = await Bystander(server).connect()
        client = await RawClient.open(web.rtm_connect()["url"])
        same_user = await RawClient.open(web.rtm_connect()["url"])
        payload = json.dumps({"type": "ping", "id": 0}).encode()
        for _ in range(2000):
            client.transport.send(WSMsgType.TEXT, payload)
        code, reason = await client.close_info()
        assert code == 1008 and "flooding" in reason and "500" in reason
        seen = []
        while not client.frames.empty():
            seen.append(client.frames.get_nowait())
        assert any(f.get("error", {}).get("code") == "ratelimited" for f in seen)
        assert len(seen) < 1100  # nothing is read after the close
        await bystander.still_served()
        same_user.send_json({"type": "ping", "id": 3})  # its own bucket: unaffected
        await same_user.next(type="pong", reply_to=3)
        for c in (same_user, bystander.client):
            c.close()

    run(scenario)


def test_websocket_pings_are_answered_and_counted(server):
    web = abuser(server)

    async def scenario():
        client = await RawClient.open(web.rtm_connect()["url"])
        client.transport.send_ping(b"hi")
        assert await asyncio.wait_for(client.pongs.get(), 10) == b"hi"
        for _ in range(1500):
            client.transport.send_ping(b"x")
        code, _ = await client.close_info()
        assert code == 1008
        assert client.pongs.qsize() <= 110

    run(scenario)


# -- (2) connections per user -----------------------------------------------------------------


def test_the_21st_connection_of_a_user_is_refused_with_429(server):
    web = abuser(server)

    async def scenario():
        bystander = await Bystander(server).connect()
        clients = [await RawClient.open(web.rtm_connect()["url"]) for _ in range(20)]
        with pytest.raises(WSInvalidStatusError) as info:
            await ws_connect(RawClient, web.rtm_connect()["url"])
        response = info.value.response
        assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
        assert b"at most 20" in info.value.raw_body
        await bystander.still_served()
        for c in clients:  # the 20 are untouched
            c.send_json({"type": "ping", "id": 7})
            await c.next(type="pong", reply_to=7)

        # one goes away: a place is free again
        clients[0].transport.send_close()
        await clients[0].transport.wait_disconnected()
        deadline = time.monotonic() + 5
        while True:
            try:
                clients[0] = await RawClient.open(web.rtm_connect()["url"])
                break
            except WSInvalidStatusError:  # the server has not seen the close yet
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        for c in [*clients, bystander.client]:
            c.close()

    run(scenario)


# -- (3), (4), (6) frames the gateway does not take -------------------------------------------


@pytest.mark.parametrize(
    ("name", "send", "code", "reason"),
    [
        ("binary", lambda t: t.send(WSMsgType.BINARY, b"\x00\x01"), 1003, "binary"),
        (
            "fragmented",
            lambda t: (
                t.send(WSMsgType.TEXT, b'{"type": ', fin=False),
                t.send(WSMsgType.CONTINUATION, b'"ping"}', fin=True),
            ),
            1003,
            "fragmented",
        ),
        ("stray continuation", lambda t: t.send(WSMsgType.CONTINUATION, b"x"), 1002, "continu"),
        (
            "invalid utf-8",
            lambda t: t.send(WSMsgType.TEXT, b'{"type": "ping", "id": 1, "x": "\xff\xfe"}'),
            1007,
            "UTF-8",
        ),
        ("oversized", lambda t: t.send(WSMsgType.TEXT, b"x" * ((1 << 20) + 1)), 1009, ""),
        (
            "compressed, not negotiated",
            lambda t: t.send(WSMsgType.TEXT, b"\x00\x01", rsv1=True),
            1002,
            "compressed",
        ),
    ],
)
def test_frames_it_does_not_take_are_closed_cleanly(server, name, send, code, reason):
    web = abuser(server)

    async def scenario():
        bystander = await Bystander(server).connect()
        client = await RawClient.open(web.rtm_connect()["url"])
        send(client.transport)
        got_code, got_reason = await client.close_info()
        assert got_code == code, name
        assert reason in got_reason and got_reason, name
        await bystander.still_served()
        bystander.client.close()

    run(scenario)


# -- (5) garbage in, error replies out -----------------------------------------------------------


def test_garbage_gets_rtm_error_replies_and_the_connection_stays(server):
    web = abuser(server)
    frames: list[tuple[bytes, dict]] = [
        (b"nope", {"type": "error", "code": "invalid_json"}),
        (b"[1, 2]", {"type": "error", "code": "invalid_json"}),
        (b'"text"', {"type": "error", "code": "invalid_json"}),
        (b'{"id": 1, "type": "dance"}', {"reply_to": 1, "code": "unknown_type"}),
        (b'{"id": 2}', {"reply_to": 2, "code": "unknown_type"}),
        (b'{"id": 3, "type": 42}', {"reply_to": 3, "code": "unknown_type"}),
        (
            b'{"id": 4, "type": "message", "channel": 5, "text": ["x"]}',
            {"reply_to": 4, "code": "invalid_arguments"},
        ),
        (
            b'{"id": 5, "type": "message", "text": "hi"}',
            {"reply_to": 5, "code": "channel_not_found"},
        ),
        (
            b'{"id": 6, "type": "typing", "channel": 7}',
            {"reply_to": 6, "code": "channel_not_found"},
        ),
        (
            b'{"id": 7, "type": "presence_sub", "ids": "U1"}',
            {"reply_to": 7, "code": "invalid_arguments"},
        ),
        (b'{"id": {"a": 1}, "type": "ping"}', {"type": "error", "code": "invalid_arguments"}),
        (
            b'{"id": 8, "type": "message", "channel": "C1", "text": "x", "thread_ts": 5}',
            {
                "reply_to": 8,
                "code": "thread_not_found",
            },
        ),
    ]

    async def scenario():
        bystander = await Bystander(server).connect()
        client = await RawClient.open(web.rtm_connect()["url"])
        for data, want in frames:
            client.transport.send(WSMsgType.TEXT, data)
            got = await client.next()
            assert got["ok"] is False and got["error"]["code"] == want["code"], data
            assert isinstance(got["error"]["msg"], str) and got["error"]["msg"], data
            if "reply_to" in want:
                assert got["reply_to"] == want["reply_to"], data
            else:
                assert got["type"] == "error" and "reply_to" not in got, data
        nested = b'{"type": "ping", "id": 98, "x": ' + b"[" * 300 + b"]" * 300 + b"}"
        client.transport.send(WSMsgType.TEXT, nested)  # too deep to echo: a plain pong
        assert await client.next() == {"type": "pong", "reply_to": 98}
        client.send_json({"type": "ping", "id": 99})
        assert (await client.next())["reply_to"] == 99
        assert not client.closed.done()
        await bystander.still_served()
        for c in (client, bystander.client):
            c.close()

    run(scenario)


def test_connections_that_never_upgrade_are_closed(tmp_path):
    """An idle, unauthenticated TCP connection to the gateway, or one whose upgrade has
    no valid ticket, does not stay: closed after the handshake timeout, or at once."""
    import socket
    import time
    from urllib.parse import urlsplit

    from tests.helpers import server_in_thread

    with server_in_thread(tmp_path, ws_handshake_timeout=1.0) as srv:
        url = urlsplit(srv.client(srv.user("idler").token).rtm_connect()["url"])
        with socket.create_connection((url.hostname, url.port), timeout=10) as silent:
            started = time.monotonic()
            assert silent.recv(100) == b""  # closed by the server
            assert time.monotonic() - started < 5
        with socket.create_connection((url.hostname, url.port), timeout=10) as forged:
            forged.sendall(
                b"GET /?ticket=forged HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            assert forged.recv(100).startswith(b"HTTP/1.1 403")


# -- revocation ---------------------------------------------------------------------------------


def test_revoking_a_token_closes_the_websockets_it_opened(server):
    """``auth.revoke`` closes the token's open WebSockets (1008 ``token_revoked``) and a
    ticket it got before cannot open one; other users' connections stay open."""
    web = abuser(server)
    bystander = Bystander(server)

    async def scenario():
        client = await RawClient.open(web.rtm_connect()["url"])
        calm = await RawClient.open(bystander.web.rtm_connect()["url"])
        unspent = web.rtm_connect()["url"]  # a ticket asked for before the revocation
        assert (await asyncio.to_thread(web.auth_revoke))["revoked"] is True
        assert await client.close_info() == (1008, "token_revoked")
        _transport, late = await ws_connect(RawClient, unspent)
        assert await late.close_info() == (1008, "token_revoked")
        assert late.frames.empty()  # not even hello
        calm.send_json({"id": 1, "type": "message", "channel": bystander.channel, "text": "hi"})
        assert (await calm.next(reply_to=1))["ok"] is True
        calm.close()

    run(scenario)
