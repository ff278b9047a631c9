"""presence_change: opt-in with presence_sub; active when a user's first connection opens,
away when the last closes."""

from __future__ import annotations

import asyncio

from tests.helpers import WsClient


def test_presence_follows_connections(server):
    watcher = server.user("presence-watcher")
    subject = server.user("presence-subject")
    w_web, s_web = server.client(watcher.token), server.client(subject.token)

    async def scenario():
        watch = await WsClient.open(w_web.rtm_connect()["url"])
        await watch.next(type="hello")
        watch.send({"type": "presence_sub", "ids": [subject.user_id]})
        await watch.next(type="presence_change", user=subject.user_id, presence="away")
        first = await WsClient.open(s_web.rtm_connect()["url"])
        await watch.next(type="presence_change", user=subject.user_id, presence="active")
        second = await WsClient.open(s_web.rtm_connect()["url"])
        await second.next(type="hello")
        first.close()
        second.close()
        await watch.next(type="presence_change", user=subject.user_id, presence="away")
        seen = []
        while not watch.frames.empty():  # exactly one active and one away
            seen.append(watch.frames.get_nowait())
        assert not [
            f
            for f in seen
            if f.get("type") == "presence_change" and f.get("user") == subject.user_id
        ]
        watch.close()

    asyncio.run(scenario())


def test_presence_is_opt_in_and_queryable(server):
    watcher = server.user("presence-quiet")
    subject = server.user("presence-other")
    w_web, s_web = server.client(watcher.token), server.client(subject.token)

    async def scenario():
        quiet = await WsClient.open(w_web.rtm_connect()["url"])
        await quiet.next(type="hello")
        other = await WsClient.open(s_web.rtm_connect()["url"])
        await other.next(type="hello")
        quiet.send({"type": "presence_query", "ids": [subject.user_id, "UNOSUCHUSER"]})
        await quiet.next(type="presence_change", user=subject.user_id, presence="active")
        await quiet.next(type="presence_change", user="UNOSUCHUSER", presence="away")
        quiet.send({"type": "presence_sub", "ids": "not a list", "id": 3})
        bad = await quiet.next(reply_to=3)
        assert bad["error"]["code"] == "invalid_arguments"
        other.close()  # no subscription: the quiet connection hears nothing of it
        await asyncio.sleep(0.3)
        quiet.send({"type": "ping", "id": 9})
        await quiet.next(type="pong")
        seen = []
        while not quiet.frames.empty():
            seen.append(quiet.frames.get_nowait())
        assert not [f for f in seen if f.get("type") == "presence_change"]
        quiet.close()

    asyncio.run(scenario())
