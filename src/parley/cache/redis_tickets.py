"""``rtm.connect`` tickets in Redis: issued on any API node, redeemed once on any gateway.

A ticket is ``<user id>.<32 random URL-safe characters>``; its grant (user, resume map,
scopes) is stored msgpack-encoded under ``<prefix>ticket:<ticket>`` with ``SET … PX ttl``
and redeemed with ``GETDEL``, which is atomic: of two gateways redeeming one ticket at
once, exactly one gets the grant.

The user id in the clear is what lets a gateway answer the upgrade without I/O
(:meth:`RedisTicketBook.holder`: the connection limit is counted per user before the
socket opens). It proves nothing: a forged one passes :meth:`holder` but not
:meth:`redeem` (no such key, or a grant of another user), and the socket is closed
before ``hello`` — it held a slot of the named user's connection limit for one Redis
round trip.
"""

from __future__ import annotations

import logging
import secrets

import msgspec
import redis.asyncio as redis

from parley.cache.redis_client import FAILURES
from parley.errors import ApiError, Code
from parley.gateway.tickets import Grant
from parley.ids import Kind, decode_id
from parley.storage.models import User

log = logging.getLogger(__name__)

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Grant).decode
_RANDOM = 24  # bytes: 32 URL-safe characters


class RedisTicketBook:
    """Tickets valid for ``ttl`` seconds under ``<prefix>ticket:`` keys."""

    def __init__(self, client: redis.Redis, ttl: float, *, prefix: str = "parley:") -> None:
        self._client = client
        self._ttl_ms = max(1, int(ttl * 1000))
        self._prefix = prefix + "ticket:"

    async def issue(
        self,
        user: User,
        resume: dict[str, int] | None = None,
        scopes: frozenset[str] = frozenset(),
        token: str = "",
        socket: bool = False,
    ) -> str:
        """As :meth:`Tickets.issue`; a failing Redis is ``fatal_error`` (503, retry)."""
        ticket = f"{user.id}.{secrets.token_urlsafe(_RANDOM)}"
        grant = _encode(Grant(user, resume or {}, scopes, token, socket))
        try:
            await self._client.set(self._prefix + ticket, grant, px=self._ttl_ms)
        except FAILURES as exc:
            log.warning("rtm.connect: cannot store a ticket, Redis failed: %s", exc)
            raise ApiError(Code.FATAL_ERROR, status=503, headers={"retry-after": "1"}) from exc
        return ticket

    def holder(self, ticket: str) -> str | None:
        """The user id a well-formed ticket names (unverified until :meth:`redeem`)."""
        user_id, dot, rest = ticket.partition(".")
        if not dot or len(rest) != 32 or decode_id(Kind.USER, user_id) is None:
            return None
        if not rest.replace("-", "").replace("_", "").isalnum() or not rest.isascii():
            return None
        return user_id

    async def redeem(self, ticket: str) -> Grant | None:
        """As :meth:`Tickets.redeem`; ``None`` too when Redis fails (logged): the client
        calls ``rtm.connect`` again."""
        user_id = self.holder(ticket)
        if user_id is None:
            return None
        try:
            raw = await self._client.getdel(self._prefix + ticket)
        except FAILURES as exc:
            log.warning("a ticket could not be redeemed, Redis failed: %s", exc)
            return None
        if raw is None:
            return None
        try:
            grant = _decode(raw)
        except msgspec.DecodeError:
            log.warning("an unreadable ticket grant was dropped")
            return None
        return grant if grant.user.id == user_id else None
