"""Resume: a reconnecting client gets exactly what it missed, in order, before live events."""

from __future__ import annotations

import asyncio
import itertools

from tests.helpers import WsClient

_n = itertools.count()


def setup(server):
    a = server.user(f"resume-a-{next(_n)}")
    b = server.user(f"resume-b-{next(_n)}")
    a_web, b_web = server.client(a.token), server.client(b.token)
    ch = a_web.conversations_create(name=f"resume-{next(_n)}")["channel"]["id"]
    a_web.conversations_invite(channel=ch, users=b.user_id)
    return a_web, b_web, ch


def test_reconnect_replays_the_missed_messages_then_goes_live(server):
    a_web, b_web, ch = setup(server)

    async def scenario():
        first = await WsClient.open(b_web.rtm_connect()["url"])
        await first.next(type="hello")
        for i in range(3):
            a_web.chat_postMessage(channel=ch, text=f"before {i}")
        held = [await first.next(type="message", channel=ch) for _ in range(3)]
        first.close()
        last = held[-1]["seq"]

        missed = [a_web.chat_postMessage(channel=ch, text=f"missed {i}")["ts"] for i in range(5)]
        a_web.chat_update(channel=ch, ts=missed[1], text="missed 1, edited")
        a_web.chat_delete(channel=ch, ts=missed[3])

        again = await WsClient.open(b_web.rtm_connect(resume={ch: last})["url"])
        frames = await again.until(type="resume_done")
        assert frames[0]["type"] == "hello"
        replay = [f for f in frames[1:-1] if f.get("channel") == ch]
        assert [f["seq"] for f in replay] == [last + i for i in range(1, 6)]
        assert [f.get("subtype") for f in replay] == [None, None, None, "message_deleted", None]
        assert replay[1]["text"] == "missed 1, edited"
        assert frames[-1]["channels"] == {ch: last + 5}
        a_web.chat_postMessage(channel=ch, text="live")
        live = await again.next(type="message", channel=ch)
        assert live["text"] == "live" and live["seq"] == last + 6
        again.close()

    asyncio.run(scenario())


def test_a_large_gap_replays_the_newest_1000_and_points_at_the_rest(server):
    a_web, b_web, ch = setup(server)
    for i in range(1100):
        a_web.chat_postMessage(channel=ch, text=f"m{i}")

    async def scenario():
        client = await WsClient.open(b_web.rtm_connect(resume={ch: 0})["url"])
        frames = await client.until(type="resume_done")
        client.close()
        return frames

    frames = asyncio.run(scenario())
    gap = next(f for f in frames if f.get("type") == "resume_gap")
    assert (gap["missing"], gap["first_seq"], gap["last_seq"]) == (100, 1, 100)
    replay = [f for f in frames if f.get("type") == "message"]
    assert [f["seq"] for f in replay] == list(range(101, 1101))
    older = b_web.conversations_history(channel=ch, cursor=gap["history"]["cursor"], limit=999)
    assert [m["text"] for m in older["messages"]] == [f"m{i}" for i in range(99, -1, -1)]


def test_resume_reveals_nothing_about_channels_one_is_not_in(server):
    a_web, b_web, _ = setup(server)
    secret = a_web.conversations_create(name=f"secret-{next(_n)}", is_private=True)
    secret_id = secret["channel"]["id"]
    a_web.chat_postMessage(channel=secret_id, text="hidden")

    async def scenario():
        client = await WsClient.open(b_web.rtm_connect(resume={secret_id: 0})["url"])
        frames = await client.until(type="resume_done")
        client.close()
        return frames

    frames = asyncio.run(scenario())
    assert frames[-1]["channels"] == {}
    assert not [f for f in frames if f.get("channel") == secret_id]


def test_bad_resume_argument(server):
    _, b_web, _ = setup(server)
    import pytest
    from slack_sdk.errors import SlackApiError

    for bad in ['{"C1": -1}', '{"C1": "x"}', "[1]", "nope"]:
        with pytest.raises(SlackApiError) as info:
            b_web.rtm_connect(resume=bad)
        assert info.value.response["error"] == "invalid_arguments"
