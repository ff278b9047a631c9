"""Partition leases and worker heartbeats in Redis (:class:`parley.worker.ownership.Leases`).

Keys (``<p>`` is the deployment's prefix, ``<g>`` the worker group):

- ``<p>workers:<g>``: a sorted set of the group's workers, each scored with the time
  (Redis's clock, ms) its heartbeat expires. Expired members are removed by every beat.
- ``<p>lease:<g>:<partition>``: the owner's name, with a millisecond TTL; claimed with
  ``SET NX PX``, renewed and deleted only by a script that checks the holder.

Times come from Redis's clock, so the workers' clocks need not agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as redis

_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

_HOLD = """
local held = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    held[#held + 1] = i
  elseif not owner then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    held[#held + 1] = i
  end
end
return held
"""

_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


class RedisLeases:
    def __init__(self, client: redis.Redis, *, prefix: str = "parley:") -> None:
        self._client = client
        self._prefix = prefix
        self._beat = client.register_script(_BEAT)
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    def _lease(self, group: str, partition: int) -> str:
        return f"{self._prefix}lease:{group}:{partition}"

    def _workers(self, group: str) -> str:
        return f"{self._prefix}workers:{group}"

    async def beat(self, group: str, me: str, ttl: float) -> list[str]:
        live = await self._beat(keys=[self._workers(group)], args=[me, int(ttl * 1000)])
        return [w.decode() if isinstance(w, bytes) else w for w in live]

    async def hold(self, group: str, partitions: Sequence[int], me: str, ttl: float) -> set[int]:
        if not partitions:
            return set()
        keys = [self._lease(group, p) for p in partitions]
        held = await self._hold(keys=keys, args=[me, int(ttl * 1000)])
        return {partitions[int(i) - 1] for i in held}

    async def release(self, group: str, partitions: Sequence[int], me: str) -> None:
        if partitions:
            await self._release(keys=[self._lease(group, p) for p in partitions], args=[me])

    async def leave(self, group: str, me: str) -> None:
        await self._client.zrem(self._workers(group), me)
