"""The lean Redis connection of the per-message path (:mod:`parley.cache.resp`) against a
real Redis: answers in order to concurrent callers, errors raised as redis-py raises
them, and a connection never reused after a failure or a timeout.

Redis is a required service in CI (``CI`` set): unreachable, these tests fail there;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.exceptions as rx

from parley.cache.resp import RespLink
from parley.errors import ConfigError
from tests.redis_support import URL, OwnRedis

pytestmark = pytest.mark.usefixtures("needs_redis")  # and ``prefix``: tests/integration/conftest.py


def run(coro_fn, *args):
    async def go():
        link = RespLink(*args) if args else RespLink(URL)
        try:
            return await coro_fn(link)
        finally:
            await link.close()

    return asyncio.run(go())


def test_concurrent_batches_each_get_their_own_answers_in_order(prefix):
    async def go(link):
        batches = [[("ECHO", f"{i}:{j}") for j in range(i % 5 + 1)] for i in range(200)]
        answers = await asyncio.gather(*(link.execute(b) for b in batches))
        counted = await link.execute([("INCR", prefix + "n") for _ in range(3)])
        return batches, answers, counted

    batches, answers, counted = run(go)
    assert answers == [[c[1].encode() for c in b] for b in batches]
    assert counted == [1, 2, 3]


def test_an_error_answer_is_raised_after_the_whole_batch_ran(prefix):
    async def go(link):
        with pytest.raises(rx.ResponseError, match="not an integer"):
            await link.execute([("SET", prefix + "k", "v"), ("INCR", prefix + "k")])
        with pytest.raises(rx.NoScriptError):
            await link.execute([("EVALSHA", "0" * 40, 0)])
        return await link.execute([("GET", prefix + "k"), ("GET", prefix + "none")])

    assert run(go) == [b"v", None]  # the SET ran; the link still answers in order


def test_the_url_chooses_the_database(prefix):
    other = URL.rsplit("/", 1)[0] + "/7"

    async def go(link):
        return await link.execute([("SET", prefix + "db", "seven")])

    run(go, other)
    on_seven = redis.Redis.from_url(other)
    try:
        assert on_seven.get(prefix + "db") == b"seven"
        on_seven.delete(prefix + "db")
    finally:
        on_seven.close()


def test_a_cancelled_caller_does_not_shift_the_answers_of_the_next():
    async def go(link):
        await link.execute([("PING",)])  # connected
        first = asyncio.create_task(link.execute([("ECHO", "first")]))
        await asyncio.sleep(0)  # written, not yet answered
        first.cancel()
        return await link.execute([("ECHO", "second")])

    assert run(go) == [b"second"]


def test_unreachable_fails_with_connection_error_and_bad_options_at_construction():
    async def go(link):
        with pytest.raises(rx.ConnectionError):
            await link.execute([("PING",)])

    run(go, "redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="ssl_cert_reqs"):
        RespLink("rediss://127.0.0.1:6379/0?ssl_cert_reqs=none")


def test_a_silent_server_times_out_and_its_connection_is_not_reused():
    """A server that accepts and never answers: each call fails with TimeoutError after
    ``timeout`` and the connection it waited on is closed, so the next call opens
    another (a late answer can never reach the wrong caller)."""
    accepted: list[asyncio.StreamReader] = []

    async def go():
        async def silent(reader, writer):
            accepted.append(reader)
            await reader.read()  # until the link drops the connection
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        link = RespLink(f"redis://127.0.0.1:{port}/0", timeout=0.2)
        try:
            for _ in range(2):
                with pytest.raises(rx.TimeoutError):
                    await link.execute([("PING",)])
            await asyncio.sleep(0.05)
            return [r.at_eof() for r in accepted]
        finally:
            await link.close()
            server.close()

    assert asyncio.run(go()) == [True, True]


def test_redis_restarting_fails_what_waited_and_the_next_call_reconnects():
    server = OwnRedis()
    server.start()

    async def go():
        link = RespLink(server.url, timeout=1.0)
        try:
            assert await link.execute([("PING",)]) == [b"PONG"]
            server.stop()
            with pytest.raises(rx.ConnectionError):
                await link.execute([("PING",)])
            server.start()
            return await link.execute([("PING",)])
        finally:
            await link.close()

    try:
        assert asyncio.run(go()) == [b"PONG"]
    finally:
        server.stop()
