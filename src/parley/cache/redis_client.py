"""The Redis connection the fleet-shared parts use (tickets, the recent-message buffer,
cache evictions, presence), and the errors that mean "Redis failed".

Redis errors never leave the ``cache`` package: each part catches :data:`FAILURES` and
either degrades (the buffer reports "not covered", an eviction is re-announced) or
raises a :class:`~parley.errors.ParleyError` the API renders.
"""

from __future__ import annotations

import redis.asyncio as redis

from parley.errors import ConfigError

#: What a failing or unreachable Redis raises through redis-py.
FAILURES = (redis.RedisError, OSError)


#: Connections a process opens to Redis at most; a command that finds them all busy
#: waits for one (up to its timeout) rather than failing: a burst of a thousand
#: WebSocket upgrades redeeming tickets at once must queue, not fail.
MAX_CONNECTIONS = 64


async def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """A client (a blocking connection pool of :data:`MAX_CONNECTIONS`) for ``url``,
    answered a PING; an unreachable Redis is a :class:`ConfigError`, so start-up fails
    before anything else opens. Commands (and the wait for a pooled connection) time out
    after ``timeout`` seconds, so a Redis that hangs is a failure, not a hang."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    client = redis.Redis.from_pool(pool)
    try:
        await client.ping()
    except FAILURES as exc:
        await client.aclose()
        raise ConfigError(f"PARLEY_REDIS_URL={url}: {exc}") from exc
    return client
