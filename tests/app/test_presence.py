"""presence_change: opt-in with presence_sub; active when a user's first connection opens,
away when the last closes."""

from __future__ import annotations

import asyncio

from tests.helpers import WsClient, error_of


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


def test_a_person_who_sets_themselves_away_shows_away_until_auto(server):
    """``users.setPresence away``: watchers see away at once; a new connection does not
    show them active, nor does a query; ``auto`` shows them by their connections again.
    Push still goes by connections (``online`` in their own ``users.getPresence``)."""
    watcher = server.user("presence-eyes")
    subject = server.user("presence-hermit")
    w_web, s_web = server.client(watcher.token), server.client(subject.token)
    them = subject.user_id

    async def scenario():
        watch = await WsClient.open(w_web.rtm_connect()["url"])
        await watch.next(type="hello")
        watch.send({"type": "presence_sub", "ids": [them]})
        await watch.next(type="presence_change", user=them, presence="away")
        first = await WsClient.open(s_web.rtm_connect()["url"])
        await watch.next(type="presence_change", user=them, presence="active")
        await asyncio.to_thread(s_web.users_setPresence, presence="away")
        await watch.next(type="presence_change", user=them, presence="away")
        # another connection of theirs, and a query: still away
        second = await WsClient.open(s_web.rtm_connect()["url"])
        await second.next(type="hello")
        watch.send({"type": "presence_query", "ids": [them]})
        await watch.next(type="presence_change", user=them, presence="away")
        mine = await asyncio.to_thread(s_web.users_getPresence, user=them)
        assert (mine["presence"], mine["online"], mine["manual_away"]) == ("away", True, True)
        theirs = await asyncio.to_thread(w_web.users_getPresence, user=them)
        assert theirs["presence"] == "away" and "manual_away" not in theirs
        await asyncio.to_thread(s_web.users_setPresence, presence="auto")
        await watch.next(type="presence_change", user=them, presence="active")
        assert (await asyncio.to_thread(s_web.users_getPresence, user=them))["manual_away"] is False
        first.close()
        second.close()
        await watch.next(type="presence_change", user=them, presence="away")
        watch.close()

    asyncio.run(scenario())
    assert error_of(s_web.users_setPresence, presence="busy") == "invalid_presence"
