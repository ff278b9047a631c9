"""The TTL cache, the recent-message buffer and the in-process bus, on fake clocks.

The recent-buffer scenarios (``recent_*``) take a ``make(per_channel, ttl, clock)`` that
builds a buffer; here they run on the embedded one, and
``tests/integration/test_redis_recent.py`` runs the same ones on the Redis buffer.
"""

from __future__ import annotations

import asyncio

import pytest

from parley.bus.interface import Event
from parley.bus.memory import InProcessBus
from parley.cache.recent import RecentBuffer
from parley.cache.ttl import TTLCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(channel: str, seq: int) -> Event:
    return Event("message", channel, "T1", seq, seq * 10, b"{}")


async def memory(per_channel: int, ttl: float, clock) -> RecentBuffer:
    return RecentBuffer(per_channel=per_channel, ttl=ttl, clock=clock)


async def settle(buf) -> None:
    """Waits for a buffer that writes in the background (the Redis one) to catch up."""
    flush = getattr(buf, "flush", None)
    if flush is not None:
        assert await flush()


async def recent_serves_what_it_still_covers(make) -> None:
    clock = FakeClock()
    buf = await make(3, 3600, clock)
    assert await buf.since("C1", 0) is None
    for seq in range(1, 6):
        buf.append(event("C1", seq))
    await settle(buf)
    assert [e.seq for e in await buf.since("C1", 2)] == [3, 4, 5]
    assert [e.seq for e in await buf.since("C1", 4)] == [5]
    assert await buf.since("C1", 5) == []
    assert await buf.since("C1", 1) is None  # seq 2 fell out: the caller must read the store
    clock.now += 3600
    assert await buf.since("C1", 4) is None  # expired


async def recent_can_be_disabled(make) -> None:
    buf = await make(0, 10, FakeClock())
    buf.append(event("C1", 1))
    await settle(buf)
    assert await buf.since("C1", 0) is None


async def recent_replaces_edited_messages_in_place(make) -> None:
    buf = await make(3, 3600, FakeClock())
    for seq in range(1, 6):
        buf.append(event("C1", seq))
    edited = Event("message", "C1", "T1", 4, 40, b'{"edited":true}')
    buf.replace(edited)
    buf.replace(Event("message", "C1", "T1", 1, 10, b"gone"))  # no longer buffered: no-op
    await settle(buf)
    assert [e.payload for e in await buf.since("C1", 2)] == [b"{}", b'{"edited":true}', b"{}"]


async def recent_forgets_a_channel_retention_took_from(make) -> None:
    """After ``forget`` the channel is read from the store until new messages cover
    the gap again; other channels keep theirs."""
    buf = await make(10, 3600, FakeClock())
    for seq in range(1, 4):
        buf.append(event("C1", seq))
    buf.append(event("C2", 1))
    await settle(buf)
    buf.forget("C1")
    await settle(buf)
    assert await buf.since("C1", 0) is None and await buf.since("C1", 2) is None
    assert [e.seq for e in await buf.since("C2", 0)] == [1]
    buf.append(event("C1", 4))
    await settle(buf)
    assert [e.seq for e in await buf.since("C1", 3)] == [4]
    assert await buf.since("C1", 2) is None


RECENT_SCENARIOS = [
    recent_serves_what_it_still_covers,
    recent_can_be_disabled,
    recent_replaces_edited_messages_in_place,
    recent_forgets_a_channel_retention_took_from,
]


def test_ttl_cache_expires_and_evicts_oldest():
    clock = FakeClock()
    cache: TTLCache[str, int] = TTLCache(ttl=60, max_entries=2, clock=clock)
    cache.put("a", 1)
    clock.now += 59
    assert cache.get("a") == 1
    clock.now += 1
    assert cache.get("a") is None and cache.get("a", "dflt") == "dflt"
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    cache.pop("b")
    assert cache.get("b") is None and len(cache) == 1


@pytest.mark.parametrize("scenario", RECENT_SCENARIOS, ids=lambda f: f.__name__)
def test_recent_buffer(scenario):
    asyncio.run(scenario(memory))


def test_recent_buffer_can_be_disabled():
    buf = RecentBuffer(per_channel=0, ttl=10, clock=FakeClock())
    buf.append(event("C1", 1))
    assert asyncio.run(buf.since("C1", 0)) is None and buf.channels() == 0


def test_bus_keeps_channel_order_within_one_partition():
    bus = InProcessBus(partitions=4, retention=100)
    for seq in range(1, 21):
        for ch in ("CA", "CB", "CC"):
            bus.publish(event(ch, seq))

    async def read_all(partition: int) -> list[Event]:
        batch = await bus.read(partition, 0, 1000, timeout=0)
        assert batch.next_offset == len(batch.events) and not batch.truncated
        return list(batch.events)

    seen = {p: asyncio.run(read_all(p)) for p in range(4)}
    for ch in ("CA", "CB", "CC"):
        holders = [p for p, evs in seen.items() if any(e.channel == ch for e in evs)]
        assert holders == [bus.partition_of(ch)]
        assert [e.seq for e in seen[holders[0]] if e.channel == ch] == list(range(1, 21))


