"""Cache evictions across processes: when one node revokes a token or changes a channel's
membership, every node's cached copy must go.

:class:`Evictions` is the contract. A cache registers a topic with :meth:`Evictions.on`
(what to drop for a key, and what to do when announcements may have been missed: drop
everything); the node that made a change drops its own copy, then
:meth:`Evictions.announce`\\ s the key to the others. :class:`LocalEvictions` is the
embedded default: one process, no one else to tell, so another process's cache is only
bounded by its TTL. :class:`parley.cache.redis_evictions.RedisEvictions` tells every node
over Redis pub/sub, which makes the change take effect everywhere at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Evictions(Protocol):
    def on(self, topic: str, evict: Callable[[str], None], clear: Callable[[], None]) -> None:
        """From now on, another node's ``announce(topic, key)`` calls ``evict(key)`` here;
        ``clear()`` is called when announcements may have been missed (a lost
        connection) and once they are certain to be heard again. A topic may have
        several listeners; each is called."""
        ...

    async def announce(self, topic: str, key: str) -> None:
        """Tells every other node to evict ``key`` of ``topic``. Never raises: a failure
        is logged and made up for by telling every node to clear (see the backend)."""
        ...


class LocalEvictions:
    """One process: the caller already evicted its own copy; nothing else to tell."""

    def on(self, topic: str, evict: Callable[[str], None], clear: Callable[[], None]) -> None:
        pass

    async def announce(self, topic: str, key: str) -> None:
        pass
