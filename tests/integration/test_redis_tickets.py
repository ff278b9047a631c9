"""``rtm.connect`` tickets in the real Redis: issued by one node, redeemed once by another."""

from __future__ import annotations

import asyncio

import pytest

from parley.cache.redis_client import connect
from parley.cache.redis_tickets import RedisTicketBook
from parley.errors import ApiError
from parley.storage.models import User
from tests.redis_support import URL

pytestmark = pytest.mark.usefixtures("needs_redis")

ALICE = User("U1A11CE", "T1", "alice", "Alice", False, None, None, 0)
BOB = User("U1B0B", "T1", "bob", "Bob", False, None, 5.0, 0)


async def two_books(prefix: str, ttl: float = 30):
    """Two nodes' books over one Redis (each with its own connection pool)."""
    a, b = await connect(URL), await connect(URL)
    return (a, b), RedisTicketBook(a, ttl, prefix=prefix), RedisTicketBook(b, ttl, prefix=prefix)


def test_a_ticket_issued_on_one_node_is_redeemed_once_on_another(prefix):
    async def go():
        clients, api, gateway = await two_books(prefix)
        try:
            ticket = await api.issue(BOB, {"C1": 4}, frozenset({"chat:write"}))
            assert gateway.holder(ticket) == BOB.id  # answered without I/O
            grant = await gateway.redeem(ticket)
            assert (grant.user, grant.resume, grant.scopes) == (BOB, {"C1": 4}, {"chat:write"})
            assert await gateway.redeem(ticket) is None  # single use
            assert await api.redeem(ticket) is None  # on any node
            assert grant.socket is False
            app = await api.issue(ALICE, None, frozenset({"connections:write"}), socket=True)
            assert (await gateway.redeem(app)).socket is True  # a Socket Mode connection's
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(go())


def test_a_burst_of_redeems_larger_than_the_pool_waits_instead_of_failing(prefix):
    """A thousand clients reconnecting at once: more redeems in flight than the pool has
    connections; each waits its turn (``parley bench latency`` over a fleet found this)."""

    async def go():
        clients, api, gateway = await two_books(prefix)
        try:
            tickets = await asyncio.gather(*(api.issue(ALICE) for _ in range(1000)))
            grants = await asyncio.gather(*(gateway.redeem(t) for t in tickets))
            assert all(g is not None and g.user == ALICE for g in grants)
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(go())


def test_two_gateways_racing_for_one_ticket_get_it_once(prefix):
    async def go():
        clients, one, two = await two_books(prefix)
        try:
            tickets = [await one.issue(ALICE) for _ in range(50)]
            answers = await asyncio.gather(
                *(book.redeem(t) for t in tickets for book in (one, two))
            )
        finally:
            for c in clients:
                await c.aclose()
        return answers

    answers = asyncio.run(go())
    for i in range(0, len(answers), 2):
        assert sum(a is not None for a in answers[i : i + 2]) == 1


def test_tickets_expire_with_their_ttl(prefix):
    async def go():
        clients, api, gateway = await two_books(prefix, ttl=0.2)
        try:
            ticket = await api.issue(ALICE)
            await asyncio.sleep(0.35)
            return await gateway.redeem(ticket)
        finally:
            for c in clients:
                await c.aclose()

    assert asyncio.run(go()) is None


def test_forged_and_malformed_tickets_do_not_redeem(prefix):
    async def go():
        clients, api, gateway = await two_books(prefix)
        try:
            real = await api.issue(ALICE)
            forged = BOB.id + real[len(ALICE.id) :]  # Alice's secret part, Bob's name
            assert gateway.holder(forged) == BOB.id  # well-formed: the upgrade goes ahead
            assert await gateway.redeem(forged) is None  # but it opens nothing
            for bad in ("", "x", "U1.short", "nope." + "a" * 32, real + "x", "U1." + "é" * 32):
                assert gateway.holder(bad) is None
                assert await gateway.redeem(bad) is None
            assert (await gateway.redeem(real)).user == ALICE  # untouched by the attempts
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(go())


def test_a_failing_redis_is_a_clear_error_to_issue_and_nothing_to_redeem(prefix):
    async def go():
        import redis.asyncio as aredis

        dead = aredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        book = RedisTicketBook(dead, 30, prefix=prefix)
        try:
            with pytest.raises(ApiError) as err:
                await book.issue(ALICE)
            assert (err.value.code, err.value.status) == ("fatal_error", 503)
            assert await book.redeem(ALICE.id + "." + "a" * 32) is None
        finally:
            await dead.aclose()

    asyncio.run(go())
