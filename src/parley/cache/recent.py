"""The recent-message buffer: each channel's newest messages, in ``seq`` order, in memory.

The seed keeps these in Redis (``LPUSH channel:messages``, capped, 24-hour TTL); this is
the embedded equivalent. Readers that resume from a ``seq`` are served from here when the
buffer still covers it, and from the store otherwise. Pure: the clock is injected.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from parley.bus.interface import Event


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

    def since(self, channel: str, seq: int) -> list[Event] | None:
        """Every buffered event with ``seq`` above the given one, ascending; ``None`` when
        the buffer no longer holds ``seq + 1`` (the caller must read the store)."""
        buf = self._channels.get(channel)
        if not buf:
            return None
        horizon = self._clock() - self._ttl
        while buf and buf[0][0] <= horizon:
            buf.popleft()
        if not buf or buf[0][1].seq > seq + 1:
            return None
        return [e for _, e in buf if e.seq > seq]

    def channels(self) -> int:
        return len(self._channels)
