"""Scheduled messages through the official slack_sdk: ``chat.scheduleMessage``,
``chat.scheduledMessages.list``, ``chat.deleteScheduledMessage``; posted once, at their
time, through the send path."""

from __future__ import annotations

import asyncio
import itertools
import time

import msgspec
import pytest

from parley.pipeline.schedule import STEP, Scheduled, item_of
from parley.resilience.retries import Retry
from tests.helpers import WsClient, error_of, server_in_thread
from tests.subscriber import wait_for

_n = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with server_in_thread(tmp_path_factory.mktemp("data"), schedule_interval=0.05) as srv:
        yield srv


@pytest.fixture()
def room(server):
    tag = next(_n)
    author, reader = server.user(f"sch-{tag}-a"), server.user(f"sch-{tag}-r")
    web = server.client(author.token)
    channel = web.conversations_create(name=f"sch-{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=reader.user_id)
    return author, reader, channel


def _on_loop(server, coro):
    return asyncio.run_coroutine_threadsafe(coro, server.loop).result(10)


def test_a_scheduled_message_is_posted_at_its_time_once(server, room):
    author, reader, channel = room
    web = server.client(author.token)

    async def watch() -> tuple[dict, dict, dict, float]:
        sock = await WsClient.open(server.client(reader.token).rtm_connect()["url"])
        await sock.next(type="hello")
        post_at = int(time.time()) + 3  # 2-3 s ahead, however slow the steps before
        made = web.chat_scheduleMessage(channel=channel, text="at two", post_at=post_at)
        listed = web.chat_scheduledMessages_list()["scheduled_messages"]
        got = await sock.next(type="message", text="at two")
        arrived = time.time()
        sock.close()
        return made.data, {"listed": listed}, got, arrived

    made, listed, got, arrived = asyncio.run(watch())
    post_at = made["post_at"]
    assert made["message"]["type"] == "delayed_message"
    assert listed["listed"] == [
        {
            "id": made["scheduled_message_id"],
            "channel_id": channel,
            "post_at": post_at,
            "date_created": listed["listed"][0]["date_created"],
            "text": "at two",
        }
    ]
    assert arrived >= post_at  # not before its time
    assert got["client_msg_id"] == made["scheduled_message_id"] and got["seq"] == 1
    wait_for(
        lambda: not web.chat_scheduledMessages_list()["scheduled_messages"],
        10,
        "it to be forgotten once posted",
    )
    assert [m["text"] for m in web.conversations_history(channel=channel)["messages"]] == ["at two"]


def test_a_second_attempt_finds_the_first_post(server, room):
    """A worker that died after posting and before forgetting the schedule leaves it due
    again: the next attempt posts nothing more (its id is the post's client_msg_id)."""
    author, _reader, channel = room
    web = server.client(author.token)
    sid = web.chat_scheduleMessage(channel=channel, text="once", post_at=int(time.time()) + 3)[
        "scheduled_message_id"
    ]
    wait_for(lambda: web.conversations_history(channel=channel)["messages"], 10, "its post")
    kept = Scheduled(sid, author.user_id, channel, "once", 1, 1)  # due again, at once
    again = Retry(STEP, item_of(author.user_id, sid), msgspec.json.encode(kept), 0, 1, (), 1)
    _on_loop(server, server.services.directory.retry_later(again))
    wait_for(
        lambda: not web.chat_scheduledMessages_list()["scheduled_messages"],
        10,
        "its second attempt",
    )
    assert [m["text"] for m in web.conversations_history(channel=channel)["messages"]] == ["once"]


def test_deleting_one_before_its_time(server, room):
    author, reader, channel = room
    web, other = server.client(author.token), server.client(reader.token)
    later = int(time.time()) + 3600
    sid = web.chat_scheduleMessage(channel=channel, text="never", post_at=later)[
        "scheduled_message_id"
    ]
    delete = web.chat_deleteScheduledMessage
    assert error_of(
        other.chat_deleteScheduledMessage, channel=channel, scheduled_message_id=sid
    ) == ("invalid_scheduled_message_id")
    assert error_of(delete, channel="C0ELSEWHERE", scheduled_message_id=sid) == (
        "invalid_scheduled_message_id"
    )
    assert [m["id"] for m in web.chat_scheduledMessages_list()["scheduled_messages"]] == [sid]
    assert delete(channel=channel, scheduled_message_id=sid)["ok"]
    assert error_of(delete, channel=channel, scheduled_message_id=sid) == (
        "invalid_scheduled_message_id"
    )
    assert web.chat_scheduledMessages_list()["scheduled_messages"] == []


def test_what_is_checked_when_scheduling(server, room):
    author, _reader, channel = room
    web = server.client(author.token)
    outsider = server.client(server.user(f"sch-out-{next(_n)}").token)
    now = int(time.time())
    schedule = web.chat_scheduleMessage
    assert error_of(schedule, channel=channel, text="x", post_at=now - 10) == "time_in_past"
    far = now + 121 * 86_400
    assert error_of(schedule, channel=channel, text="x", post_at=far) == "time_too_far"
    assert error_of(schedule, channel=channel, text="x", post_at="soon") == "invalid_time"
    assert error_of(schedule, channel=channel, text=" ", post_at=now + 60) == "no_text"
    assert (
        error_of(outsider.chat_scheduleMessage, channel=channel, text="x", post_at=now + 60)
        == "not_in_channel"
    )
    assert web.chat_scheduledMessages_list()["scheduled_messages"] == []


def test_a_message_the_channel_no_longer_takes_is_dropped(server, room):
    author, _reader, channel = room
    web = server.client(author.token)
    web.chat_scheduleMessage(channel=channel, text="too late", post_at=int(time.time()) + 3)
    web.conversations_archive(channel=channel)
    wait_for(lambda: not web.chat_scheduledMessages_list()["scheduled_messages"], 10, "its attempt")
    assert web.conversations_history(channel=channel)["messages"] == []
