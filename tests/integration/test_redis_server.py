"""A whole server with ``PARLEY_REDIS_URL``: tickets, the recent-message buffer, evictions
and presence in the real Redis. The resume and presence contracts of the embedded server
(``tests/app``) are run again here, unchanged, over the Redis parts."""

from __future__ import annotations

import asyncio

import pytest
import redis
from picows import WSListener, WSMsgType, ws_connect

from tests.app import test_presence, test_resume, test_rtm
from tests.helpers import WsClient, server_in_thread
from tests.redis_support import URL, drop_prefix, fresh_prefix, require_redis


@pytest.fixture(scope="module", autouse=True)
def needs_redis():
    require_redis()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    prefix = fresh_prefix()
    with server_in_thread(
        tmp_path_factory.mktemp("data"),
        redis_url=URL,
        redis_prefix=prefix,
        presence_heartbeat=0.2,
    ) as srv:
        yield srv
    drop_prefix(prefix)


def test_resume_replays_exactly_what_was_missed(server):
    test_resume.test_reconnect_replays_the_missed_messages_then_goes_live(server)
    # and the replay could come from Redis: the channel's messages are buffered there
    keys = redis.Redis.from_url(URL).keys(server.settings.redis_prefix + "recent:*")
    assert keys


def test_a_large_gap_replays_the_newest_and_points_at_the_rest(server):
    test_resume.test_a_large_gap_replays_the_newest_1000_and_points_at_the_rest(server)


def test_presence_follows_connections(server):
    test_presence.test_presence_follows_connections(server)


def test_presence_is_opt_in_and_queryable(server):
    test_presence.test_presence_is_opt_in_and_queryable(server)


def test_tickets_are_single_use(server):
    test_rtm.test_tickets_are_single_use(server, [server.user("tickets-once")])


def closed_before_hello(url: str) -> int | None:
    """Opens ``url``; the close code the server sent if it closed before any frame."""

    class Listener(WSListener):
        def __init__(self) -> None:
            self.frames: list[tuple[WSMsgType, bytes]] = []

        def on_ws_frame(self, transport, frame) -> None:
            self.frames.append((frame.msg_type, frame.get_payload_as_bytes()))

    async def attempt() -> int | None:
        transport, listener = await ws_connect(Listener, url)
        await asyncio.wait_for(transport.wait_disconnected(), 10)
        kinds = [kind for kind, _ in listener.frames]
        if kinds != [WSMsgType.CLOSE]:
            return None
        payload = listener.frames[0][1]
        return int.from_bytes(payload[:2], "big")

    return asyncio.run(attempt())


def test_a_forged_ticket_naming_a_user_is_closed_before_hello(server):
    """A ticket in Redis's format passes the upgrade (no I/O is allowed there) but does not
    redeem: closed with 1008 before anything is sent."""
    alice = server.user("forger")
    url = server.client(alice.token).rtm_connect()["url"]
    base, ticket = url.split("ticket=")
    forged = ticket[:-4] + ("aaaa" if not ticket.endswith("aaaa") else "bbbb")
    assert closed_before_hello(f"{base}ticket={forged}") == 1008
    assert test_rtm.opens(url)  # the real one still opens, once


def test_users_get_presence_answers_for_the_whole_fleet(server):
    watcher, subject = server.user("gp-watcher"), server.user("gp-subject")
    web = server.client(watcher.token)
    assert web.users_getPresence(user=subject.user_id)["presence"] == "away"
    assert web.api_call("users.getPresence")["presence"] == "away"  # the caller

    async def scenario():
        conn = await WsClient.open(server.client(subject.token).rtm_connect()["url"])
        await conn.next(type="hello")
        for _ in range(100):
            if web.users_getPresence(user=subject.user_id)["presence"] == "active":
                break
            await asyncio.sleep(0.02)
        assert web.users_getPresence(user=subject.user_id)["presence"] == "active"
        conn.close()
        for _ in range(100):
            if web.users_getPresence(user=subject.user_id)["presence"] == "away":
                break
            await asyncio.sleep(0.02)
        assert web.users_getPresence(user=subject.user_id)["presence"] == "away"

    asyncio.run(scenario())
    with pytest.raises(Exception) as err:
        web.users_getPresence(user="UNOSUCHUSER")
    assert err.value.response["error"] == "user_not_found"  # type: ignore[attr-defined]


def test_a_revoked_token_is_refused(server):
    creds = server.user("revoker")
    web = server.client(creds.token)
    assert web.auth_revoke()["revoked"] is True
    with pytest.raises(Exception) as err:
        web.auth_test()
    assert err.value.response["error"] == "token_revoked"  # type: ignore[attr-defined]
