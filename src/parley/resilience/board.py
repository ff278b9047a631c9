"""Every circuit breaker of one node, by dependency instance: ``shard:0``, ``shard:1``...,
``push:apns``, ``push:fcm``, ``search``.

The board creates a breaker the first time it is named, with the node's one policy, and
is where the node's figures about them are read: ``/metrics`` (state and times opened)
and ``/readyz`` (states). It does no I/O. Its clock is injected; :meth:`call` runs one
awaitable through a breaker with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from parley.errors import StorageUnavailable
from parley.metrics import BREAKER_STATES, Row, counter, gauge
from parley.resilience.breaker import Breaker, Policy

T = TypeVar("T")


class Breakers:
    """The node's breakers (see the module's contract)."""

    def __init__(
        self, policy: Policy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or Policy()
        self.clock = clock
        self._all: dict[str, Breaker] = {}

    def get(self, name: str) -> Breaker:
        """The breaker called ``name``, created closed on first use."""
        breaker = self._all.get(name)
        if breaker is None:
            breaker = self._all[name] = Breaker(name, self.policy)
        return breaker

    def states(self) -> dict[str, str]:
        """Each breaker's state (``closed``, ``half_open``, ``open``), by name. An open
        breaker stays ``open`` until a call probes it, even once its wait is over."""
        return {name: b.state for name, b in sorted(self._all.items())}

    def all_open(self, prefix: str) -> bool:
        """Whether there are breakers named ``prefix...`` and every one is open and still
        failing calls fast (one whose wait is over would let a probe through)."""
        now = self.clock()
        found = [b for name, b in self._all.items() if name.startswith(prefix)]
        return bool(found) and all(b.retry_after(now) > 0 for b in found)

    async def call(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn()`` through breaker ``name``, for a storage dependency (a shard, the
        search engine): while the breaker is open it raises :class:`StorageUnavailable`
        (with ``retry_after``) at once and ``fn`` is not called. Only an outage counts
        as a failure (:class:`StorageUnavailable`: unreachable, locked, disk failing);
        any other answer, an error the dependency gave included (a constraint, a
        document it refuses, an :class:`~parley.errors.ApiError`), shows it working."""
        return await self.run(
            name, fn, failures=(StorageUnavailable, OSError), refused=_unavailable
        )

    async def run(
        self,
        name: str,
        fn: Callable[[], Awaitable[T]],
        *,
        failures: tuple[type[BaseException], ...],
        refused: Callable[[str, float], BaseException],
    ) -> T:
        """``fn()`` through breaker ``name``: while it is open, ``refused(name, wait)``
        is raised at once (``wait``: seconds until it lets a probe through) and ``fn`` is
        not called. An exception in ``failures`` counts as a failure; any other outcome
        as a success, but a cancellation, which counts as nothing."""
        breaker = self.get(name)
        now = self.clock()
        if not breaker.allow(now):
            raise refused(name, breaker.retry_after(now))
        try:
            result = await fn()
        except failures:
            breaker.record(False, self.clock())
            raise
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            breaker.cancel()
            raise
        except BaseException:
            breaker.record(True, self.clock())
            raise
        breaker.record(True, self.clock())
        return result

    def metric_rows(self) -> list[Row]:
        """``parley_breaker_state`` (0 closed, 1 half-open, 2 open) and
        ``parley_breaker_opened_total`` per breaker."""
        states = self.states()
        return [
            gauge(
                "parley_breaker_state",
                "Circuit breakers: 0 closed, 1 half-open, 2 open.",
                [((name,), BREAKER_STATES[s]) for name, s in states.items()],
                ["breaker"],
            ),
            counter(
                "parley_breaker_opened",
                "Times each circuit breaker opened.",
                [((name,), self._all[name].opened) for name in states],
                ["breaker"],
            ),
        ]


def _unavailable(name: str, wait: float) -> StorageUnavailable:
    return StorageUnavailable(
        f"{name} is failing: circuit breaker open, retry in {wait:.0f} s", retry_after=wait
    )