def test_bus_reads_by_cursor_and_reports_truncation():
    bus = InProcessBus(partitions=1, retention=5)

    async def scenario():
        first = await bus.read(0, 0, 3, timeout=0)
        assert first.events == () and first.next_offset == 0
        for seq in range(1, 4):
            bus.publish(event("C1", seq))
        page = await bus.read(0, 0, 2, timeout=0)
        assert [e.seq for e in page.events] == [1, 2] and page.next_offset == 2
        page = await bus.read(0, page.next_offset, 10, timeout=0)
        assert [e.seq for e in page.events] == [3] and page.next_offset == 3
        for seq in range(4, 20):
            bus.publish(event("C1", seq))
        late = await bus.read(0, 3, 100, timeout=0)
        assert late.truncated and late.events[0].seq > 4 and late.events[-1].seq == 19

    asyncio.run(scenario())


def test_bus_read_waits_for_the_next_event():
    bus = InProcessBus(partitions=1, retention=10)

    async def scenario():
        reader = asyncio.create_task(bus.read(0, 0, 10, timeout=5))
        await asyncio.sleep(0)
        bus.publish(event("C1", 1))
        batch = await reader
        assert [e.seq for e in batch.events] == [1]
        timed_out = await bus.read(0, 1, 10, timeout=0.01)
        assert timed_out.events == () and timed_out.next_offset == 1

    asyncio.run(scenario())


def test_a_tail_is_handed_each_event_in_the_publishers_call_in_order():
    """What is there first, then each publish before it returns; a publish made by the
    sink itself waits for the sink to return; a failing sink is never the publisher's
    failure; once stopped, nothing more."""
    bus = InProcessBus(partitions=1, retention=5)
    for seq in (1, 2):
        bus.publish(event("C1", seq))
    got: list[tuple[int, ...]] = []
    depth = 0

    def sink(batch):
        nonlocal depth
        depth += 1
        assert depth == 1  # never re-entered
        got.append(tuple(e.seq for e in batch.events))
        if batch.events[-1].seq == 3:
            bus.publish(event("C1", 4))  # handed over after this call returns
        if batch.events[-1].seq == 5:
            depth -= 1
            raise RuntimeError("a broken reader")
        depth -= 1

    stop = bus.tail(0, 1, sink, reader="r")
    assert got == [(2,)] and bus.lag()[("r", 0)] == 0
    bus.publish(event("C1", 3))
    assert got == [(2,), (3,), (4,)]
    bus.publish(event("C1", 5))  # the sink raises: logged, the publish succeeds
    bus.publish(event("C1", 6))
    assert got[-2:] == [(5,), (6,)]
    stop()
    bus.publish(event("C1", 7))
    assert got[-1] == (6,) and ("r", 0) not in bus.lag()


def test_a_tail_behind_the_retention_is_told_it_was_truncated():
    bus = InProcessBus(partitions=1, retention=3)
    for seq in range(1, 8):
        bus.publish(event("C1", seq))
    batches = []
    bus.tail(0, 0, batches.append)
    assert batches[0].truncated and batches[0].events[-1].seq == 7


def test_bus_commits_only_move_forward():
    bus = InProcessBus(partitions=2, retention=10)
    assert bus.committed("gw", 1) == 0
    bus.commit("gw", 1, 5)
    bus.commit("gw", 1, 3)
    assert bus.committed("gw", 1) == 5 and bus.committed("other", 1) == 0


def test_recent_buffer_bounds_the_number_of_channels():
    buf = RecentBuffer(per_channel=5, ttl=3600, max_channels=2, clock=FakeClock())
    buf.append(event("C1", 1))
    buf.append(event("C2", 1))
    buf.append(event("C1", 2))  # C1 is now the most recently written
    buf.append(event("C3", 1))  # drops C2
    assert buf.channels() == 2
    assert asyncio.run(buf.since("C2", 0)) is None
    assert [e.seq for e in asyncio.run(buf.since("C1", 0))] == [1, 2]


def test_the_gateway_consumer_survives_a_failing_read():
    """A read that raises (the log restarting) is retried at the same offset: the
    partition's consumer does not die and no event is skipped."""
    from parley.gateway.consumer import BusConsumer
    from parley.gateway.hub import Hub

    class Flaky(InProcessBus):
        failures = 2

        async def read(self, partition, offset, limit, timeout, reader=""):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("log restarting")
            return await super().read(partition, offset, limit, timeout, reader)

    class Sink:
        user_id, team_id = "U1", "T1"

        def __init__(self) -> None:
            self.got: list[int] = []

        def deliver(self, event: Event) -> None:
            self.got.append(event.seq)

    async def go() -> list[int]:
        bus, hub, sink = Flaky(1, 100), Hub(), Sink()
        hub.add(sink, ["C1"])
        consumer = BusConsumer(bus, hub, store=None, group="g")  # in order: no store read
        consumer.start()
        await consumer.listen(["C1"], channels=False)  # positioned at the partition's end
        for seq in (1, 2, 3):
            bus.publish(Event("message", "C1", "T1", seq, seq, b"{}"))
        for _ in range(100):
            if len(sink.got) == 3:
                break
            await asyncio.sleep(0.05)
        await consumer.close()
        return sink.got

    assert asyncio.run(go()) == [1, 2, 3]


