"""``chat.postEphemeral`` through the official slack_sdk: a message one member sees, on the
connections they have open, and nobody else; never stored."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.helpers import WsClient, error_of

_n = itertools.count()


@pytest.fixture()
def trio(server):
    """A public channel with two members (an author and a reader) and a user outside it."""
    tag = next(_n)
    author, reader, outsider = (server.user(f"eph-{tag}-{who}") for who in ("a", "r", "o"))
    web = server.client(author.token)
    channel = web.conversations_create(name=f"eph-{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=reader.user_id)
    return author, reader, outsider, channel


def test_only_its_member_receives_it_and_it_is_not_stored(server, trio):
    author, reader, outsider, channel = trio
    web = server.client(author.token)

    async def scenario() -> tuple[dict, list[dict]]:
        to_reader = await WsClient.open(server.client(reader.token).rtm_connect()["url"])
        to_author = await WsClient.open(web.rtm_connect()["url"])
        for client in (to_reader, to_author):
            await client.next(type="hello")
        sent = web.chat_postEphemeral(channel=channel, user=reader.user_id, text="psst qzeph1")
        web.chat_postMessage(channel=channel, text="for everyone")  # published after it
        got = await to_reader.next(type="message", text="psst qzeph1")
        before_public = await to_author.until(type="message", text="for everyone")
        for client in (to_reader, to_author):
            client.close()
        assert got["ts"] == sent["message_ts"]
        return got, before_public

    got, author_saw = asyncio.run(scenario())
    assert got["is_ephemeral"] is True and "seq" not in got
    assert got["user"] == author.user_id and got["channel"] == channel
    assert not any("qzeph1" in str(frame) for frame in author_saw)
    history = web.conversations_history(channel=channel)["messages"]
    assert [m["text"] for m in history] == ["for everyone"]


def test_the_rules_of_a_post_and_of_its_reader(server, trio):
    author, reader, outsider, channel = trio
    web = server.client(author.token)
    post = web.chat_postEphemeral
    assert error_of(lambda: post(channel=channel, user=outsider.user_id, text="hi")) == (
        "user_not_in_channel"
    )
    assert error_of(lambda: post(channel=channel, user="U0NOBODY", text="hi")) == (
        "user_not_in_channel"
    )
    assert error_of(lambda: post(channel=channel, user=reader.user_id, text=" ")) == "no_text"
    too_long = "x" * 40_001
    assert error_of(lambda: post(channel=channel, user=reader.user_id, text=too_long)) == (
        "msg_too_long"
    )
    assert error_of(lambda: post(channel="C0NOPE", user=reader.user_id, text="hi")) == (
        "channel_not_found"
    )
    # an outsider may not post in a channel they are not in, to anyone
    as_outsider = server.client(outsider.token)
    assert error_of(
        lambda: as_outsider.chat_postEphemeral(channel=channel, user=reader.user_id, text="hi")
    ) in ("not_in_channel", "channel_not_found")


def test_a_private_channel_stays_hidden(server):
    tag = next(_n)
    author, reader, outsider = (server.user(f"ephp-{tag}-{who}") for who in ("a", "r", "o"))
    web = server.client(author.token)
    private = web.conversations_create(name=f"ephp-{tag}", is_private=True)["channel"]["id"]
    web.conversations_invite(channel=private, users=reader.user_id)
    as_outsider = server.client(outsider.token)
    assert error_of(
        lambda: as_outsider.chat_postEphemeral(channel=private, user=reader.user_id, text="x")
    ) == ("channel_not_found")
    assert web.chat_postEphemeral(channel=private, user=reader.user_id, text="x")["ok"]
