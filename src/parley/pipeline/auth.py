"""Stage 1: who is calling. Tokens are random, Slack-shaped, and stored only as a hash."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable

import msgspec

from parley.cache.evictions import Evictions, LocalEvictions
from parley.cache.ttl import TTLCache
from parley.errors import ApiError, Code
from parley.pipeline import scopes
from parley.storage.interface import Directory
from parley.storage.models import Caller, User

log = logging.getLogger(__name__)

#: The eviction topic of cached tokens (keys: the SHA-256 of the token, in hex).
TOPIC = "token"


def new_token(is_bot: bool) -> str:
    """A fresh ``xoxb-`` (bot) or ``xoxp-`` (user) token with 256 bits of randomness."""
    return ("xoxb-" if is_bot else "xoxp-") + secrets.token_urlsafe(32)


def new_app_token() -> str:
    """A fresh ``xapp-`` token: an app-level token, for Socket Mode only."""
    return "xapp-" + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """What the directory stores instead of the token (SHA-256; tokens are high-entropy)."""
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Maps a token to its :class:`~parley.storage.models.Caller` (user and scopes),
    caching answers (positive ones only) for ``ttl`` seconds.

    A user whose token was just created (by ``parley user create`` in another process) is
    found on first use: misses are never cached. ``auth.revoke`` (:meth:`revoke`) takes
    effect at once in the process that served it, and it is announced through
    ``evictions``: with Redis (:class:`~parley.cache.redis_evictions.RedisEvictions`)
    every node drops the token at once; embedded (:class:`LocalEvictions`), another
    process that cached the token keeps accepting it until its cache entry expires, at
    most ``ttl`` seconds later (the seed's 15 minutes by default;
    ``PARLEY_TOKEN_CACHE_TTL``).
    """

    def __init__(
        self,
        directory: Directory,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        evictions: Evictions | None = None,
    ) -> None:
        self._directory = directory
        self._cache: TTLCache[bytes, Caller] = TTLCache(ttl, clock=clock)
        self._evictions = evictions or LocalEvictions()
        #: Bumped by every eviction: a directory read that started before one is not
        #: cached (it may have read the token before it was revoked).
        self._generation = 0
        #: Told of every revocation, here or announced (see :meth:`on_revoked`).
        self._revoked: list[Callable[[str | None], None]] = []
        self._evictions.on(TOPIC, self._evict_announced, self._clear)

    def on_revoked(self, listener: Callable[[str | None], None]) -> None:
        """From now on ``listener(key)`` is called when a token is revoked, by this
        process or (with Redis) another, with the token's key (its SHA-256 in hex);
        ``listener(None)`` when revocations may have been missed (any token may have
        been). The gateway closes the WebSockets a revoked token opened."""
        self._revoked.append(listener)

    def _tell(self, key: str | None) -> None:
        for listener in self._revoked:
            try:
                listener(key)
            except Exception:  # one listener's bug must not stop the others
                log.exception("a revocation listener failed")

    async def authenticate(self, token: str | None) -> User:
        """The token's user; see :meth:`authorize`."""
        return (await self.authorize(token)).user

    async def authorize(self, token: str | None) -> Caller:
        """The token's user and scopes; ``not_authed`` without a token, ``invalid_auth``
        for an unknown one, ``token_revoked`` for a revoked one, ``account_inactive`` for
        a deleted user."""
        if not token:
            raise ApiError(Code.NOT_AUTHED)
        if len(token) > 256:
            raise ApiError(Code.INVALID_AUTH)
        key = hash_token(token)
        caller = self._cache.get(key)
        if caller is None:
            generation = self._generation
            caller = await self._directory.caller_by_token(key)
            if caller is None:
                raise ApiError(Code.INVALID_AUTH)
            if caller.scopes is None:
                caller = msgspec.structs.replace(caller, scopes=scopes.default(caller.user.is_bot))
            if not caller.revoked and generation == self._generation:
                self._cache.put(key, caller)
        if caller.revoked:
            raise ApiError(Code.TOKEN_REVOKED)
        if caller.user.deleted:
            raise ApiError(Code.ACCOUNT_INACTIVE)
        return caller

    async def valid_key(self, key: bytes) -> bool:
        """Whether the token whose key (SHA-256) is ``key`` still authenticates: known,
        not revoked, its user not deleted (from the cache when it holds it)."""
        caller = self._cache.get(key)
        if caller is not None:
            return True
        caller = await self._directory.caller_by_token(key)
        return caller is not None and not caller.revoked and not caller.user.deleted

    async def revoke(self, token: str) -> bool:
        """Revokes ``token`` in the directory, forgets it here, then tells the other nodes
        (in that order: a read racing the revocation cannot cache the token again)."""
        key = hash_token(token)
        revoked = await self._directory.revoke_token(key)
        await self.forget([key])
        return revoked

    async def forget(self, keys: list[bytes]) -> None:
        """Forgets the tokens whose keys are ``keys`` here and on every node, once the
        directory holds what they now are (revoked, or their user deactivated or active
        again): a cached copy is dropped, and the WebSockets they opened are closed
        (:meth:`on_revoked`)."""
        for key in keys:
            self._evict(key)
            self._tell(key.hex())
        for key in keys:
            await self._evictions.announce(TOPIC, key.hex())

    def _evict(self, key: bytes) -> None:
        self._generation += 1
        self._cache.pop(key)

    def _evict_announced(self, key: str) -> None:
        try:
            self._evict(bytes.fromhex(key))
        except ValueError:
            self._clear()
            return
        self._tell(key)

    def _clear(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._tell(None)
