"""``trigger_id``: what a slash command or a button pressed gives an app so it may open a
modal for that person (``views.open``), for :data:`TRIGGER_TTL` seconds; one given for
an interaction inside a modal also names that modal, so the app may push another onto
it (``views.push``).

A trigger is signed, not stored:
``<expires ms>.<person>.<channel>.<app's bot>.<modal or nothing>.<mac>``,
the MAC an HMAC-SHA256 under the installation's key (``meta.trigger_key``, made once
and shared by every node through the directory). So any API node checks one, and an
app can neither forge one nor use another app's. Slack's are good for 3 seconds;
Parley's for longer (a loaded machine's app should not miss its modal). Both are good
once: the modal a trigger opened or pushed spends it (:meth:`Triggers.spend`), and
another use answers ``exchanged_trigger_id``; a use that was refused spends nothing.
The uses are remembered for as long as a trigger lives, in Redis for a fleet
(:class:`~parley.cache.redis_claims.RedisFirstUse`), else in the process
(:class:`MemoryFirstUse`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable

from parley.errors import ApiError
from parley.storage.interface import Directory

#: Seconds a trigger opens a modal (Slack's: 3).
TRIGGER_TTL = 10.0
#: The ``meta`` key of the installation's trigger key.
KEY = "trigger_key"
INVALID = "invalid_trigger_id"
EXPIRED = "expired_trigger_id"
EXCHANGED = "exchanged_trigger_id"
#: ``first_use(key, ttl_ms)``: whether ``key`` is used for the first time within
#: ``ttl_ms`` (and now counts as used).
FirstUse = Callable[[str, int], Awaitable[bool]]


class MemoryFirstUse:
    """:data:`FirstUse` in this process: the keys used and when they may be forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        #: The size at which the past keys are next dropped (twice what is left then,
        #: so the sweeps cost O(1) a use).
        self._sweep_at = 1024

    async def __call__(self, key: str, ttl_ms: int) -> bool:
        now = self._clock()
        if len(self._until) >= self._sweep_at:
            self._until = {k: t for k, t in self._until.items() if t > now}
            self._sweep_at = max(1024, 2 * len(self._until))
        if self._until.get(key, now) > now:
            return False
        self._until[key] = now + ttl_ms / 1000
        return True


class Triggers:
    """Issues and checks triggers (see the module)."""

    def __init__(
        self,
        directory: Directory,
        clock: Callable[[], float] = time.time,
        first_use: FirstUse | None = None,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._key: bytes | None = None
        self._first_use = first_use or MemoryFirstUse()

    async def _secret(self) -> bytes:
        if self._key is None:
            stored = await self._directory.meta_default(KEY, secrets.token_hex(32))
            self._key = bytes.fromhex(stored)
        return self._key

    def _mac(self, key: bytes, body: str) -> str:
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]

    async def issue(
        self, user_id: str, channel_id: str, app_user_id: str, view_id: str = ""
    ) -> str:
        """A trigger for the app of ``app_user_id`` to open a modal for ``user_id``, who
        acted in ``channel_id`` (inside the modal ``view_id``, if any)."""
        expires = int((self._clock() + TRIGGER_TTL) * 1000)
        body = f"{expires}.{user_id}.{channel_id}.{app_user_id}.{view_id}"
        return f"{body}.{self._mac(await self._secret(), body)}"

    async def check(self, trigger_id: str | None, app_user_id: str) -> tuple[str, str, str]:
        """The person, channel and modal (``""`` for none) of a trigger issued to
        ``app_user_id``'s app: ``invalid_trigger_id`` for anything else,
        ``expired_trigger_id`` once late."""
        parts = (trigger_id or "").split(".")
        if len(parts) != 6 or not parts[0].isdigit():
            raise ApiError(INVALID)
        body, mac = ".".join(parts[:5]), parts[5]
        if not hmac.compare_digest(mac, self._mac(await self._secret(), body)):
            raise ApiError(INVALID)
        if parts[3] != app_user_id:
            raise ApiError(INVALID)
        if int(parts[0]) < self._clock() * 1000:
            raise ApiError(EXPIRED)
        return parts[1], parts[2], parts[4]

    async def spend(self, trigger_id: str) -> None:
        """Counts a trigger that :meth:`check` passed as used: ``exchanged_trigger_id``
        when it was already (here, or on any node sharing ``first_use``)."""
        mac = trigger_id.rsplit(".", 1)[-1]
        if not await self._first_use(f"trigger:{mac}", int(TRIGGER_TTL * 1000) + 1000):
            raise ApiError(EXCHANGED)
