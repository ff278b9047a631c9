"""Cache evictions over Redis pub/sub: one channel, ``<prefix>evict``, every node subscribed.

A node that revokes a token or changes a channel evicts its own copy, then publishes
``"<origin> <topic> <key>"``; every other node's listener evicts that key as the message
arrives. Nothing is added to the send path: caches stay local and are read without a
round trip; only changes cost one ``PUBLISH``.

**Bounds.** A change takes effect on another node as soon as its listener reads the
message: Redis pushes it to every subscriber while it answers the ``PUBLISH``, so this is
a network hop, not a TTL. When a message may have been missed, the node drops everything
it cached for the topics registered here:

- the subscription is lost (Redis restarting, a network failure): cleared at once, and
  again when the subscription is confirmed once more (anything published before that
  confirmation can have been missed; anything after is heard);
- a ``PUBLISH`` fails on the node that made the change: it owes the fleet a
  ``"<origin> * *"`` (clear everything), published by its listener as soon as Redis
  answers again.

So while Redis is down, a change made on one node reaches the caches of the others when
Redis is back (or their TTL expires first); the node that made it is exact at once.
Caches also guard against a read racing an eviction (see ``Authenticator`` and
``ChannelAccess``: a directory read that started before an eviction is not cached).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable

import redis.asyncio as redis

from parley.cache.redis_client import FAILURES
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

_CLEAR = "*"


class RedisEvictions:
    """Announces and hears evictions on ``<prefix>evict``."""

    def __init__(self, client: redis.Redis, *, prefix: str = "parley:") -> None:
        self._client = client
        self._channel = prefix + "evict"
        #: Who this node is on the channel (its own messages are not applied twice).
        self.origin = secrets.token_hex(8)
        self._handlers: dict[str, list[tuple[Callable[[str], None], Callable[[], None]]]] = {}
        self._pubsub = None
        self._task: asyncio.Task | None = None
        self._owe_clear = False
        #: Subscriptions confirmed so far (1 after start; more after reconnections).
        self.subscriptions = 0

    def on(self, topic: str, evict: Callable[[str], None], clear: Callable[[], None]) -> None:
        self._handlers.setdefault(topic, []).append((evict, clear))

    async def start(self) -> None:
        """Subscribes and waits for Redis to confirm, so every change announced after
        this returns is heard; then listens in a background task."""
        await self._subscribe()
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="evictions")

    async def close(self) -> None:
        if self._task is not None:
            # redis-py can turn a cancellation mid-command into a ConnectionError, which
            # the listening loop catches: cancel_all cancels it again until it stops
            await cancel_all([self._task])
            self._task = None
        await self._drop_subscription()

    async def announce(self, topic: str, key: str) -> None:
        try:
            await self._client.publish(self._channel, f"{self.origin} {topic} {key}")
        except FAILURES as exc:
            log.warning(
                "eviction of a %s not announced, Redis failed (owing a clear): %s", topic, exc
            )
            self._owe_clear = True

    # -- listening ----------------------------------------------------------------------

    async def _subscribe(self) -> None:
        self._pubsub = pubsub = self._client.pubsub()
        await pubsub.subscribe(self._channel)
        while True:  # the confirmation; nothing else can come before it
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise redis.ConnectionError("no subscription confirmation from Redis")
            if self._take(message):
                return

    async def _drop_subscription(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*FAILURES):
                await pubsub.aclose()

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                    log.info("evictions: subscribed again; caches cleared")
                message = await self._pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._take(message)
                if self._owe_clear:
                    await self._client.publish(self._channel, f"{self.origin} {_CLEAR} {_CLEAR}")
                    self._owe_clear = False
                failures = 0
            except FAILURES as exc:
                if failures == 0:
                    log.warning("evictions: subscription lost, caches cleared: %s", exc)
                failures += 1
                self._clear_all()
                await self._drop_subscription()
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))

    def _take(self, message: dict) -> bool:
        """Applies one pub/sub message; ``True`` for a subscription confirmation."""
        kind = message.get("type")
        if kind == "subscribe":
            # (re)subscribed: whatever was published before may have been missed
            self.subscriptions += 1
            self._clear_all()
            return True
        if kind != "message":
            return False
        data = message.get("data")
        text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
        origin, _, rest = text.partition(" ")
        topic, _, key = rest.partition(" ")
        if origin == self.origin:
            return False
        if topic == _CLEAR:
            self._clear_all()
            return False
        for evict, _ in self._handlers.get(topic, ()):
            evict(key)
        return False

    def _clear_all(self) -> None:
        for handlers in self._handlers.values():
            for _, clear in handlers:
                clear()
