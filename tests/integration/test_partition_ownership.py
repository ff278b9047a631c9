"""Per-partition ownership between workers, on the real Redis: every partition has one
owner, a joining worker takes its share by hand-over (never two owners at once), a
worker that dies (stops renewing) has its partitions taken over, and a republisher
repairs only the channels of the partitions it owns. Ticks of 50 ms here."""

from __future__ import annotations

import asyncio

import pytest

from parley.cache.redis_client import connect
from parley.cache.redis_leases import RedisLeases
from parley.worker.assign import assigned, owner
from parley.worker.ownership import Ownership
from tests.redis_support import URL

pytestmark = pytest.mark.usefixtures("needs_redis")

PARTITIONS = 16
TICK, TTL = 0.05, 0.5


class Worker:
    """An :class:`Ownership` running, with what it processes right now."""

    def __init__(self, leases: RedisLeases, name: str, log: list) -> None:
        self.ownership = Ownership(leases, "g", PARTITIONS, me=name, tick=TICK, ttl=TTL)
        self.processing: set[int] = set()
        self._log = log
        self.task = asyncio.create_task(self.ownership.run(self.acquire, self.release))

    def acquire(self, p: int) -> None:
        self.processing.add(p)
        self._log.append(("acquire", self.ownership.me, p))

    async def release(self, p: int) -> None:
        self.processing.discard(p)
        self._log.append(("release", self.ownership.me, p))


async def settle(workers: list[Worker], names: list[str], timeout: float = 5.0) -> None:
    """Waits until the workers process exactly the rendezvous assignment of ``names``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if all(w.processing == assigned(range(PARTITIONS), names, w.ownership.me) for w in workers):
            return
        await asyncio.sleep(TICK)
    raise AssertionError([sorted(w.processing) for w in workers])


def never_two_owners(log: list) -> None:
    """Replays the acquire/release log: a partition is acquired only while no one has it."""
    holder: dict[int, str] = {}
    for kind, who, p in log:
        if kind == "acquire":
            assert p not in holder, f"partition {p} acquired by {who} while {holder[p]} had it"
            holder[p] = who
        else:
            assert holder.pop(p) == who


def test_rendezvous_moves_only_the_newcomers_share():
    before = {p: owner(p, ["a", "b"]) for p in range(1000)}
    after = {p: owner(p, ["a", "b", "c"]) for p in range(1000)}
    moved = [p for p in range(1000) if before[p] != after[p]]
    assert all(after[p] == "c" for p in moved)
    assert 250 < len(moved) < 420  # about a third
    assert owner(1, []) is None


def test_hand_over_and_take_over(prefix):
    async def go() -> None:
        client = await connect(URL)
        leases = RedisLeases(client, prefix=prefix)
        log: list = []
        a = Worker(leases, "a", log)
        await settle([a], ["a"])
        assert a.processing == set(range(PARTITIONS))
        b = Worker(leases, "b", log)  # joins: takes its share once a lets go
        await settle([a, b], ["a", "b"])
        assert a.processing | b.processing == set(range(PARTITIONS))
        assert not a.processing & b.processing and b.processing
        c = Worker(leases, "c", log)
        await settle([a, b, c], ["a", "b", "c"])
        c.task.cancel()  # dies: no release, its leases expire after TTL
        log.extend(("release", "c", p) for p in sorted(c.processing))  # it stopped
        c.processing.clear()
        await settle([a, b], ["a", "b"])
        never_two_owners(log)
        for w in (a, b):
            w.task.cancel()
            await w.ownership.close(w.release)
        assert await client.keys(prefix + "lease:*") == []  # a clean close hands over at once
        await client.aclose()

    asyncio.run(go())


def test_a_worker_that_cannot_renew_stops_processing(prefix):
    """Redis unreachable for longer than the lease: the worker assumes its partitions
    passed on and stops them all."""

    class Failing:
        def __init__(self, inner: RedisLeases) -> None:
            self.inner, self.down = inner, False

        def __getattr__(self, name):
            if self.down:
                raise ConnectionError("redis down")
            return getattr(self.inner, name)

    async def go() -> None:
        client = await connect(URL)
        leases = Failing(RedisLeases(client, prefix=prefix))
        a = Worker(leases, "a", [])
        await settle([a], ["a"])
        leases.down = True
        await asyncio.sleep(TTL + 4 * TICK)
        assert a.processing == set()
        leases.down = False
        await settle([a], ["a"])  # back: takes them again
        a.task.cancel()
        await client.aclose()

    asyncio.run(go())


def test_two_republishers_split_the_partitions_and_repair_only_their_own(prefix):
    """Each channel's lost publish is republished once, by the worker owning its
    partition."""
    from parley.bus.memory import InProcessBus
    from parley.storage.models import Message, Page
    from parley.worker.republish import Republisher

    channels = [f"C{i}" for i in range(40)]

    class Tails:  # the store's view: every channel has 1 message the log never carried
        async def recent_tails(self, after_ts: int) -> list[tuple[str, int, int]]:
            return [(c, 1 if self.lost else 0, 1) for c in channels]

        async def since(self, channel: str, seq: int, limit: int) -> Page:
            m = Message(1, channel, "T1", 1, 1, "U1", None, "lost")
            return Page((m,) if seq < 1 else (), False)

        lost = False

    async def go() -> None:
        client = await connect(URL)
        bus, store = InProcessBus(PARTITIONS, 1000), Tails()
        workers = []
        for name in ("w1", "w2"):
            own = Ownership(RedisLeases(client, prefix=prefix), "republisher", 16, me=name)
            own._tick, own._ttl = TICK, TTL
            workers.append(Republisher(bus, store, interval=3600, grace=0, ownership=own))
        for w in workers:
            w.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        names = ["w1", "w2"]
        while any(
            set(w.owned()) != assigned(range(PARTITIONS), names, name)
            for w, name in zip(workers, names, strict=True)
        ):
            assert loop.time() < deadline, [w.owned() for w in workers]
            await asyncio.sleep(TICK)
        for w in workers:
            assert await w.repair() == 0  # first sight: complete
        store.lost = True
        sent = [await w.repair() for w in workers]
        assert sum(sent) == len(channels) and all(sent)
        for w in workers:
            mine = {c for c in channels if bus.partition_of(c) in w.owned()}
            assert set(w.carried._seq) >= mine
        for w in workers:
            await w.close()
        await client.aclose()

    asyncio.run(go())
