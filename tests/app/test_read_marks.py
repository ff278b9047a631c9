"""Read marks: ``conversations.mark`` and what ``conversations.info`` says is unread,
through the official slack_sdk; a mark reaches the reader's other connections only."""

from __future__ import annotations

import asyncio
import itertools

from tests.helpers import WsClient, error_of

_n = itertools.count()


def test_a_mark_sets_what_is_unread_and_reaches_the_readers_other_connections(server):
    tag = next(_n)
    reader, writer = (server.user(f"mark-{tag}-{who}") for who in ("r", "w"))
    r, w = server.client(reader.token), server.client(writer.token)
    channel = w.conversations_create(name=f"mark-{tag}")["channel"]["id"]
    w.conversations_invite(channel=channel, users=reader.user_id)
    stamps = [w.chat_postMessage(channel=channel, text=f"n{i}")["ts"] for i in range(3)]
    w.chat_postMessage(channel=channel, text="a reply", thread_ts=stamps[0])  # not counted
    r.chat_postMessage(channel=channel, text="my own")  # not counted for me
    gone = w.chat_postMessage(channel=channel, text="deleted")["ts"]
    w.chat_delete(channel=channel, ts=gone)  # not counted

    fresh = r.conversations_info(channel=channel)["channel"]
    assert (fresh["last_read"], fresh["unread_count"]) == ("0.000000", 3)
    assert w.conversations_info(channel=channel)["channel"]["unread_count"] == 1  # "my own"

    async def watch() -> tuple[dict, list[dict]]:
        mine = await WsClient.open(r.rtm_connect()["url"])
        theirs = await WsClient.open(w.rtm_connect()["url"])
        for sock in (mine, theirs):
            await sock.next(type="hello")
        r.conversations_mark(channel=channel, ts=stamps[1])
        event = await mine.next(type="channel_marked")
        theirs.send({"id": 3, "type": "ping"})
        seen = await theirs.until(type="pong", reply_to=3)
        mine.close()
        theirs.close()
        return event, seen

    event, writer_saw = asyncio.run(watch())
    assert (event["channel"], event["ts"], event["unread_count"]) == (channel, stamps[1], 1)
    assert not any(f.get("type") == "channel_marked" for f in writer_saw)
    after = r.conversations_info(channel=channel)["channel"]
    assert (after["last_read"], after["unread_count"]) == (stamps[1], 1)
    r.conversations_mark(channel=channel, ts=stamps[0])  # "mark unread" goes back
    assert r.conversations_info(channel=channel)["channel"]["unread_count"] == 2


def test_marks_are_for_members_and_take_a_timestamp(server):
    tag = next(_n)
    owner, outsider = (server.user(f"markx-{tag}-{who}") for who in ("o", "x"))
    o, x = server.client(owner.token), server.client(outsider.token)
    public = o.conversations_create(name=f"markx-{tag}")["channel"]["id"]
    private = o.conversations_create(name=f"markx-p-{tag}", is_private=True)["channel"]["id"]
    ts = o.chat_postMessage(channel=public, text="hi")["ts"]
    assert error_of(x.conversations_mark, channel=public, ts=ts) == "not_in_channel"
    assert error_of(x.conversations_mark, channel=private, ts=ts) == "channel_not_found"
    assert error_of(o.conversations_mark, channel=public, ts="soon") == "invalid_timestamp"
    assert "unread_count" not in x.conversations_info(channel=public)["channel"]
    dm = o.conversations_open(users=outsider.user_id)["channel"]["id"]
    o.chat_postMessage(channel=dm, text="psst")
    assert x.conversations_info(channel=dm)["channel"]["unread_count"] == 1
    o.conversations_mark(channel=dm, ts=ts)  # any ts, even one of another channel
