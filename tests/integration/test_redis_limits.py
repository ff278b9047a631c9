"""The Redis rate store against the real Redis on 127.0.0.1:6379: the same bucket rule
as the in-process one, shared by every node, and a server whose limits live there.

Redis is a required service in CI (``CI`` set): unreachable, these tests fail there;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio

import pytest
import redis

from parley.cache.redis_rates import RedisRateStore
from parley.errors import ConfigError
from tests.helpers import server_in_thread
from tests.redis_support import URL, fresh_prefix, require_redis


@pytest.fixture(scope="module", autouse=True)
def needs_redis():
    require_redis()


prefix = fresh_prefix


async def takes(store: RedisRateStore, key: str, n: int, rate: float, burst: float):
    return [await store.take(key, rate, burst) for _ in range(n)]


def test_a_bucket_gives_its_burst_then_waits_and_two_nodes_share_it():
    async def go():
        p = prefix()
        one, two = RedisRateStore(URL, prefix=p), RedisRateStore(URL, prefix=p)
        await one.start()
        await two.start()
        try:
            first = await takes(one, "u1", 6, 0.5, 10)
            second = await takes(two, "u1", 6, 0.5, 10)  # another node, the same bucket
            other = await takes(two, "u2", 3, 0.5, 10)
            ttl = redis.Redis.from_url(URL).pttl(p + "u1")
        finally:
            await one.close()
            await two.close()
        return first + second, other, ttl

    waits, other, ttl = asyncio.run(go())
    assert [w == 0 for w in waits] == [True] * 10 + [False] * 2
    assert 1.5 < waits[-1] <= 2.0  # a token comes back every 2 s
    assert other == [0.0, 0.0, 0.0]
    assert 0 < ttl <= 21_000  # expires once it would be full again (+1 s)


def test_concurrent_checks_never_overspend():
    async def go():
        p = prefix()
        stores = [RedisRateStore(URL, prefix=p) for _ in range(4)]
        for s in stores:
            await s.start()
        try:
            waits = await asyncio.gather(
                *(s.take("hot", 0.001, 25) for s in stores for _ in range(20))
            )
        finally:
            for s in stores:
                await s.close()
        return waits

    assert sum(1 for w in asyncio.run(go()) if w == 0) == 25


def test_an_unreachable_redis_fails_start_up():
    store = RedisRateStore("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError):
        asyncio.run(store.start())


def test_a_server_with_redis_limits_refuses_over_the_limit(tmp_path):
    with server_in_thread(tmp_path, redis_url=URL) as srv:
        creds = srv.user("shared-limits", rate_limit=None)  # bursts of 10, then 1/s
        client = srv.client(creds.token)
        channel = client.conversations_create(name="redis-limited")["channel"]["id"]
        answers = []
        for i in range(12):
            try:
                answers.append(client.chat_postMessage(channel=channel, text=f"r{i}")["ok"])
            except Exception as exc:  # slack_sdk raises on ok=false
                answers.append(exc.response["error"])  # type: ignore[attr-defined]
        assert answers[:10] == [True] * 10 and "ratelimited" in answers[10:]


def test_a_redis_that_lost_the_script_is_given_it_again():
    """The checks go by ``EVALSHA``: after a ``SCRIPT FLUSH`` (or a restart of Redis)
    the store loads the script again and still checks, rather than letting calls
    through."""

    async def go():
        p = prefix()
        store = RedisRateStore(URL, prefix=p)
        await store.start()
        try:
            first = await takes(store, "u", 2, 0.5, 2)
            redis.Redis.from_url(URL).script_flush()
            after = await takes(store, "u", 1, 0.5, 2)
        finally:
            await store.close()
        return first, after

    first, after = asyncio.run(go())
    assert first == [0.0, 0.0]
    assert 1.5 < after[0] <= 2.0  # the empty bucket's wait: checked, not let through
