"""Stage 2: may this user see, read or write this channel. Cached, and never leaky: a
private channel the user is not in answers exactly like a channel that does not exist."""

from __future__ import annotations

import time
from collections.abc import Callable

from parley.cache.ttl import TTLCache
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id
from parley.storage.interface import Directory
from parley.storage.models import Channel, User


class ChannelAccess:
    """Channel metadata and member sets, cached for ``ttl`` seconds and invalidated at once
    by this process's own membership changes (:meth:`forget`)."""

    def __init__(
        self, directory: Directory, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._directory = directory
        self._channels: TTLCache[str, Channel] = TTLCache(ttl, clock=clock)
        self._members: TTLCache[str, frozenset[str]] = TTLCache(
            ttl, max_entries=20_000, clock=clock
        )

    async def members(self, channel_id: str) -> frozenset[str]:
        members = self._members.get(channel_id)
        if members is None:
            members = await self._directory.members(channel_id)
            self._members.put(channel_id, members)
        return members

    async def visible(self, user: User, channel_id: str | None) -> Channel:
        """The channel if ``user`` may see it, else ``channel_not_found``."""
        channel = self._channels.get(channel_id) if channel_id else None
        if channel is None:
            # only well-formed ids reach the directory; cached ones were checked already
            if not channel_id or decode_id(Kind.CHANNEL, channel_id) is None:
                raise ApiError(Code.CHANNEL_NOT_FOUND)
            channel = await self._directory.channel(channel_id)
            if channel is None:
                raise ApiError(Code.CHANNEL_NOT_FOUND)
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

    def forget(self, channel_id: str) -> None:
        """Drops what is cached about the channel (after a membership or archive change)."""
        self._channels.pop(channel_id)
        self._members.pop(channel_id)
