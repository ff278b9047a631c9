"""A circuit breaker per dependency instance (a shard, Redis, a push provider, the search
engine). Pure: a state machine that is told the time; it does no I/O and keeps no clock.

States, with the seed's defaults (:class:`Policy`):

- **closed**: calls go through. The outcomes of the last ``window`` calls are kept; once
  at least ``min_calls`` of them are known and more than ``error_rate`` of them failed,
  the breaker opens.
- **open**: calls fail fast (:meth:`Breaker.allow` is false) for ``open_seconds``;
  :meth:`Breaker.retry_after` says how long is left.
- **half-open**: after that, up to ``probes`` calls at a time go through as probes.
  ``close_after`` successes in a row close the breaker (with an empty window); any
  failure opens it again for another ``open_seconds``.

A caller asks :meth:`~Breaker.allow` before each call and, when allowed, reports the
outcome with :meth:`~Breaker.record`. An outcome counts in the state the breaker is in
when it is reported: one reported while open (a slow call that ends after the breaker
opened) is ignored, and a breaker that just closed starts with an empty window, so a
straggling failure cannot reopen it before ``min_calls`` new calls.
"""

from __future__ import annotations

from collections import deque

import msgspec

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Policy(msgspec.Struct, frozen=True):
    """When a breaker opens and closes (the seed's defaults)."""

    #: Open when the share of failed calls in the window exceeds this.
    error_rate: float = 0.05
    #: The sliding window: the last this many calls.
    window: int = 100
    #: Calls the window must hold before the rate counts.
    min_calls: int = 20
    #: Seconds an open breaker fails calls fast before it lets probes through.
    open_seconds: float = 30.0
    #: Successful probes in a row that close a half-open breaker.
    close_after: int = 3
    #: Probes in flight at once while half-open.
    probes: int = 3

    def valid(self) -> bool:
        return (
            0 <= self.error_rate < 1
            and 1 <= self.min_calls <= self.window <= 1_000_000
            and 0 < self.open_seconds <= 86_400
            and 1 <= self.close_after <= self.probes <= 1000
        )


class Breaker:
    """One dependency's breaker (see the module's contract)."""

    def __init__(self, name: str, policy: Policy | None = None) -> None:
        self.name = name
        self.policy = policy or Policy()
        self.state = CLOSED
        self._outcomes: deque[bool] = deque(maxlen=self.policy.window)  # True: failed
        self._failures = 0
        self._opened_at = 0.0
        self._in_flight = 0  # probes, while half-open
        self._successes = 0  # probes in a row that succeeded
        #: Times the breaker opened (for metrics and alerts).
        self.opened = 0

    def allow(self, now: float) -> bool:
        """Whether a call may go now; a half-open breaker counts the call as a probe in
        flight until its :meth:`record`."""
        if self.state == OPEN:
            if now - self._opened_at < self.policy.open_seconds:
                return False
            self.state, self._in_flight, self._successes = HALF_OPEN, 0, 0
        if self.state == HALF_OPEN:
            if self._in_flight >= self.policy.probes:
                return False
            self._in_flight += 1
        return True

    def record(self, ok: bool, now: float) -> None:
        """The outcome of a call :meth:`allow` let through."""
        if self.state == HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)
            if not ok:
                self._open(now)
                return
            self._successes += 1
            if self._successes >= self.policy.close_after:
                self.state = CLOSED
                self._outcomes.clear()
                self._failures = 0
            return
        if self.state == OPEN:
            return  # a call that began before the breaker opened: already counted
        if len(self._outcomes) == self._outcomes.maxlen:
            self._failures -= self._outcomes[0]
        self._outcomes.append(not ok)
        self._failures += not ok
        calls = len(self._outcomes)
        if calls >= self.policy.min_calls and self._failures > self.policy.error_rate * calls:
            self._open(now)

    def cancel(self) -> None:
        """A call :meth:`allow` let through ended with no outcome (it was cancelled): a
        half-open breaker's probe slot is freed, nothing is counted."""
        if self.state == HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)

    def _open(self, now: float) -> None:
        self.state, self._opened_at = OPEN, now
        self._outcomes.clear()
        self._failures = 0
        self._in_flight = self._successes = 0
        self.opened += 1

    def retry_after(self, now: float) -> float:
        """Seconds until an open breaker lets probes through (0 unless open)."""
        if self.state != OPEN:
            return 0.0
        return max(0.0, self.policy.open_seconds - (now - self._opened_at))

    def failure_rate(self) -> float:
        """The share of failed calls in the window (0 when empty)."""
        return self._failures / len(self._outcomes) if self._outcomes else 0.0
