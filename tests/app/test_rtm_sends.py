"""A WebSocket client's sends in flight together: stored in the order sent, answered in
that order once durable (:meth:`parley.pipeline.send.Sender.write_post`)."""

from __future__ import annotations

import asyncio
import itertools

from parley.storage.router import shard_for
from tests.helpers import WsClient

_n = itertools.count()


def on_server_loop(server, coro_fn):
    """``coro_fn(services)`` awaited on the server's own event loop; its result."""
    return asyncio.run_coroutine_threadsafe(coro_fn(server.services), server.loop).result(30)


def test_writes_get_seq_in_the_order_their_tasks_begin(server):
    """``write_post`` queues its write before it first suspends: tasks made in an order
    store their posts in that order, whatever order the posts were prepared in."""
    creds = server.user(f"starter-{next(_n)}")
    web = server.client(creds.token)
    ch = web.conversations_create(name=f"start-{next(_n)}")["channel"]["id"]

    async def scenario(svc):
        user = await svc.directory.user(creds.user_id)
        reqs = [await svc.sender.prepare_post(user, ch, f"m{i}") for i in range(30)]
        begun = [asyncio.create_task(svc.sender.write_post(req)) for req in reversed(reqs)]
        return [r.message for r in await asyncio.gather(*begun)]

    messages = on_server_loop(server, scenario)
    assert [m.text for m in messages] == [f"m{i}" for i in reversed(range(30))]
    seqs = [m.seq for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + 30))
    history = web.conversations_history(channel=ch, limit=100)["messages"]
    assert [m["text"] for m in history] == [f"m{i}" for i in range(30)]  # newest first


def test_a_burst_of_sends_on_one_socket_keeps_each_channels_order(server):
    """Sends to two channels on different shards (whose commits end in any order) and
    to a channel the sender may not see, all at once on one connection: each is answered
    once, in the order sent, the bad one refused; each channel's ``seq`` and history
    follow the order sent."""
    creds = server.user(f"burster-{next(_n)}")
    web = server.client(creds.token)
    channels: list[str] = []
    while len({shard_for(ch, server.settings.shards) for ch in channels}) < 2:
        channels = [
            web.conversations_create(name=f"burst-{next(_n)}")["channel"]["id"] for _ in "ab"
        ]
    owner = server.user(f"owner-{next(_n)}")
    closed = server.client(owner.token).conversations_create(
        name=f"closed-{next(_n)}", is_private=True
    )["channel"]["id"]
    sends = []
    for i in range(200):
        ch = closed if i == 77 else channels[i % 2]
        sends.append({"id": i, "type": "message", "channel": ch, "text": f"t{i}"})

    async def scenario():
        client = await WsClient.open(web.rtm_connect()["url"])
        await client.next(type="hello")
        for frame in sends:
            client.send(frame)
        answers: dict[int, dict] = {}
        while len(answers) < len(sends):
            frame = await client.next()
            if "reply_to" in frame:  # not the channels' message events
                assert frame["reply_to"] not in answers, frame
                answers[frame["reply_to"]] = frame
        client.close()
        return answers

    answers = asyncio.run(scenario())
    assert list(answers) == [s["id"] for s in sends]  # answered in the order sent
    assert answers[77]["ok"] is False and answers[77]["error"]["code"] == "channel_not_found"
    for ch in channels:
        acked = [answers[s["id"]] for s in sends if s["channel"] == ch]
        assert all(a["ok"] for a in acked), [a for a in acked if not a["ok"]][:3]
        assert [a["text"] for a in acked] == [s["text"] for s in sends if s["channel"] == ch]
        seqs = [a["seq"] for a in acked]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        history = web.conversations_history(channel=ch, limit=200)["messages"]
        assert [m["text"] for m in reversed(history)] == [a["text"] for a in acked]
