"""The JetStream feed's bookkeeping (``parley.bus.feed``), without a server: what it
queues, when it asks for more, and when it stops trusting what comes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from parley.bus.feed import BATCH, EXPIRES, HEARTBEAT, Feed


@dataclass
class Msg:  # the three fields of a nats-py message the feed reads
    data: bytes = b""
    reply: str = ""
    headers: dict | None = None


def event(sseq: int, dseq: int, pending: int = 0) -> Msg:
    return Msg(f"e{sseq}".encode(), f"$JS.ACK.S.C.1.{sseq}.{dseq}.1796542181920811621.{pending}")


def status(code: str) -> Msg:
    return Msg(headers={"Status": code})


def fed(*msgs: Msg, offset: int = 1) -> Feed:
    async def go():
        feed = Feed("C", "_INBOX.x", offset)
        feed.request(0.0)
        for m in msgs:
            await feed.on_message(m)
        return feed

    return asyncio.run(go())


def test_events_are_handed_out_in_order_and_next_follows_the_last():
    feed = fed(event(3, 1, 4), event(7, 2, 3), event(8, 3, 2))
    assert feed.take(2) == ([b"e3", b"e7"], 3)
    assert feed.next == 8
    assert feed.take(10) == ([b"e8"], 2) and feed.next == 9
    assert feed.take(10) == ([], 0) and feed.next == 9


def test_a_gap_in_the_consumer_sequence_breaks_the_feed_after_what_came_before():
    feed = fed(event(3, 1), event(4, 2), event(9, 4))  # delivery 3 was lost
    assert feed.broken == "delivery 4 came after 2: a gap"
    assert feed.distrust(0.0) == ""  # not while what came before the gap is queued
    assert feed.take(10) == ([b"e3", b"e4"], 0)  # it still counts
    assert feed.next == 5 and feed.distrust(0.0) == feed.broken


def test_heartbeats_and_timeouts_are_not_errors_anything_else_is():
    assert fed(status("100"), status("408")).broken == ""
    deleted = Msg(headers={"Status": "409", "Description": "Consumer Deleted"})
    assert fed(deleted).broken == "status 409 Consumer Deleted"


def test_a_request_is_renewed_when_half_spent_near_its_end_or_over():
    async def go():
        feed = Feed("C", "_INBOX.x", 1)
        asked = [feed.needs_request(0.0)]
        feed.request(0.0)
        asked.append(feed.needs_request(1.0))
        for i in range(1, BATCH // 2 + 2):
            await feed.on_message(event(i, i))
        asked.append(feed.needs_request(1.0))  # fewer than half a batch still asked for
        feed.request(1.0)
        asked.append(feed.needs_request(EXPIRES - HEARTBEAT))  # the newest ends soon
        return asked

    assert asyncio.run(go()) == [True, False, True, True]


def test_a_server_silent_for_three_heartbeats_is_not_trusted():
    feed = fed()
    assert not feed.silent(3 * HEARTBEAT - 0.1) and feed.distrust(3 * HEARTBEAT - 0.1) == ""
    assert feed.silent(3 * HEARTBEAT + 0.1)
    assert feed.distrust(3 * HEARTBEAT + 0.1) == "no word from the server for 6 s"


def test_a_wait_ends_when_an_event_comes():
    async def go():
        feed = Feed("C", "_INBOX.x", 1)
        feed.request(0.0)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, lambda: loop.create_task(feed.on_message(event(1, 1))))
        started = loop.time()
        await feed.wait(5.0)
        return loop.time() - started, feed.take(5)

    waited, taken = asyncio.run(go())
    assert waited < 1.0 and taken == ([b"e1"], 0)
