"""Tokens: shape, hashing, the cache, and how far a revocation reaches."""

from __future__ import annotations

import asyncio

import pytest

from parley.errors import ApiError
from parley.pipeline import scopes
from parley.pipeline.auth import Authenticator, hash_token, new_token
from parley.storage.models import Caller, User


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Directory:
    """The two directory calls the authenticator makes, over a dict (one shared store
    for two authenticators, as two processes share the directory file)."""

    def __init__(self) -> None:
        self.tokens: dict[bytes, Caller] = {}
        self.reads = 0

    async def caller_by_token(self, token_hash: bytes) -> Caller | None:
        self.reads += 1
        return self.tokens.get(token_hash)

    async def revoke_token(self, token_hash: bytes) -> bool:
        caller = self.tokens.get(token_hash)
        if caller is None or caller.revoked:
            return False
        self.tokens[token_hash] = Caller(caller.user, caller.scopes, True)
        return True


def user(bot: bool = False) -> User:
    return User("U1", "T1", "u", "", bot, "B1" if bot else None, None, 0)


def code(coro) -> str:
    with pytest.raises(ApiError) as err:
        asyncio.run(coro)
    return err.value.code


def test_tokens_are_slack_shaped_high_entropy_and_stored_as_a_hash():
    person, bot = new_token(False), new_token(True)
    assert person.startswith("xoxp-") and bot.startswith("xoxb-")
    assert len(person) >= 5 + 43 and person != new_token(False)
    assert hash_token(person) != person.encode() and len(hash_token(person)) == 32


def test_missing_unknown_and_oversized_tokens():
    auth = Authenticator(Directory(), ttl=900, clock=Clock())
    assert code(auth.authorize(None)) == "not_authed"
    assert code(auth.authorize("xoxp-nope")) == "invalid_auth"
    assert code(auth.authorize("x" * 1000)) == "invalid_auth"


def test_stored_scopes_or_the_defaults_of_the_users_kind():
    directory = Directory()
    directory.tokens[hash_token("xoxp-a")] = Caller(user(), frozenset({"chat:write"}))
    directory.tokens[hash_token("xoxb-b")] = Caller(user(bot=True), None)
    auth = Authenticator(directory, ttl=900, clock=Clock())
    assert asyncio.run(auth.authorize("xoxp-a")).scopes == {"chat:write"}
    assert asyncio.run(auth.authorize("xoxb-b")).scopes == scopes.DEFAULT_BOT


def test_a_revocation_is_immediate_here_and_bounded_by_the_ttl_elsewhere():
    directory, clock = Directory(), Clock()
    directory.tokens[hash_token("xoxp-t")] = Caller(user(), None)
    here = Authenticator(directory, ttl=900, clock=clock)
    there = Authenticator(directory, ttl=900, clock=clock)  # another process
    asyncio.run(here.authorize("xoxp-t"))
    asyncio.run(there.authorize("xoxp-t"))
    reads = directory.reads
    asyncio.run(there.authorize("xoxp-t"))
    assert directory.reads == reads  # served from the cache
    assert asyncio.run(here.revoke("xoxp-t")) is True
    assert code(here.authorize("xoxp-t")) == "token_revoked"
    clock.now = 899.0
    assert asyncio.run(there.authorize("xoxp-t")).user.id == "U1"  # still cached there
    clock.now = 900.0
    assert code(there.authorize("xoxp-t")) == "token_revoked"  # the TTL bounds it
