"""``pins.*`` through the official slack_sdk: members pin and unpin a channel's messages,
the channel is told, the list shows them as they are now."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.helpers import WsClient, error_of

_n = itertools.count()


@pytest.fixture()
def room(server):
    tag = next(_n)
    pinner, reader, outsider = (server.user(f"pin{tag}-{who}") for who in ("p", "r", "o"))
    web = server.client(pinner.token)
    channel = web.conversations_create(name=f"pins-{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=reader.user_id)
    return pinner, reader, outsider, channel


def test_pinning_tells_the_channel_and_lists_the_newest_first(server, room):
    pinner, reader, _outsider, channel = room
    web = server.client(pinner.token)
    first = web.chat_postMessage(channel=channel, text="the plan")["ts"]
    second = web.chat_postMessage(channel=channel, text="the date")["ts"]

    async def scenario() -> tuple[dict, dict]:
        rtm = await WsClient.open(server.client(reader.token).rtm_connect()["url"])
        await rtm.next(type="hello")
        web.pins_add(channel=channel, timestamp=first)
        added = await rtm.next(type="pin_added")
        web.pins_add(channel=channel, timestamp=second)
        web.pins_remove(channel=channel, timestamp=first)
        removed = await rtm.next(type="pin_removed")
        rtm.close()
        return added, removed

    added, removed = asyncio.run(scenario())
    assert (added["user"], added["channel_id"], added["pin_count"]) == (
        pinner.user_id,
        channel,
        1,
    )
    assert added["item"]["message"]["text"] == "the plan"
    assert removed["item"]["message"]["ts"] == first and removed["has_pins"] is True
    web.pins_add(channel=channel, timestamp=first)
    items = server.client(reader.token).pins_list(channel=channel)["items"]
    assert [i["message"]["text"] for i in items] == ["the plan", "the date"]
    assert {i["created_by"] for i in items} == {pinner.user_id}
    web.chat_update(channel=channel, ts=second, text="the new date")
    web.chat_delete(channel=channel, ts=first)
    items = web.pins_list(channel=channel)["items"]
    assert [i["message"]["text"] for i in items] == ["the new date"]  # as it is now


def test_the_rules_of_a_pin(server, room):
    pinner, reader, outsider, channel = room
    web = server.client(pinner.token)
    ts = web.chat_postMessage(channel=channel, text="pin me")["ts"]
    web.pins_add(channel=channel, timestamp=ts)
    assert error_of(lambda: web.pins_add(channel=channel, timestamp=ts)) == "already_pinned"
    assert error_of(lambda: web.pins_add(channel=channel, timestamp="1.000001")) == (
        "message_not_found"
    )
    other = server.client(outsider.token)
    assert error_of(lambda: other.pins_add(channel=channel, timestamp=ts)) == "not_in_channel"
    reader_web = server.client(reader.token)
    reader_web.pins_remove(channel=channel, timestamp=ts)  # any member may
    assert error_of(lambda: web.pins_remove(channel=channel, timestamp=ts)) == "no_pin"


def test_a_channel_holds_100_pins_and_a_deleted_messages_pin_makes_room(server):
    tag = next(_n)
    web = server.client(server.user(f"pinmany{tag}", rate_limit=10_000).token)
    channel = web.conversations_create(name=f"pins-many-{tag}")["channel"]["id"]
    stamps = [web.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(101)]
    for ts in stamps[:100]:
        web.pins_add(channel=channel, timestamp=ts)
    assert error_of(lambda: web.pins_add(channel=channel, timestamp=stamps[100])) == (
        "too_many_pins"
    )
    web.chat_delete(channel=channel, ts=stamps[0])
    assert len(web.pins_list(channel=channel)["items"]) == 99  # the deleted one is not shown
    web.pins_add(channel=channel, timestamp=stamps[100])  # its pin made room
    items = web.pins_list(channel=channel)["items"]
    assert len(items) == 100 and items[0]["message"]["text"] == "m100"
