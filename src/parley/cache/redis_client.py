"""The Redis connection the fleet-shared parts use (tickets, the recent-message buffer,
cache evictions, presence), and the errors that mean "Redis failed".

Redis errors never leave the ``cache`` package: each part catches :data:`FAILURES` and
either degrades (the buffer reports "not covered", an eviction is re-announced) or
raises a :class:`~parley.errors.ParleyError` the API renders.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis
from redis.asyncio.client import Pipeline

from parley.errors import ConfigError
from parley.resilience.board import Breakers

#: What a failing or unreachable Redis raises through redis-py.
FAILURES = (redis.RedisError, OSError)


#: Connections a process opens to Redis at most; a command that finds them all busy
#: waits for one (up to its timeout) rather than failing: a burst of a thousand
#: WebSocket upgrades redeeming tickets at once must queue, not fail.
MAX_CONNECTIONS = 64


#: The name of the Redis circuit breaker.
BREAKER = "redis"
#: What counts against it: Redis unreachable or not answering. An error Redis answers
#: (``NOSCRIPT`` before a script is loaded, a wrong type) is Redis working.
OUTAGES = (redis.ConnectionError, redis.TimeoutError, OSError)


def refused(name: str, wait: float) -> redis.ConnectionError:
    """What a call refused by the open ``redis`` breaker raises."""
    return redis.ConnectionError(f"{name}: circuit breaker open, retry in {wait:.0f} s")


class GuardedRedis(redis.Redis):
    """A client whose commands and pipelines go through the node's ``redis`` circuit
    breaker: while Redis keeps failing, a command fails at once with the
    ``ConnectionError`` every part already handles (rate limits let calls through,
    tickets answer 503...) instead of waiting out its timeout. (Pub/sub, which holds its
    own connection, is not guarded.)"""

    breakers: Breakers | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run = super().execute_command
        if self.breakers is None:
            return await run(*args, **options)
        return await self.breakers.run(
            BREAKER, lambda: run(*args, **options), failures=OUTAGES, refused=refused
        )

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.breakers = self.breakers
        return pipe


class GuardedPipeline(Pipeline):
    """A pipeline of a :class:`GuardedRedis`: its ``execute`` is one call through the
    breaker."""

    breakers: Breakers | None = None

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        run = super().execute
        if self.breakers is None:
            return await run(raise_on_error)
        return await self.breakers.run(
            BREAKER, lambda: run(raise_on_error), failures=OUTAGES, refused=refused
        )


async def connect(
    url: str, *, timeout: float = 2.0, breakers: Breakers | None = None
) -> redis.Redis:
    """A client (a blocking connection pool of :data:`MAX_CONNECTIONS`) for ``url``,
    answered a PING; an unreachable Redis is a :class:`ConfigError`, so start-up fails
    before anything else opens. Commands (and the wait for a pooled connection) time out
    after ``timeout`` seconds, so a Redis that hangs is a failure, not a hang; with
    ``breakers``, they go through its ``redis`` breaker (:class:`GuardedRedis`)."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    client = GuardedRedis.from_pool(pool)
    client.breakers = breakers
    if breakers is not None:
        breakers.get(BREAKER)  # reported from the start
    try:
        await client.ping()
    except FAILURES as exc:
        await client.aclose()
        raise ConfigError(f"PARLEY_REDIS_URL={url}: {exc}") from exc
    return client
