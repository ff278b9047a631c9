"""Direct messages between two people, opened on first use: by ``conversations.open``,
and by ``chat.postMessage`` to a user id (``U…``), as Slack's. The ``D…`` id is derived
from the workspace and the two users, so either side, and two opens racing on two
nodes, find the same one."""

from __future__ import annotations

import hashlib

from parley.bus.interface import EventBus
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id, encode_id, wall_us
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.storage.interface import Directory
from parley.storage.models import Channel, User


def im_id(team_id: str, a: str, b: str) -> str:
    """The id of the direct message between users ``a`` and ``b`` (either order): the
    same on every node, so opening it twice, or at once from both sides, finds one."""
    low, high = sorted((a, b))
    digest = hashlib.sha256(f"{team_id}:{low}:{high}".encode()).digest()
    return encode_id(Kind.IM, int.from_bytes(digest[:8], "big") >> 1)


def announce_join(bus: EventBus, channel: Channel, user_id: str, at: int, before: int) -> None:
    """Publishes a join; ``before`` is the channel's last ``seq`` read before the join
    was committed: the joiner's gateway sends the joiner every message after it."""
    for event in events.joined(channel, user_id, at, before):
        bus.publish(event)


class Ims:
    """Opens direct messages (see the module)."""

    def __init__(self, directory: Directory, access: ChannelAccess, bus: EventBus) -> None:
        self._directory = directory
        self._access = access
        self._bus = bus

    async def open(self, user: User, other_id: str) -> tuple[Channel, bool]:
        """The direct message between ``user`` and ``other_id`` (themselves for a note
        to self), created on first use, both of them members; and whether it was opened
        now (created, or a member added). ``user_not_found`` unless ``other_id`` is a
        live user of the same workspace."""
        other = await self._directory.user(other_id) if decode_id(Kind.USER, other_id) else None
        if other is None or other.team_id != user.team_id or other.deleted:
            raise ApiError(Code.USER_NOT_FOUND, data={"user": other_id})
        ident = im_id(user.team_id, user.id, other.id)
        channel = await self._directory.channel(ident)
        fresh = channel is None
        if channel is None:
            made = Channel(ident, user.team_id, ident, True, user.id, wall_us(), is_im=True)
            try:
                channel = await self._directory.create_channel(made)
            except ApiError:  # opened at the same moment from elsewhere
                channel = await self._directory.channel(ident)
                if channel is None:
                    raise
                fresh = False
        added = await self._directory.add_members(channel.id, [other.id])
        await self._access.forget(channel.id)
        now = wall_us()
        for uid in ([user.id] if fresh else []) + added:
            announce_join(self._bus, channel, uid, now, 0)
        return channel, fresh or bool(added)
