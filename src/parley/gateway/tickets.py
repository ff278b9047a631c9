"""Short-lived, single-use tickets that let ``rtm.connect``'s URL open one WebSocket
without carrying the token. Pure: the clock is injected."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import msgspec

from parley.storage.models import User


class Grant(msgspec.Struct, frozen=True):
    """What a redeemed ticket opens: a connection for ``user``, resuming from ``resume``,
    allowed what the scopes of the token that asked for it allow."""

    user: User
    resume: dict[str, int] = {}
    scopes: frozenset[str] = frozenset()


class TicketBook:
    """Issues tickets valid for ``ttl`` seconds; each can be redeemed once. At most
    ``max_outstanding`` unredeemed tickets are kept (the oldest are dropped first)."""

    def __init__(
        self,
        ttl: float,
        max_outstanding: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_outstanding
        self._clock = clock
        self._tickets: dict[str, tuple[float, Grant]] = {}

    def issue(
        self,
        user: User,
        resume: dict[str, int] | None = None,
        scopes: frozenset[str] = frozenset(),
    ) -> str:
        now = self._clock()
        if len(self._tickets) >= self._max:
            self._expire(now)
            while len(self._tickets) >= self._max:
                del self._tickets[next(iter(self._tickets))]
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = (now + self._ttl, Grant(user, resume or {}, scopes))
        return ticket

    def redeem(self, ticket: str) -> Grant | None:
        """The ticket's grant, once; ``None`` if unknown, used or expired."""
        entry = self._tickets.pop(ticket, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def _expire(self, now: float) -> None:
        for key in [k for k, (exp, _) in self._tickets.items() if exp <= now]:
            del self._tickets[key]
