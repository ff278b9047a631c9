"""permessage-deflate: negotiated when offered (the websockets client offers it), each
event compressed once; clients that do not offer it get plain frames."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from parley.gateway import deflate


def test_negotiated_deflate_carries_events_and_sends(server):
    bot = server.user("deflate-bot", bot=True)
    peer = server.user("deflate-peer")
    web, peer_web = server.client(bot.token), server.client(peer.token)
    ch = web.conversations_create(name="deflate")["channel"]["id"]
    web.conversations_invite(channel=ch, users=peer.user_id)

    with connect(web.rtm_connect()["url"]) as ws:
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
        assert json.loads(ws.recv(10)) == {"type": "hello"}
        text = "compressible " * 200
        ws.send(json.dumps({"id": 1, "type": "message", "channel": ch, "text": text}))
        frames = [json.loads(ws.recv(10)) for _ in range(2)]
        ack = next(f for f in frames if f.get("reply_to") == 1)
        assert ack["ok"] and ack["text"] == text
        peer_web.chat_postMessage(channel=ch, text="from the peer")
        while (event := json.loads(ws.recv(10))).get("text") != "from the peer":
            pass
        assert event["channel"] == ch


def test_plain_clients_get_plain_frames(server):
    bot = server.user("plain-bot", bot=True)
    with connect(server.client(bot.token).rtm_connect()["url"], compression=None) as ws:
        assert ws.protocol.extensions == []
        assert json.loads(ws.recv(10)) == {"type": "hello"}


def test_negotiation_and_bomb_protection():
    assert deflate.negotiate("permessage-deflate; client_max_window_bits") == deflate.RESPONSE
    assert deflate.negotiate("x-webkit-deflate-frame") is None
    assert deflate.negotiate(None) is None
    assert deflate.negotiate("permessage-deflate; server_max_window_bits=10") is None
    payload = b'{"type":"message","text":"' + b"a" * 5000 + b'"}'
    assert deflate.decompress(deflate.compress(payload), 1 << 20) == payload
    assert deflate.decompress(deflate.compress(b"a" * 2_000_000), 1 << 20) is None
    assert deflate.decompress(b"\xff\xff\xff", 1 << 20) is None
