"""Which gateway of a fleet sends an app its request (a slash command, a button pressed)
or tells it a person opened its home tab.

An :data:`~parley.bus.interface.APP_REQUEST` (and an ``app_home_opened``) reaches every
gateway; each one holding a Socket Mode connection of the app would send it, and the app
would run the command once per gateway. The gateways claim it first,
``SET <prefix>claim:<digest> <node> NX PX`` under the digest of the event's payload
(which is unique: a request's ``trigger_id`` and response URL are random, a home
opened has its person and its microsecond): the one whose claim lands sends it, the
others drop it.

When Redis cannot answer, the request is sent anyway: a person is waiting, and an app
that hears a command twice is better than one that never hears it (logged). A gateway
alone (no Redis) needs no claim.
"""

from __future__ import annotations

import hashlib
import logging

import redis.asyncio as redis

from parley.bus.interface import Event
from parley.cache.redis_client import FAILURES

log = logging.getLogger(__name__)

#: Milliseconds a claim is kept: far longer than a request is waited for.
CLAIM_MS = 60_000


class RedisClaims:
    """Claims of app requests by the gateway ``node`` (see the module)."""

    def __init__(self, client: redis.Redis, *, node: str, prefix: str = "parley:") -> None:
        self._client = client
        self._node = node
        self._prefix = prefix + "claim:"

    async def claim(self, request: Event) -> bool:
        """Whether this node sends ``request``: its claim landed first, or Redis failed."""
        digest = hashlib.sha256(request.payload).hexdigest()[:32]
        try:
            taken = await self._client.set(self._prefix + digest, self._node, nx=True, px=CLAIM_MS)
        except FAILURES as exc:
            log.warning("claiming an app request failed, sending it: %s", exc)
            return True
        return bool(taken)


class RedisFirstUse:
    """Whether a key is used for the first time in the fleet (a trigger's,
    :mod:`parley.apps.triggers`): ``SET <prefix>used:<key> 1 NX PX ttl``. When Redis
    cannot answer it counts as the first (logged): a person is waiting for their modal."""

    def __init__(self, client: redis.Redis, *, prefix: str = "parley:") -> None:
        self._client = client
        self._prefix = prefix + "used:"

    async def __call__(self, key: str, ttl_ms: int) -> bool:
        try:
            return bool(await self._client.set(self._prefix + key, b"1", nx=True, px=ttl_ms))
        except FAILURES as exc:
            log.warning("remembering a trigger's use failed, allowing it: %s", exc)
            return True
