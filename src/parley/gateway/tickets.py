"""Short-lived, single-use tickets that let ``rtm.connect``'s URL open one WebSocket
without carrying the token.

:class:`Tickets` is the contract; :class:`TicketBook` keeps them in this process (the
embedded default: the node that issues is the node that redeems), and
:class:`parley.cache.redis_tickets.RedisTicketBook` keeps them in Redis, so that an API
node issues a ticket that another node's gateway redeems.

The gateway answers a WebSocket upgrade before it can await anything (picows routes
synchronously), so redeeming is two steps: :meth:`Tickets.holder`, without I/O, says
whose the ticket may be (``None``: refuse the upgrade with 403; a user at its connection
limit: 429), and :meth:`Tickets.redeem`, awaited once the socket is open and before
``hello``, spends it; a ticket that does not redeem closes the socket (1008).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from parley.storage.models import User


class Grant(msgspec.Struct, frozen=True):
    """What a redeemed ticket opens: a connection for ``user``, resuming from ``resume``,
    allowed what the scopes of the token that asked for it allow."""

    user: User
    resume: dict[str, int] = {}
    scopes: frozenset[str] = frozenset()
    #: The token's key (its SHA-256 in hex), so revoking it closes the connection.
    token: str = ""
    #: Issued by ``apps.connections.open``: the connection speaks Socket Mode.
    socket: bool = False


class Tickets(Protocol):
    async def issue(
        self,
        user: User,
        resume: dict[str, int] | None = None,
        scopes: frozenset[str] = frozenset(),
        token: str = "",
        socket: bool = False,
    ) -> str:
        """A new ticket for ``user`` (``socket``: for a Socket Mode connection), valid
        for the book's TTL, redeemable once. Raises
        :class:`~parley.errors.ApiError` (503) when it cannot be stored."""
        ...

    def holder(self, ticket: str) -> str | None:
        """Without I/O: the id of the user ``ticket`` was issued to, if it may still be
        redeemable; ``None`` when it certainly is not."""
        ...

    async def redeem(self, ticket: str) -> Grant | None:
        """The ticket's grant, once; ``None`` if unknown, used, expired (or unreadable)."""
        ...


class TicketBook:
    """Tickets in this process, valid for ``ttl`` seconds, each redeemable once. At most
    ``max_outstanding`` unredeemed tickets are kept (the oldest are dropped first).
    Pure: the clock is injected."""

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

    async def issue(
        self,
        user: User,
        resume: dict[str, int] | None = None,
        scopes: frozenset[str] = frozenset(),
        token: str = "",
        socket: bool = False,
    ) -> str:
        now = self._clock()
        if len(self._tickets) >= self._max:
            self._expire(now)
            while len(self._tickets) >= self._max:
                del self._tickets[next(iter(self._tickets))]
        ticket = secrets.token_urlsafe(24)
        grant = Grant(user, resume or {}, scopes, token, socket)
        self._tickets[ticket] = (now + self._ttl, grant)
        return ticket

    def holder(self, ticket: str) -> str | None:
        entry = self._tickets.get(ticket)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1].user.id

    async def redeem(self, ticket: str) -> Grant | None:
        entry = self._tickets.pop(ticket, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def _expire(self, now: float) -> None:
        for key in [k for k, (exp, _) in self._tickets.items() if exp <= now]:
            del self._tickets[key]
