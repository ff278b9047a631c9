"""The JetStream event log against the real NATS server on 127.0.0.1:4222: order per
partition, de-duplication, offsets that survive a restart, retention, and a server whose
events travel through it.

NATS is a required service in CI (``CI`` set): unreachable, these tests fail there;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid

import nats
import pytest

from parley.bus.interface import Event
from parley.bus.jetstream import JetStreamBus
from parley.errors import ConfigError
from parley.storage.router import partition_for
from tests.helpers import WsClient, server_in_thread

URL = os.environ.get("PARLEY_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture(scope="module", autouse=True)
def needs_nats():
    host, port = URL.rsplit("//", 1)[1].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"NATS with JetStream is required in CI at {URL}: {exc}")
        pytest.skip(f"no NATS at {URL}: {exc}")


@pytest.fixture
def stream():
    name = f"PTEST_{uuid.uuid4().hex[:12].upper()}"
    yield name

    async def drop() -> None:
        nc = await nats.connect(URL)
        js = nc.jetstream()
        for what in (js.delete_stream(name), js.delete_key_value(f"{name}_offsets")):
            with contextlib.suppress(Exception):  # already gone
                await what
        await nc.close()

    asyncio.run(drop())


def event(channel: str, seq: int, kind: str = "message") -> Event:
    return Event(kind, channel, "T1", seq, 1_700_000_000_000_000 + seq, b'{"n":%d}' % seq)


async def drain(bus: JetStreamBus, partition: int, offset: int) -> tuple[list[Event], int]:
    got: list[Event] = []
    while True:
        batch = await bus.read(partition, offset, 100, timeout=0.5)
        if not batch.events:
            return got, offset
        got.extend(batch.events)
        offset = batch.next_offset


def test_events_keep_their_order_per_partition_and_duplicates_are_stored_once(stream):
    async def go():
        bus = JetStreamBus(URL, 4, name=stream)
        await bus.start()
        try:
            start = [await bus.end_offset(p) for p in range(4)]
            channels = [f"C{i:08d}" for i in range(12)]
            for seq in range(1, 21):
                for c in channels:
                    bus.publish(event(c, seq))
            bus.publish(event(channels[0], 20))  # a retried publish of the same event
            assert await bus.flushed()
            got = {}
            for p in range(4):
                got[p], _ = await drain(bus, p, start[p])
        finally:
            await bus.close()
        return channels, got

    channels, got = asyncio.run(go())
    total = sum(len(v) for v in got.values())
    assert total == 12 * 20  # the duplicate was dropped by JetStream
    for p, events in got.items():
        for c in {e.channel for e in events}:
            assert [e.seq for e in events if e.channel == c] == list(range(1, 21))
            assert all(e.channel != c or p == partition_for(c, 4) for e in events)


def test_committed_offsets_survive_a_restart_and_a_reader_from_the_end_sees_only_new(stream):
    async def go():
        bus = JetStreamBus(URL, 2, name=stream, commit_interval=0.01)
        await bus.start()
        bus.publish(event("C1", 1))
        assert await bus.flushed()
        end = await bus.end_offset(partition_for("C1", 2))
        bus.publish(event("C1", 2))
        new, _ = await drain(bus, partition_for("C1", 2), end)
        bus.commit("gateway-7", 1, 42)
        await bus.close()
        again = JetStreamBus(URL, 2, name=stream)
        await again.start()
        try:
            return new, again.committed("gateway-7", 1), again.committed("other", 1)
        finally:
            await again.close()

    new, kept, other = asyncio.run(go())
    assert [e.seq for e in new] == [2]
    assert (kept, other) == (42, 0)


def test_an_offset_older_than_the_retention_reads_as_truncated(stream):
    async def go():
        bus = JetStreamBus(URL, 1, name=stream)
        await bus.start()
        try:
            for seq in range(1, 6):
                bus.publish(event("C1", seq))
            assert await bus.flushed()
            nc = await nats.connect(URL)  # age out the oldest, as max_age would
            await nc.jetstream().purge_stream(stream, keep=2)
            await nc.close()
            return await bus.read(0, 1, 100, timeout=0.5)
        finally:
            await bus.close()

    batch = asyncio.run(go())
    assert batch.truncated and [e.seq for e in batch.events] == [4, 5]


def test_an_unreachable_nats_fails_start_up():
    with pytest.raises(ConfigError):
        asyncio.run(JetStreamBus("nats://127.0.0.1:1", 1, name="NOPE", connect_wait=1).start())


def test_a_server_on_jetstream_delivers_in_order(tmp_path, stream):
    with server_in_thread(tmp_path, bus_url=URL, bus_stream=stream) as srv:
        creds = srv.user("streamer")
        client = srv.client(creds.token)
        channel = client.conversations_create(name="through-nats")["channel"]["id"]
        url = client.rtm_connect()["url"]

        async def go() -> list[str]:
            ws = await WsClient.open(url)
            try:
                await ws.next(type="hello")
                loop = asyncio.get_running_loop()
                for i in range(10):
                    await loop.run_in_executor(
                        None, lambda i=i: client.chat_postMessage(channel=channel, text=f"n{i}")
                    )
                return [(await ws.next(type="message", channel=channel))["text"] for _ in range(10)]
            finally:
                ws.close()

        assert asyncio.run(go()) == [f"n{i}" for i in range(10)]


def test_an_idle_partition_reads_as_an_empty_batch_again_and_again(stream):
    """A reader waiting on a quiet partition gets empty batches, never an error, and
    then the events that come."""

    async def go():
        bus = JetStreamBus(URL, 1, name=stream)
        await bus.start()
        try:
            end = await bus.end_offset(0)
            empties = [await bus.read(0, end, 100, timeout=0.2) for _ in range(3)]
            bus.publish(event("C1", 1))
            assert await bus.flushed()
            return empties, await bus.read(0, end, 100, timeout=1.0)
        finally:
            await bus.close()

    empties, batch = asyncio.run(go())
    assert all(b.events == () for b in empties)
    assert [e.seq for e in batch.events] == [1]


def test_a_join_into_an_unread_partition_brings_everything_after_it(tmp_path, stream):
    """On JetStream too: the gateway reads only its clients' partitions, and a join into
    another one catches the joiner up (``tests/app/test_partition_interest.py``)."""
    from tests.app.test_partition_interest import check_join_catch_up

    with server_in_thread(tmp_path, bus_url=URL, bus_stream=stream, partitions=64) as srv:
        check_join_catch_up(srv, "js")


def test_readers_of_one_partition_keep_a_cursor_each(stream):
    """The gateway, the indexer and the push worker of one process read the same
    partitions at their own pace: each keeps its own pull consumer, so reading in turns
    re-creates none (before readers were named, every turn re-created one)."""

    async def go():
        bus = JetStreamBus(URL, 1, name=stream)
        await bus.start()
        try:
            start = await bus.end_offset(0)
            for seq in range(1, 31):
                bus.publish(event("C00000001", seq))
            assert await bus.flushed()
            offsets = {"gateway": start, "indexer": start, "pusher": start}
            seen: dict[str, list[int]] = {r: [] for r in offsets}
            for limit in (10, 7, 13):  # in turns, at different paces
                for reader, offset in offsets.items():
                    batch = await bus.read(0, offset, limit, timeout=0.5, reader=reader)
                    seen[reader] += [e.seq for e in batch.events]
                    offsets[reader] = batch.next_offset
                    limit = max(1, limit - 3)
            info = await bus._js.stream_info(stream)
            return seen, info.state.consumer_count
        finally:
            await bus.close()

    seen, consumers = asyncio.run(go())
    for reader, seqs in seen.items():
        assert seqs == list(range(1, len(seqs) + 1)), reader
    assert consumers == 3  # a consumer dropped lingers on the server: none was


def test_a_reader_whose_consumer_vanished_goes_on_where_it_was(stream):
    """The server loses a reader's consumer (deleted here; a restart of a server without
    its state, or a leader change, does the same): the standing request ends with an
    error, and the next read opens a new consumer after the last event read, so the
    reader misses nothing and sees nothing twice."""

    async def go():
        bus = JetStreamBus(URL, 1, name=stream)
        await bus.start()
        try:
            offset = await bus.end_offset(0)
            for seq in range(1, 11):
                bus.publish(event("C00000001", seq))
            assert await bus.flushed()
            first = await bus.read(0, offset, 4, timeout=1.0)
            nc = await nats.connect(URL)  # from outside, as the server would lose it
            js = nc.jetstream()
            for info in await js.consumers_info(stream):
                await js.delete_consumer(stream, info.name)
            await nc.close()
            for seq in range(11, 21):
                bus.publish(event("C00000001", seq))
            assert await bus.flushed()
            rest, _ = await drain(bus, 0, first.next_offset)
            return [e.seq for e in first.events] + [e.seq for e in rest], bus.reopened
        finally:
            await bus.close()

    seqs, reopened = asyncio.run(go())
    assert seqs == list(range(1, 21))
    assert reopened == 1  # counted (and logged), for parley_bus_reopened_total
