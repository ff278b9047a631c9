"""A message store behind one circuit breaker per shard (``shard:<i>``).

Every call about one channel goes through its shard's breaker (:class:`Breakers.call
<parley.resilience.board.Breakers.call>`): while a shard keeps failing, the calls for
its channels fail fast with :class:`~parley.errors.StorageUnavailable` (the Web API's
503 ``fatal_error`` with ``Retry-After``) instead of each waiting on a dead server, and
the other shards serve as before. After ``open_seconds`` a few calls probe the shard;
when they succeed it serves again, with no one's intervention.

Calls that span shards (``messages_at``, ``changed_since``, ``recent_tails``) go
straight through: they are the workers', which retry on their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from parley.resilience.board import Breakers
from parley.storage.expiry import Expired
from parley.storage.interface import AfterCommit, MessageStore
from parley.storage.models import Message, Page, PostRequest, PostResult, ReactionChange
from parley.storage.reacted import Mark
from parley.storage.router import shard_for


def shard_breaker(index: int) -> str:
    """The name of shard ``index``'s breaker."""
    return f"shard:{index}"


class GuardedStore:
    """:class:`~parley.storage.interface.MessageStore` around ``inner`` (see the module)."""

    def __init__(self, inner: MessageStore, breakers: Breakers) -> None:
        self.inner = inner
        self._breakers = breakers
        self._names = [shard_breaker(i) for i in range(inner.shards)]
        for name in self._names:  # every shard reports a state from the start
            breakers.get(name)

    @property
    def shards(self) -> int:
        return self.inner.shards

    def _guard(self, channel: str):
        return self._names[shard_for(channel, len(self._names))]

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def post(self, req: PostRequest, after_commit: AfterCommit | None = None) -> PostResult:
        return await self._breakers.call(
            self._guard(req.channel), lambda: self.inner.post(req, after_commit)
        )

    async def update(
        self,
        channel: str,
        ts: int,
        user: str,
        text: str,
        expected_version: int | None,
        after_commit: AfterCommit | None = None,
        *,
        rich_patch: str | None = None,
        edited: bool = True,
    ) -> Message:
        return await self._breakers.call(
            self._guard(channel),
            lambda: self.inner.update(
                channel,
                ts,
                user,
                text,
                expected_version,
                after_commit,
                rich_patch=rich_patch,
                edited=edited,
            ),
        )

    async def delete(
        self, channel: str, ts: int, user: str, after_commit: AfterCommit | None = None
    ) -> Message:
        return await self._breakers.call(
            self._guard(channel), lambda: self.inner.delete(channel, ts, user, after_commit)
        )

    async def react(
        self,
        channel: str,
        ts: int,
        user: str,
        name: str,
        add: bool,
        after_commit: AfterCommit | None = None,
    ) -> ReactionChange:
        return await self._breakers.call(
            self._guard(channel),
            lambda: self.inner.react(channel, ts, user, name, add, after_commit),
        )

    async def message(self, channel: str, ts: int) -> Message | None:
        return await self._breakers.call(
            self._guard(channel), lambda: self.inner.message(channel, ts)
        )

    async def history(self, channel: str, *, before: int, after: int, limit: int) -> Page:
        return await self._breakers.call(
            self._guard(channel),
            lambda: self.inner.history(channel, before=before, after=after, limit=limit),
        )

    async def replies(
        self, channel: str, thread_ts: int, *, after: int, before: int, limit: int
    ) -> Page:
        return await self._breakers.call(
            self._guard(channel),
            lambda: self.inner.replies(channel, thread_ts, after=after, before=before, limit=limit),
        )

    async def last_seq(self, channel: str) -> int:
        return await self._breakers.call(self._guard(channel), lambda: self.inner.last_seq(channel))

    async def unread(self, channel: str, after_ts: int, not_by: str, cap: int) -> int:
        return await self._breakers.call(
            self._guard(channel), lambda: self.inner.unread(channel, after_ts, not_by, cap)
        )

    async def since(self, channel: str, seq: int, limit: int) -> Page:
        return await self._breakers.call(
            self._guard(channel), lambda: self.inner.since(channel, seq, limit)
        )

    async def messages_at(self, keys: Sequence[tuple[str, int]]) -> list[Message]:
        return await self.inner.messages_at(keys)

    async def changed_since(self, after_ts: int) -> list[tuple[str, int]]:
        return await self.inner.changed_since(after_ts)

    async def recent_tails(self, after_ts: int) -> list[tuple[str, int, int]]:
        return await self.inner.recent_tails(after_ts)

    async def expire(self, channel: str, before: int, limit: int) -> Expired:
        return await self._breakers.call(
            self._guard(channel), lambda: self.inner.expire(channel, before, limit)
        )

    async def reacted(self, user: str, before: Mark | None, limit: int) -> list[Mark]:
        return await self.inner.reacted(user, before, limit)
