"""The recent-message buffer in the real Redis: the embedded buffer's semantics (the same
scenarios as ``tests/unit/test_caches_and_bus.py``), plus what a shared buffer must
prove before it answers: writes that reach Redis late, out of order, or not at all make
it answer ``None`` (read the store), never a replay with a hole."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aredis

from parley.bus.interface import Event
from parley.cache.redis_client import connect
from parley.cache.redis_recent import RedisRecentBuffer
from parley.cache.resp import RespLink
from tests.redis_support import URL
from tests.unit.test_caches_and_bus import RECENT_SCENARIOS, FakeClock, event

pytestmark = pytest.mark.usefixtures("needs_redis")


class Store:
    """The store's side of the proof: each channel's last committed seq."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    async def last_seq(self, channel: str) -> int:
        return self.last.get(channel, 0)


class Committed(RedisRecentBuffer):
    """A Redis buffer whose appends also count as commits in ``store`` (as on a node,
    where the after-commit callback appends what the store just committed)."""

    def __init__(self, client, link: RespLink, store: Store, **kw) -> None:
        super().__init__(client, link, last_seq=store.last_seq, **kw)
        self.store = store

    def append(self, event: Event) -> None:
        self.store.last[event.channel] = max(self.store.last.get(event.channel, 0), event.seq)
        super().append(event)


def run(prefix: str, scenario) -> None:
    """Runs ``scenario(make)`` with buffers over one Redis, closing what it made."""

    async def go() -> None:
        client = await connect(URL)
        link = RespLink(URL)
        made: list[RedisRecentBuffer] = []

        async def make(per_channel: int, ttl: float, clock, store: Store | None = None):
            buf = Committed(
                client,
                link,
                store or Store(),
                per_channel=per_channel,
                ttl=ttl,
                prefix=prefix,
                clock=clock,
            )
            buf.start()
            made.append(buf)
            return buf

        try:
            await scenario(make)
        finally:
            for buf in made:
                await buf.close()
            await link.close()
            await client.aclose()

    asyncio.run(go())


@pytest.mark.parametrize("scenario", RECENT_SCENARIOS, ids=lambda f: f.__name__)
def test_the_embedded_buffers_semantics(prefix, scenario):
    run(prefix, scenario)


def test_the_cap_and_the_keys_ttl(prefix):
    async def scenario(make):
        buf = await make(5, 60, FakeClock())
        for seq in range(1, 21):
            buf.append(event("C1", seq))
        assert await buf.flush()
        client = aredis.Redis.from_url(URL)
        try:
            assert await client.zcard(prefix + "recent:C1") == 5
            assert 55_000 < await client.pttl(prefix + "recent:C1") <= 60_000
        finally:
            await client.aclose()
        assert [e.seq for e in await buf.since("C1", 15)] == [16, 17, 18, 19, 20]
        assert await buf.since("C1", 14) is None

    run(prefix, scenario)


def test_two_nodes_writing_out_of_order_share_one_buffer(prefix):
    async def scenario(make):
        store, clock = Store(), FakeClock()
        one, two = await make(10, 3600, clock, store), await make(10, 3600, clock, store)
        for seq in (2, 4, 6):  # node two's writes reach Redis first
            two.append(event("C1", seq))
        assert await two.flush()
        assert await one.since("C1", 0) is None  # seqs 1, 3, 5 are not there yet
        for seq in (1, 3, 5):
            one.append(event("C1", seq))
        assert await one.flush()
        assert [e.seq for e in await one.since("C1", 0)] == [1, 2, 3, 4, 5, 6]
        assert [e.seq for e in await two.since("C1", 3)] == [4, 5, 6]

    run(prefix, scenario)


def test_a_write_still_queued_makes_the_buffer_answer_none(prefix):
    """A message the store committed (and a gateway may have delivered) but whose write
    has not reached Redis yet: the buffer cannot prove it covers it."""

    async def scenario(make):
        store, clock = Store(), FakeClock()
        buf = await make(10, 3600, clock, store)
        for seq in range(1, 4):
            buf.append(event("C1", seq))
        assert await buf.flush()
        store.last["C1"] = 4  # committed elsewhere, not written to Redis yet
        assert await buf.since("C1", 1) is None
        buf.append(event("C1", 4))
        assert await buf.flush()
        assert [e.seq for e in await buf.since("C1", 1)] == [2, 3, 4]

    run(prefix, scenario)


def test_a_failed_write_removes_the_channel_instead_of_leaving_a_hole(prefix):
    """A batch Redis refuses (here: another key in the same batch has the wrong type) is
    not half kept: every channel it touched is deleted by the next batch, so readers go
    to the store instead of a buffer with a hole or a stale edit."""

    async def scenario(make):
        store, clock = Store(), FakeClock()
        buf = await make(10, 3600, clock, store)
        for seq in range(1, 4):
            buf.append(event("C1", seq))
        assert await buf.flush()
        client = aredis.Redis.from_url(URL)
        try:
            await client.set(prefix + "recent:CBROKEN", b"not a sorted set")
            buf.append(event("C1", 4))
            buf.replace(Event("message", "C1", "T1", 2, 20, b'{"edited":true}'))
            buf.append(event("CBROKEN", 1))  # WRONGTYPE: the batch fails
            for _ in range(200):
                if not await client.exists(prefix + "recent:C1"):
                    break
                await asyncio.sleep(0.01)
            assert not await client.exists(prefix + "recent:C1")
            assert await buf.since("C1", 0) is None  # the store serves it
            await client.delete(prefix + "recent:CBROKEN")
        finally:
            await client.aclose()
        buf.append(event("C1", 5))
        assert await buf.flush()
        assert await buf.since("C1", 3) is None  # 4 was lost with the failed batch
        assert [e.seq for e in await buf.since("C1", 4)] == [5]  # a later start

    run(prefix, scenario)


def test_redis_down_reads_as_not_covered_and_writes_never_raise(prefix):
    async def go():
        dead = aredis.Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2
        )
        store = Store()
        link = RespLink("redis://127.0.0.1:1/0", timeout=0.2)
        buf = Committed(dead, link, store, per_channel=10, ttl=60, prefix=prefix)
        buf.start()
        try:
            for seq in range(1, 4):
                buf.append(event("C1", seq))  # queued; the writer fails in the background
            buf.replace(event("C1", 2))
            await asyncio.sleep(0.3)
            assert await buf.since("C1", 0) is None
        finally:
            await buf.close(timeout=0.5)
            await link.close()
            await dead.aclose()

    asyncio.run(go())
