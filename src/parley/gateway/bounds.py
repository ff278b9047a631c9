"""How fast a client may send, sans I/O: one token bucket per connection, and a flood rule.

A connection may send ``rate`` frames a second with bursts of ``burst`` (the bucket
arithmetic is :func:`parley.pipeline.ratelimit.take`). A frame beyond that is *refused*:
the gateway answers it ``ratelimited`` and does not run it. A client that goes on
sending regardless is *flooding* and is closed: refused frames are counted against a
second bucket of ``(flood - 1) * rate`` a second with bursts of ``(flood - 1) * burst``,
so the connection is closed once it sends, sustained, more than ``flood`` times the rate,
or ``flood * burst`` frames at once. A client that backs off when told is never closed.

Cost: one clock read and one bucket check per frame (the second bucket is only read for
refused frames); about 200 bytes per connection. The clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from parley.pipeline.ratelimit import take


class Verdict(IntEnum):
    """What to do with a frame. Falsy only for :attr:`PASS`."""

    PASS = 0
    REFUSE = 1  # answer ``ratelimited``, run nothing
    CLOSE = 2  # a flood: close the connection (1008)


@dataclass(frozen=True)
class FrameRate:
    """The policy, shared by every connection of a gateway."""

    rate: float = 50.0  # frames a second, sustained
    burst: float = 100.0  # frames at once
    flood: float = 10.0  # closed past this many times the rate

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1 or self.flood <= 1:
            raise ValueError("frame rate: rate > 0, burst >= 1, flood > 1")

    @property
    def close_reason(self) -> str:
        return f"flooding: more than {self.rate * self.flood:g} frames a second"


class FrameGate:
    """One connection's buckets. :meth:`check` once per frame received."""

    __slots__ = ("_clock", "_flood", "_flood_at", "_policy", "_tokens", "_at", "wait")

    def __init__(self, policy: FrameRate, clock: Callable[[], float] = time.monotonic) -> None:
        now = clock()
        self._policy = policy
        self._clock = clock
        self._tokens, self._at = policy.burst, now
        self._flood, self._flood_at = (policy.flood - 1) * policy.burst, now
        #: After a refusal: seconds until a frame would pass.
        self.wait = 0.0

    def check(self) -> Verdict:
        p = self._policy
        now = self._clock()
        self._tokens, self._at, wait = take(self._tokens, self._at, now, p.rate, p.burst)
        if not wait:
            return Verdict.PASS
        self.wait = wait
        excess = p.flood - 1
        self._flood, self._flood_at, over = take(
            self._flood, self._flood_at, now, p.rate * excess, p.burst * excess
        )
        return Verdict.CLOSE if over else Verdict.REFUSE
