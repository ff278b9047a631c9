"""Stage 3: rate limits, the seed's defaults, on a :class:`~parley.pipeline.ratelimit.RateStore`.

Messages (``chat.postMessage`` and the WebSocket send):

- a person: ``message_rate`` per second sustained with bursts of ``message_burst``
  (default 1/s, bursts of 10), one bucket per user across all channels;
- a bot: ``bot_channel_rate`` per second per channel (default 1/s), bursts of
  ``message_burst``, one bucket per bot and channel;
- a user or bot created with its own ``--rate-limit R`` (Slack's enterprise custom
  limits): R per second, bursts of ``max(message_burst, R)``, one bucket per user.

Web API calls: the methods Slack puts in its lower tiers (1-3, :data:`LIMITED_METHODS`)
allow ``api_calls_per_minute`` calls per minute (default 60) per user and method, in
bursts of as many; a user's tokens share it, so minting tokens does not raise it.
``chat.postMessage`` (limited per message above), ``auth.test`` and ``users.info``
(Slack's tier 4 and special tiers) are not limited here.

Other sites' images the server fetches for a signed-in reader (``/files/proxy``):
:data:`PROXY_BURST` at once (a channel's previews opening), then :data:`PROXY_RATE` a
second, per user, so no one person spends the fetcher's few connections for everyone.
Over a limit: :class:`~parley.errors.ApiError` ``ratelimited``, HTTP 429 and
``Retry-After`` in whole seconds (at least 1); nothing is written, since the check comes
before the write.
"""

from __future__ import annotations

import math
from typing import Protocol

from parley.errors import ApiError, Code
from parley.pipeline.ratelimit import RateStore
from parley.storage.models import Channel, User

#: Slack's tier 1-3 methods among Parley's, and Parley's ``views.home`` (each call
#: reaches an app as ``app_home_opened``).
LIMITED_METHODS = frozenset(
    {
        "chat.update",
        "chat.delete",
        "chat.unfurl",
        "conversations.archive",
        "conversations.close",
        "conversations.create",
        "conversations.history",
        "conversations.info",
        "conversations.invite",
        "conversations.join",
        "conversations.leave",
        "conversations.list",
        "conversations.members",
        "conversations.replies",
        "conversations.unarchive",
        "reactions.add",
        "reactions.get",
        "reactions.remove",
        "rtm.connect",
        "stars.add",
        "stars.list",
        "stars.remove",
        "users.deletePhoto",
        "users.list",
        "users.setPhoto",
        "views.home",
    }
)


#: ``/files/proxy``: images one user may have fetched at once, then a second.
PROXY_BURST = 120.0
PROXY_RATE = 2.0


def ratelimited(wait: float) -> ApiError:
    """The refusal: 429 with ``Retry-After`` rounded up to whole seconds."""
    seconds = max(1, math.ceil(wait))
    return ApiError(Code.RATELIMITED, status=429, headers={"retry-after": str(seconds)})


def retry_after(exc: ApiError) -> int | None:
    """The ``Retry-After`` seconds of a refusal that has one (``ratelimited``, and the
    ``fatal_error`` of a store that cannot take work now), for the WebSocket ack."""
    value = exc.headers.get("retry-after")
    return int(value) if value and value.isdigit() else None


class Limiter(Protocol):
    async def check_message(self, user: User, channel: Channel) -> None: ...
    def calls_limited(self, method: str) -> bool: ...
    async def check_call(self, user: User, method: str) -> None: ...

    async def check_proxy(self, user: User) -> None: ...


class Limits:
    """The policy above, over ``store``."""

    def __init__(
        self,
        store: RateStore,
        *,
        message_rate: float = 1.0,
        message_burst: float = 10.0,
        bot_channel_rate: float = 1.0,
        api_calls_per_minute: float = 60.0,
    ) -> None:
        self._store = store
        self._message_rate = message_rate
        self._message_burst = message_burst
        self._bot_channel_rate = bot_channel_rate
        self._api_rate = api_calls_per_minute / 60.0
        self._api_burst = api_calls_per_minute

    async def check_message(self, user: User, channel: Channel) -> None:
        """Raises ``ratelimited`` if ``user`` may not post to ``channel`` now."""
        if user.rate_limit is not None:
            rate = user.rate_limit
            key, burst = f"m:{user.id}", max(self._message_burst, rate)
        elif user.is_bot:
            rate = self._bot_channel_rate
            key, burst = f"m:{user.id}:{channel.id}", self._message_burst
        else:
            rate = self._message_rate
            key, burst = f"m:{user.id}", self._message_burst
        wait = await self._store.take(key, rate, burst)
        if wait:
            raise ratelimited(wait)

    def calls_limited(self, method: str) -> bool:
        """Whether calls to ``method`` are counted (so the send path skips the await)."""
        return self._api_rate > 0 and method in LIMITED_METHODS

    async def check_call(self, user: User, method: str) -> None:
        """Raises ``ratelimited`` if ``user`` may not call ``method`` now."""
        if not self.calls_limited(method):
            return
        wait = await self._store.take(f"a:{user.id}:{method}", self._api_rate, self._api_burst)
        if wait:
            raise ratelimited(wait)

    async def check_proxy(self, user: User) -> None:
        """Raises ``ratelimited`` if ``user`` may not have another site's image fetched
        now."""
        wait = await self._store.take(f"p:{user.id}", PROXY_RATE, PROXY_BURST)
        if wait:
            raise ratelimited(wait)


class Unlimited:
    """Lets everything through (tests of other stages, and a switched-off limiter)."""

    async def check_message(self, user: User, channel: Channel) -> None:
        return None

    def calls_limited(self, method: str) -> bool:
        return False

    async def check_call(self, user: User, method: str) -> None:
        return None

    async def check_proxy(self, user: User) -> None:
        return None
