"""A channel's topic, purpose and name, and removing a member: ``conversations.setTopic``,
``setPurpose``, ``rename`` and ``kick`` through the official slack_sdk and real sockets."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.helpers import WsClient, error_of

_n = itertools.count()


@pytest.fixture()
def crew(server):
    """A public channel made by its owner, with a member; and a teammate outside it."""
    tag = next(_n)
    owner, member, teammate = (server.user(f"chg-{tag}-{who}") for who in ("o", "m", "t"))
    web = server.client(owner.token)
    channel = web.conversations_create(name=f"chg-{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=member.user_id)
    return tag, owner, member, teammate, channel


def test_topic_and_purpose_are_set_told_in_order_and_kept(server, crew):
    _tag, owner, member, _teammate, channel = crew
    o, m = server.client(owner.token), server.client(member.token)

    async def watch() -> list[dict]:
        sock = await WsClient.open(o.rtm_connect()["url"])
        await sock.next(type="hello")
        m.chat_postMessage(channel=channel, text="before")
        set_topic = m.conversations_setTopic(channel=channel, topic="Ship it <!channel>")
        assert set_topic["channel"]["topic"]["value"] == "Ship it <!channel>"
        m.conversations_setPurpose(channel=channel, purpose="Where releases are planned")
        m.chat_postMessage(channel=channel, text="after")
        frames = await sock.until(type="message", text="after")
        sock.close()
        return [f for f in frames if f.get("type") == "message"]

    seen = asyncio.run(watch())
    assert [f.get("subtype") for f in seen] == [None, "channel_topic", "channel_purpose", None]
    assert [f["seq"] for f in seen] == [1, 2, 3, 4]
    assert seen[1]["text"] == f"<@{member.user_id}> set the channel topic: Ship it <!channel>"
    info = o.conversations_info(channel=channel)["channel"]
    assert info["topic"]["value"] == "Ship it <!channel>"
    assert info["purpose"]["value"] == "Where releases are planned"
    kept = o.conversations_history(channel=channel)["messages"]
    assert [x.get("subtype") for x in kept] == [None, "channel_purpose", "channel_topic", None]
    assert o.conversations_setTopic(channel=channel, topic="")["channel"]["topic"]["value"] == ""


def test_topic_and_purpose_refusals(server, crew):
    _tag, owner, _member, teammate, channel = crew
    o, t = server.client(owner.token), server.client(teammate.token)
    assert error_of(o.conversations_setTopic, channel=channel, topic="x" * 251) == "too_long"
    assert error_of(t.conversations_setTopic, channel=channel, topic="mine") == "not_in_channel"
    assert error_of(o.conversations_setPurpose, channel="C0NOPE", purpose="p") == (
        "channel_not_found"
    )
    dm = o.conversations_open(users=teammate.user_id)["channel"]["id"]
    assert error_of(o.conversations_setTopic, channel=dm, topic="us") == (
        "method_not_supported_for_channel_type"
    )
    o.conversations_archive(channel=channel)
    assert error_of(o.conversations_setTopic, channel=channel, topic="late") == "is_archived"


def test_a_rename_reaches_the_team_and_only_the_creator_may(server, crew):
    tag, owner, member, teammate, channel = crew
    o, m = server.client(owner.token), server.client(member.token)
    taken = o.conversations_create(name=f"chg-taken-{tag}")["channel"]["name"]

    async def watch() -> dict:
        sock = await WsClient.open(server.client(teammate.token).rtm_connect()["url"])
        await sock.next(type="hello")
        renamed = o.conversations_rename(channel=channel, name=f"chg-new-{tag}")
        assert renamed["channel"]["name"] == f"chg-new-{tag}"
        event = await sock.next(type="channel_rename")
        sock.close()
        return event

    event = asyncio.run(watch())  # a teammate outside the public channel hears of it
    assert event["channel"] == {
        "id": channel,
        "name": f"chg-new-{tag}",
        "created": event["channel"]["created"],
    }
    assert o.conversations_info(channel=channel)["channel"]["name"] == f"chg-new-{tag}"
    told = o.conversations_history(channel=channel)["messages"][0]
    assert told["subtype"] == "channel_name" and f'to "chg-new-{tag}"' in told["text"]
    assert error_of(m.conversations_rename, channel=channel, name="mine") == "not_authorized"
    assert error_of(o.conversations_rename, channel=channel, name=taken) == "name_taken"
    assert error_of(o.conversations_rename, channel=channel, name="Bad Name") == "invalid_name"


def test_a_private_rename_is_told_to_its_members_only(server):
    tag = next(_n)
    owner, member, teammate = (server.user(f"chgp-{tag}-{who}") for who in ("o", "m", "t"))
    o = server.client(owner.token)
    private = o.conversations_create(name=f"chgp-{tag}", is_private=True)["channel"]["id"]
    o.conversations_invite(channel=private, users=member.user_id)

    async def watch() -> tuple[dict, list[dict]]:
        inside = await WsClient.open(server.client(member.token).rtm_connect()["url"])
        outside = await WsClient.open(server.client(teammate.token).rtm_connect()["url"])
        for sock in (inside, outside):
            await sock.next(type="hello")
        o.conversations_rename(channel=private, name=f"chgp-secret-{tag}")
        event = await inside.next(type="group_rename")
        outside.send({"id": 7, "type": "ping"})
        before_pong = await outside.until(type="pong", reply_to=7)
        inside.close()
        outside.close()
        return event, before_pong

    event, outsider_saw = asyncio.run(watch())
    assert event["channel"]["name"] == f"chgp-secret-{tag}"
    assert not any("secret" in str(frame) for frame in outsider_saw)


def test_a_kicked_member_leaves_and_hears_nothing_more(server):
    tag = next(_n)
    owner, member = (server.user(f"kick-{tag}-{who}") for who in ("o", "m"))
    o, m = server.client(owner.token), server.client(member.token)
    private = o.conversations_create(name=f"kick-{tag}", is_private=True)["channel"]["id"]
    o.conversations_invite(channel=private, users=member.user_id)

    async def watch() -> list[dict]:
        sock = await WsClient.open(m.rtm_connect()["url"])
        await sock.next(type="hello")
        assert o.conversations_kick(channel=private, user=member.user_id)["ok"]
        await sock.next(type="member_left_channel", user=member.user_id, channel=private)
        o.chat_postMessage(channel=private, text="after the kick qzkick")
        sock.send({"id": 9, "type": "ping"})
        frames = await sock.until(type="pong", reply_to=9)
        sock.close()
        return frames

    frames = asyncio.run(watch())
    assert not any("qzkick" in str(frame) for frame in frames)
    assert error_of(m.conversations_history, channel=private) == "channel_not_found"
    assert member.user_id not in o.conversations_members(channel=private)["members"]
    assert error_of(o.conversations_kick, channel=private, user=member.user_id) == (
        "not_in_channel"
    )
    assert error_of(o.conversations_kick, channel=private, user=owner.user_id) == ("cant_kick_self")
