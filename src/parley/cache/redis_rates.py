"""Token buckets in Redis: the rate limits shared by every node of a fleet.

:class:`RedisRateStore` implements :class:`parley.pipeline.ratelimit.RateStore` with one
Lua script call per check, so a check is atomic however many nodes share the bucket;
the checks of one loop turn go in one pipeline (one round trip) on a
:class:`~parley.cache.resp.RespLink`, the send path's lean connection. The script is
:func:`parley.pipeline.ratelimit.take` written in Lua (same refill, same cap, same
wait), on the Redis server's own clock (``TIME``), so the nodes' clocks never disagree
about a bucket. A bucket is a hash ``{tokens, at}`` that expires once it would be full
again: an idle key costs nothing.

Chosen at start-up with ``PARLEY_REDIS_URL`` (for example ``redis://127.0.0.1:6379/0``);
without it the limits live in the process (:class:`~parley.pipeline.ratelimit.MemoryRateStore`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from redis.exceptions import NoScriptError

from parley.cache.redis_client import FAILURES
from parley.cache.resp import RespLink
from parley.errors import ConfigError
from parley.resilience.board import Breakers

log = logging.getLogger(__name__)

# KEYS[1]: the bucket; ARGV: rate (tokens/s), burst. Returns the wait in seconds, as text.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""
_TAKE_SHA = hashlib.sha1(_TAKE.encode()).hexdigest()


class RedisRateStore:
    """Buckets under ``<prefix>`` keys in the Redis at ``url``."""

    def __init__(
        self, url: str, *, prefix: str = "parley:rate:", breakers: Breakers | None = None
    ) -> None:
        self._url = url
        #: Through the node's circuit breakers: while Redis fails, checks let calls
        #: through at once instead of each waiting out the timeout.
        self._link = RespLink(url, breakers=breakers)
        self._started = False
        self._prefix = prefix
        #: Checks asked for during this loop turn, sent together in one pipeline.
        self._batch: list[tuple[str, float, float, asyncio.Future]] = []

    async def start(self) -> None:
        """Connects and loads the script; a Redis that does not answer (or refuses the
        script) fails start-up with a :class:`ConfigError`."""
        try:
            await self._link.execute([("SCRIPT", "LOAD", _TAKE)])
        except FAILURES as exc:
            await self._link.close()
            raise ConfigError(f"PARLEY_REDIS_URL={self._url}: {exc}") from exc
        self._started = True

    async def close(self) -> None:
        await self._link.close()

    async def take(self, key: str, rate: float, burst: float) -> float:
        """As :meth:`RateStore.take`. If Redis fails, the call is let through and logged:
        a limit protects the service, it is not a guarantee to any user, so an outage of
        Redis does not stop every send (and with the ``redis`` circuit breaker open, it
        does not slow them either)."""
        assert self._started, "start() first"
        future = asyncio.get_running_loop().create_future()
        if not self._batch:
            asyncio.get_running_loop().call_soon(self._send)
        self._batch.append((self._prefix + key, rate, burst, future))
        return await future

    def _send(self) -> None:
        """Sends the checks of this loop turn as one pipeline: one round trip and one
        write for all of them (the send path's only Redis call per message)."""
        batch, self._batch = self._batch, []
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[str, float, float, asyncio.Future]]) -> None:
        waits: list = [0.0] * len(batch)
        try:
            waits = await self._takes(batch)
        except FAILURES as exc:
            log.warning("rate limits not checked (%d calls), Redis failed: %s", len(batch), exc)
        finally:  # every caller gets an answer, whatever happened
            for (_, _, _, future), wait in zip(batch, waits, strict=False):
                if not future.done():
                    future.set_result(float(wait))

    async def _takes(self, batch: list[tuple[str, float, float, asyncio.Future]]) -> list:
        """The script's answers for ``batch``, by ``EVALSHA`` in one pipeline on the
        store's :class:`RespLink`. (redis-py's ``Script`` on a pipeline asks ``SCRIPT
        EXISTS`` first, every time: a second round trip per batch.) A Redis that no
        longer has the script (restarted, or ``SCRIPT FLUSH``) answers ``NOSCRIPT``
        without running any of it, so the script is loaded and the batch sent once
        more."""
        commands = [("EVALSHA", _TAKE_SHA, 1, key, rate, burst) for key, rate, burst, _ in batch]
        try:
            return await self._link.execute(commands)
        except NoScriptError:
            await self._link.execute([("SCRIPT", "LOAD", _TAKE)])
            return await self._link.execute(commands)
