"""Stage 3: rate limits. A pass-through until the limiter lands (issue: trust boundary);
the send path already calls it, so the real limiter drops in behind this interface."""

from __future__ import annotations

from typing import Protocol

from parley.storage.models import Channel, User


class Limiter(Protocol):
    def check_message(self, user: User, channel: Channel) -> None:
        """Raises ``ApiError(ratelimited)`` with ``Retry-After`` when over the limit."""
        ...


class Unlimited:
    """Lets everything through."""

    def check_message(self, user: User, channel: Channel) -> None:
        return None
