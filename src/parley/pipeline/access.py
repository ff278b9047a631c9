"""Stage 2: may this user see, read or write this channel. Cached, and never leaky: a
private channel the user is not in answers exactly like a channel that does not exist."""

from __future__ import annotations

import time
from collections.abc import Callable

from parley.cache.evictions import Evictions, LocalEvictions
from parley.cache.ttl import TTLCache
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id
from parley.storage.interface import Directory
from parley.storage.models import Channel, User

#: The eviction topic of cached channels and member sets (keys: channel ids).
TOPIC = "channel"


def _well_formed(channel_id: str) -> bool:
    """Whether ``channel_id`` can be a channel's, a direct message's or a group one's id."""
    return any(decode_id(kind, channel_id) is not None for kind in _KINDS)


#: The kinds of id a channel may have.
_KINDS = (Kind.CHANNEL, Kind.IM, Kind.MPIM)


class ChannelAccess:
    """Channel metadata and member sets, cached for ``ttl`` seconds and dropped at once by
    :meth:`forget` after a membership or archive change: here, and on every other node
    through ``evictions`` (with Redis at once; embedded, another process's copy lasts
    until its TTL). A leave from a private channel therefore never lets a node's stale
    member set serve that channel's later messages to the leaver."""

    def __init__(
        self,
        directory: Directory,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        evictions: Evictions | None = None,
    ) -> None:
        self._directory = directory
        self._channels: TTLCache[str, Channel] = TTLCache(ttl, clock=clock)
        self._members: TTLCache[str, frozenset[str]] = TTLCache(
            ttl, max_entries=20_000, clock=clock
        )
        self._evictions = evictions or LocalEvictions()
        #: Bumped by every eviction: a directory read that started before one is not
        #: cached (it may predate the change).
        self._generation = 0
        self._evictions.on(TOPIC, self._evict, self._clear)

    async def members(self, channel_id: str) -> frozenset[str]:
        members = self._members.get(channel_id)
        if members is None:
            generation = self._generation
            members = await self._directory.members(channel_id)
            if generation == self._generation:
                self._members.put(channel_id, members)
        return members

    async def visible(self, user: User, channel_id: str | None) -> Channel:
        """The channel if ``user`` may see it, else ``channel_not_found``."""
        channel = self._channels.get(channel_id) if channel_id else None
        if channel is None:
            # only well-formed ids reach the directory; cached ones were checked already
            if not channel_id or not _well_formed(channel_id):
                raise ApiError(Code.CHANNEL_NOT_FOUND)
            generation = self._generation
            channel = await self._directory.channel(channel_id)
            if channel is None:
                raise ApiError(Code.CHANNEL_NOT_FOUND)
            if generation == self._generation:
                self._channels.put(channel_id, channel)
        if channel.team_id != user.team_id:
            raise ApiError(Code.CHANNEL_NOT_FOUND)
        if channel.is_private and user.id not in await self.members(channel_id):
            raise ApiError(Code.CHANNEL_NOT_FOUND)
        return channel

    async def writable(self, user: User, channel_id: str | None) -> Channel:
        """The channel if ``user`` may post in it: visible, a member (``not_in_channel``),
        not archived (``is_archived``)."""
        channel = await self.visible(user, channel_id)
        if user.id not in await self.members(channel.id):
            raise ApiError(Code.NOT_IN_CHANNEL)
        if channel.is_archived:
            raise ApiError(Code.IS_ARCHIVED)
        return channel

    def remember(self, channel: Channel) -> None:
        self._channels.put(channel.id, channel)

    async def forget(self, channel_id: str) -> None:
        """Drops what is cached about the channel here and on every other node; call it
        after a membership or archive change has been written."""
        self._evict(channel_id)
        await self._evictions.announce(TOPIC, channel_id)

    def _evict(self, channel_id: str) -> None:
        self._generation += 1
        self._channels.pop(channel_id)
        self._members.pop(channel_id)

    def _clear(self) -> None:
        self._generation += 1
        self._channels.clear()
        self._members.clear()
