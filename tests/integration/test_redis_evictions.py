"""Token and membership caches across nodes, over the real Redis: a revocation or a
membership change on one node evicts every node's copy at once (pub/sub), where the
embedded default leaves another process's copy until its TTL (tests/unit/test_auth.py).

Two "nodes" here are two Authenticators (or ChannelAccesses) with their own caches and
their own RedisEvictions subscriptions, over one directory, in one event loop.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from parley.cache.redis_client import connect
from parley.cache.redis_evictions import RedisEvictions
from parley.errors import ApiError
from parley.pipeline.access import ChannelAccess
from parley.pipeline.auth import Authenticator, hash_token
from parley.storage.models import Caller, Channel, User
from tests.redis_support import URL, OwnRedis
from tests.unit.test_auth import Directory as Tokens

pytestmark = pytest.mark.usefixtures("needs_redis")

#: How long "at once" may take: a pub/sub hop on loopback (the TTLs are 15 minutes).
AT_ONCE = 1.0

ALICE = User("U1A", "T1", "alice", "", False, None, None, 0)
BOB = User("U1B", "T1", "bob", "", False, None, None, 0)
SECRET = Channel("C1S", "T1", "secret", True, "U1A", 0)


class Members:
    """The directory calls ChannelAccess makes, over dicts shared by both nodes."""

    def __init__(self) -> None:
        self.channels = {SECRET.id: SECRET}
        self.member_sets = {SECRET.id: {ALICE.id, BOB.id}}

    async def channel(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    async def members(self, channel_id: str) -> frozenset[str]:
        return frozenset(self.member_sets.get(channel_id, ()))


async def nodes(prefix: str, n: int = 2):
    """``n`` nodes' eviction channels, subscribed, each on its own connection pool."""
    out = []
    for _ in range(n):
        client = await connect(URL)
        evictions = RedisEvictions(client, prefix=prefix)
        out.append((client, evictions))
    return out


async def start_all(pairs) -> None:
    for _, evictions in pairs:
        await evictions.start()


async def close_all(pairs) -> None:
    for client, evictions in pairs:
        await evictions.close()
        await client.aclose()


