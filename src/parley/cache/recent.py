"""The recent-message buffer: each channel's newest messages, in ``seq`` order.

The seed keeps these in Redis (``LPUSH channel:messages``, capped, 24-hour TTL).
:class:`RecentMessages` is the contract; :class:`RecentBuffer` is the embedded
equivalent, in this process (pure: the clock is injected), and
:class:`parley.cache.redis_recent.RedisRecentBuffer` is the fleet's. Readers that resume
from a ``seq`` are served from here when the buffer can promise it covers the gap, and
from the store otherwise.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from parley.bus.interface import Event


class RecentMessages(Protocol):
    """``append`` and ``replace`` are called by the send path's after-commit callbacks,
    in commit order per channel, and never block or raise; ``since`` is the reader."""

    def append(self, event: Event) -> None:
        """Adds a new-message event."""
        ...

    def replace(self, event: Event) -> None:
        """Puts ``event`` in place of the buffered message with its ``seq`` (an edit, a
        deletion, a reaction); nothing if that message is not buffered."""
        ...

    async def since(self, channel: str, seq: int) -> list[Event] | None:
        """Every message of ``channel`` with a ``seq`` above the given one, ascending and
        gap-free, including at least every message whose event was published before the
        call; ``None`` when the buffer cannot promise that (the caller reads the store)."""
        ...

    def forget(self, channel: str) -> None:
        """Drops what is buffered of ``channel`` (retention removed messages of it), so
        readers go to the store until new messages fill the buffer again."""
        ...


class RecentBuffer:
    """Holds up to ``per_channel`` events per channel for ``ttl`` seconds each, for at most
    ``max_channels`` channels (the least recently written are dropped first), so memory is
    bounded by ``per_channel * max_channels`` events."""

    def __init__(
        self,
        per_channel: int,
        ttl: float,
        max_channels: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_channel = per_channel
        self._ttl = ttl
        self._max_channels = max_channels
        self._clock = clock
        self._channels: OrderedDict[str, deque[tuple[float, Event]]] = OrderedDict()

    def append(self, event: Event) -> None:
        """Adds a message event; events must arrive in ``seq`` order per channel."""
        if self._per_channel == 0:
            return
        buf = self._channels.get(event.channel)
        if buf is None:
            buf = self._channels[event.channel] = deque(maxlen=self._per_channel)
            if len(self._channels) > self._max_channels:
                self._channels.popitem(last=False)
        else:
            self._channels.move_to_end(event.channel)
        buf.append((self._clock(), event))

    def replace(self, event: Event) -> None:
        """Puts ``event`` in place of the buffered one with the same ``seq`` (an edit, a
        deletion, a reaction), so replays show the message as it is now. No-op if the
        message is no longer buffered."""
        buf = self._channels.get(event.channel)
        if not buf:
            return
        index = event.seq - buf[0][1].seq  # buffered seqs are consecutive
        if 0 <= index < len(buf) and buf[index][1].seq == event.seq:
            buf[index] = (buf[index][0], event)

    async def since(self, channel: str, seq: int) -> list[Event] | None:
        """Every buffered event with ``seq`` above the given one, ascending; ``None`` when
        the buffer no longer holds ``seq + 1`` (the caller must read the store).

        This meets :meth:`RecentMessages.since`'s promise because :meth:`append` runs
        in the after-commit callback before the event is published, in this process:
        whatever was published is already here."""
        buf = self._channels.get(channel)
        if not buf:
            return None
        horizon = self._clock() - self._ttl
        while buf and buf[0][0] <= horizon:
            buf.popleft()
        if not buf or buf[0][1].seq > seq + 1:
            return None
        return [e for _, e in buf if e.seq > seq]

    def forget(self, channel: str) -> None:
        self._channels.pop(channel, None)

    def channels(self) -> int:
        return len(self._channels)
