"""App requests claimed in the real Redis: of the gateways that read one, one sends it;
with Redis unreachable, each sends it (a person is waiting)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from parley.bus.interface import APP_REQUEST, Event
from parley.cache.redis_claims import RedisClaims, RedisFirstUse
from parley.cache.redis_client import connect
from parley.server import free_port
from tests.redis_support import URL

pytestmark = pytest.mark.usefixtures("needs_redis")


def request(n: int) -> Event:
    return Event(APP_REQUEST, "C1", "T1", 0, n, b'{"trigger_id":"%d"}' % n, "U1B0T")


def test_one_gateway_of_several_claims_each_request(prefix):
    async def go():
        clients = [await connect(URL) for _ in range(3)]
        try:
            nodes = [RedisClaims(c, node=f"gw{i}", prefix=prefix) for i, c in enumerate(clients)]
            for n in range(20):
                won = await asyncio.gather(*(node.claim(request(n)) for node in nodes))
                assert sorted(won) == [False, False, True], n
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(go())


def test_with_redis_unreachable_every_gateway_sends_it(prefix):
    async def go():
        url = f"redis://127.0.0.1:{free_port('127.0.0.1')}/0"
        dead = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            assert await RedisClaims(dead, node="gw1", prefix=prefix).claim(request(1)) is True
        finally:
            await dead.aclose()

    asyncio.run(go())


def test_a_trigger_is_used_once_across_the_fleet(prefix):
    """Two nodes sharing Redis: a trigger's first use is one node's, once; it may be
    used again only after its time has passed."""

    async def go():
        a, b = await connect(URL), await connect(URL)
        try:
            uses = [RedisFirstUse(a, prefix=prefix), RedisFirstUse(b, prefix=prefix)]
            first = await asyncio.gather(*(use("trigger:abc", 300) for use in uses))
            assert sorted(first) == [False, True]
            assert await uses[0]("trigger:abc", 300) is False
            assert await uses[1]("trigger:other", 300) is True
            await asyncio.sleep(0.4)
            assert await uses[1]("trigger:abc", 300) is True
        finally:
            await a.aclose()
            await b.aclose()

    asyncio.run(go())