async def soon(check, timeout: float = AT_ONCE) -> float:
    """Seconds until ``check()`` (a coroutine function) returns True; fails past timeout."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    while not await check():
        assert loop.time() - began < timeout, "not at once"
        await asyncio.sleep(0.005)
    return loop.time() - began


async def rejected(auth: Authenticator, token: str) -> bool:
    try:
        await auth.authorize(token)
    except ApiError as exc:
        assert exc.code == "token_revoked"
        return True
    return False


def test_a_revocation_on_one_node_is_refused_on_another_at_once(prefix):
    async def go():
        directory = Tokens()
        directory.tokens[hash_token("xoxp-t")] = Caller(ALICE, None)
        directory.tokens[hash_token("xoxp-other")] = Caller(BOB, None)
        pairs = await nodes(prefix)
        here = Authenticator(directory, ttl=900, evictions=pairs[0][1])
        there = Authenticator(directory, ttl=900, evictions=pairs[1][1])
        told_here: list = []
        told_there: list = []  # what closes the token's WebSockets on that node
        here.on_revoked(told_here.append)
        there.on_revoked(told_there.append)
        await start_all(pairs)
        try:
            await there.authorize("xoxp-t")
            await there.authorize("xoxp-other")
            reads = directory.reads
            await there.authorize("xoxp-t")
            assert directory.reads == reads  # cached there, as without Redis
            assert await here.revoke("xoxp-t") is True
            assert await rejected(here, "xoxp-t")
            await soon(lambda: rejected(there, "xoxp-t"))  # not 900 s later
            # (None, first: "anything may have been revoked" while subscribing)
            key = hash_token("xoxp-t").hex()
            assert [k for k in told_here if k] == [k for k in told_there if k] == [key]
            reads = directory.reads
            assert (await there.authorize("xoxp-other")).user == BOB  # others stay cached
            assert directory.reads == reads
        finally:
            await close_all(pairs)

    asyncio.run(go())


def test_a_leave_on_one_node_evicts_the_member_set_on_every_other(prefix):
    async def go():
        directory = Members()
        pairs = await nodes(prefix, 3)
        here, *others = [
            ChannelAccess(directory, ttl=900, evictions=evictions) for _, evictions in pairs
        ]
        await start_all(pairs)
        try:
            for access in others:  # bob reads the private channel through other nodes
                assert (await access.visible(BOB, SECRET.id)).id == SECRET.id
            directory.member_sets[SECRET.id].discard(BOB.id)  # bob leaves through "here"
            await here.forget(SECRET.id)

            async def gone_everywhere() -> bool:
                for access in others:
                    try:
                        await access.visible(BOB, SECRET.id)
                        return False
                    except ApiError as exc:
                        assert exc.code == "channel_not_found"
                return True

            await soon(gone_everywhere)
            assert (await others[0].visible(ALICE, SECRET.id)).id == SECRET.id
        finally:
            await close_all(pairs)

    asyncio.run(go())


def test_an_archive_on_one_node_is_seen_by_the_others(prefix):
    async def go():
        directory = Members()
        pairs = await nodes(prefix)
        here, there = (ChannelAccess(directory, 900, evictions=e) for _, e in pairs)
        await start_all(pairs)
        try:
            await there.writable(ALICE, SECRET.id)
            directory.channels[SECRET.id] = Channel(
                SECRET.id, "T1", "secret", True, "U1A", 0, is_archived=True
            )
            await here.forget(SECRET.id)

            async def archived() -> bool:
                try:
                    await there.writable(ALICE, SECRET.id)
                    return False
                except ApiError as exc:
                    return exc.code == "is_archived"

            await soon(archived)
        finally:
            await close_all(pairs)

    asyncio.run(go())


class SlowTokens(Tokens):
    """A directory whose reads answer only when ``gate`` opens (a read in flight)."""

    def __init__(self, tokens: dict) -> None:
        super().__init__()
        self.tokens = tokens
        self.gate = asyncio.Event()

    async def caller_by_token(self, token_hash: bytes):
        answer = await super().caller_by_token(token_hash)  # reads "not revoked" ...
        await self.gate.wait()  # ... and answers only after the eviction came through
        return answer


def test_a_read_racing_an_eviction_is_not_cached(prefix):
    """A directory read that began before a revocation and ends after its eviction
    arrived must not put the stale answer back in the cache."""

    async def go():
        directory = Tokens()
        directory.tokens[hash_token("xoxp-race")] = Caller(ALICE, None)
        slow = SlowTokens(directory.tokens)
        pairs = await nodes(prefix)
        here = Authenticator(directory, ttl=900, evictions=pairs[0][1])
        there = Authenticator(slow, ttl=900, evictions=pairs[1][1])
        heard = asyncio.Event()
        pairs[1][1].on("token", lambda key: heard.set(), lambda: None)
        await start_all(pairs)
        try:
            read = asyncio.create_task(there.authorize("xoxp-race"))
            await asyncio.sleep(0.05)
            await here.revoke("xoxp-race")
            await asyncio.wait_for(heard.wait(), AT_ONCE)
            slow.gate.set()
            assert (await read).user == ALICE  # it began before the revocation
            assert await rejected(there, "xoxp-race")  # but was not cached
        finally:
            await close_all(pairs)

    asyncio.run(go())


def test_a_change_made_while_redis_is_down_reaches_the_others_when_it_is_back(tmp_path):
    """Redis stops: the node that revokes cannot announce it, and the other may cache the
    token meanwhile. When Redis is back, the other node's caches are cleared (it lost its
    subscription, and the revoking node owes every node a clear): the token is refused
    everywhere without waiting for the 15-minute TTL."""
    server = OwnRedis()
    server.start()

    async def go():
        directory = Tokens()
        directory.tokens[hash_token("xoxp-a")] = Caller(ALICE, None)
        pairs = []
        for _ in range(2):
            client = redis.asyncio.Redis.from_url(
                server.url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            pairs.append((client, RedisEvictions(client, prefix="t:")))
        here = Authenticator(directory, ttl=900, evictions=pairs[0][1])
        there = Authenticator(directory, ttl=900, evictions=pairs[1][1])
        await start_all(pairs)
        try:
            await there.authorize("xoxp-a")
            server.stop()
            await asyncio.sleep(0.2)
            await there.authorize("xoxp-a")  # cached again while Redis is down
            assert await here.revoke("xoxp-a") is True  # announcing fails: logged, owed
            assert await rejected(here, "xoxp-a")
            server.start()
            await soon(lambda: rejected(there, "xoxp-a"), timeout=10.0)
        finally:
            await close_all(pairs)

    try:
        asyncio.run(go())
    finally:
        server.stop()
