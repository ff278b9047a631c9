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


async def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """A client (a connection pool) for ``url``, answered a PING; an unreachable Redis
    is a :class:`ConfigError`, so start-up fails before anything else opens. Commands
    time out after ``timeout`` seconds, so a Redis that hangs is a failure, not a hang."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        await client.ping()
    except FAILURES as exc:
        await client.aclose()
        raise ConfigError(f"PARLEY_REDIS_URL={url}: {exc}") from exc
    return client