def test_workspace_wide_events_are_routed_by_team():
    from parley.bus.interface import JOIN_NOTICE, routing_key

    def ev(kind: str) -> Event:
        return Event(kind, "C1", "T1", 0, 1, b"{}", "U1")

    for kind in ("presence_change", "channel_created", JOIN_NOTICE):
        assert routing_key(ev(kind)) == "T1"
    for kind in ("message", "member_joined_channel", "member_left_channel", "user_typing"):
        assert routing_key(ev(kind)) == "C1"


def test_the_gateway_consumer_reads_only_the_partitions_its_clients_need():
    """``listen`` starts a partition's reader at its end; the sweep stops one no
    connection has needed for ``linger`` seconds and forgets its channels' order."""
    from parley.gateway.consumer import BusConsumer
    from parley.gateway.hub import Hub

    class Sink:
        user_id, team_id = "U1", "T1"

        def __init__(self) -> None:
            self.got: list[tuple[str, int]] = []

        def deliver(self, event: Event) -> None:
            self.got.append((event.channel, event.seq))

    now = [0.0]

    async def go() -> None:
        bus, hub, sink = InProcessBus(64, 100), Hub(), Sink()
        channels = [f"C{i}" for i in range(200)]
        a = next(c for c in channels if bus.partition_of(c) != bus.partition_of("T1"))
        b = next(c for c in channels if bus.partition_of(c) not in map(bus.partition_of, (a, "T1")))
        bus.publish(Event("message", a, "T1", 1, 1, b"{}"))  # before: not read
        hub.add(sink, [a])
        consumer = BusConsumer(bus, hub, store=None, group="g", linger=10, clock=lambda: now[0])
        await consumer.listen(["T1", a], channels=False)
        assert consumer.partitions() == sorted({bus.partition_of("T1"), bus.partition_of(a)})
        bus.publish(Event("message", a, "T1", 2, 2, b"{}"))
        bus.publish(Event("message", b, "T1", 1, 1, b"{}"))  # nobody here follows b
        for _ in range(100):
            if sink.got:
                break
            await asyncio.sleep(0.01)
        assert sink.got == [(a, 2)]
        assert consumer.sequencer.push(Event("message", a, "T1", 2, 2, b"{}")) == []  # seen
        hub.remove(sink)
        assert await consumer.sweep() == []  # unneeded from now on
        now[0] = 9.9
        assert await consumer.sweep() == []
        now[0] = 10.0
        assert sorted(await consumer.sweep()) == sorted(
            {bus.partition_of("T1"), bus.partition_of(a)}
        )
        assert consumer.partitions() == []
        # forgotten: a's next message starts its order afresh
        assert consumer.sequencer.push(Event("message", a, "T1", 2, 2, b"{}")) != []
        await consumer.close()

    asyncio.run(go())


def test_channels_unknown_to_the_gateway_are_started_at_their_stored_tail_once():
    """Many connections opening at once on a cold gateway read each channel's last seq
    once, and the sequencer orders the channel from there (the messages after it, in
    seq order; the stored tail itself may still be on its way to the log, and passes)."""
    from parley.gateway.consumer import BusConsumer
    from parley.gateway.hub import Hub

    class Tails:  # the one store call listen makes
        calls: list[str] = []

        async def last_seq(self, channel: str) -> int:
            self.calls.append(channel)
            await asyncio.sleep(0.01)
            return 7

    async def go() -> None:
        bus, store = InProcessBus(4, 100), Tails()
        consumer = BusConsumer(bus, Hub(), store=store, group="g")
        await asyncio.gather(*(consumer.listen(["C1", "C2"]) for _ in range(20)))
        assert sorted(store.calls) == ["C1", "C2"]
        push = consumer.sequencer.push
        assert push(Event("message", "C1", "T1", 9, 9, b"{}")) == []  # 8 first
        assert [e.seq for e in push(Event("message", "C1", "T1", 8, 8, b"{}"))] == [8, 9]
        assert [e.seq for e in push(Event("message", "C1", "T1", 7, 7, b"{}"))] == [7]
        await consumer.close()

    asyncio.run(go())


def test_cancel_all_stops_a_task_that_swallowed_its_cancellation():
    """A loop whose library turned the cancel into an error it catches (redis-py does,
    mid-command) is cancelled again until it stops."""
    from parley.tasks import cancel_all

    async def stubborn(seen: list[str]) -> None:
        while True:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                if not seen:  # the first one swallowed, as an error a loop catches
                    seen.append("swallowed")
                    continue
                raise

    async def go() -> list[str]:
        seen: list[str] = []
        tasks = [asyncio.create_task(stubborn(seen))]
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_all(tasks), 2)
        return seen

    assert asyncio.run(go()) == ["swallowed"]
