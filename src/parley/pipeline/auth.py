"""Stage 1: who is calling. Tokens are random, Slack-shaped, and stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from parley.cache.ttl import TTLCache
from parley.errors import ApiError, Code
from parley.storage.interface import Directory
from parley.storage.models import User


def new_token(is_bot: bool) -> str:
    """A fresh ``xoxb-`` (bot) or ``xoxp-`` (user) token with 256 bits of randomness."""
    return ("xoxb-" if is_bot else "xoxp-") + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """What the directory stores instead of the token (SHA-256; tokens are high-entropy)."""
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Maps a token to its user, caching answers (positive ones only) for ``ttl`` seconds.

    A user whose token was just created (by ``parley user create`` in another process) is
    found on first use: misses are never cached.
    """

    def __init__(
        self, directory: Directory, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._directory = directory
        self._cache: TTLCache[bytes, User] = TTLCache(ttl, clock=clock)

    async def authenticate(self, token: str | None) -> User:
        """The token's user; ``not_authed`` without a token, ``invalid_auth`` for an unknown
        one, ``account_inactive`` for a deleted user."""
        if not token:
            raise ApiError(Code.NOT_AUTHED)
        if len(token) > 256:
            raise ApiError(Code.INVALID_AUTH)
        key = hash_token(token)
        user = self._cache.get(key)
        if user is None:
            user = await self._directory.user_by_token(key)
            if user is None:
                raise ApiError(Code.INVALID_AUTH)
            self._cache.put(key, user)
        if user.deleted:
            raise ApiError(Code.ACCOUNT_INACTIVE)
        return user
