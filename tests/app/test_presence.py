"""presence_change: active when a user's first connection opens, away when the last closes."""

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
