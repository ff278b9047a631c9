"""Direct messages, opened on first use: between two people (``D…``), by
``conversations.open`` with one user and by ``chat.postMessage`` to a user id (``U…``),
as Slack's; and group ones among 3 to 9 (``G…``, Slack's ``mpim``), by
``conversations.open`` with several. The id is derived from the workspace and the set
of members, so any of them, and two opens racing on two nodes, find the same one. The
members of either kind are fixed: nobody joins, leaves or is invited.

A member may close either kind (``conversations.close``: :class:`Closing`): it is
listed with ``is_open`` false for them until they open it again (``conversations.open``)
or a message comes after it was closed; their connections hear ``im_close`` (or
``mpim_close``) and ``im_open``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from parley.bus.interface import EventBus
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id, encode_id, wall_us
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import Channel, User

#: The most people a group direct message holds besides the one who opens it (Slack's).
MAX_GROUP_OTHERS = 8

#: The longest name a group direct message gets (its members' names, joined), within
#: the directory's 255-character names.
_MAX_GROUP_NAME = 240

#: Tries at a group name before giving up: another channel may hold ``mpdm-…-1``.
_NAME_TRIES = 20


def im_id(team_id: str, a: str, b: str) -> str:
    """The id of the direct message between users ``a`` and ``b`` (either order): the
    same on every node, so opening it twice, or at once from both sides, finds one."""
    low, high = sorted((a, b))
    digest = hashlib.sha256(f"{team_id}:{low}:{high}".encode()).digest()
    return encode_id(Kind.IM, int.from_bytes(digest[:8], "big") >> 1)


def mpim_id(team_id: str, members: Iterable[str]) -> str:
    """The id of the group direct message among ``members`` (any order, any repeats)."""
    key = ":".join([team_id, *sorted(set(members))])
    digest = hashlib.sha256(f"mpim:{key}".encode()).digest()
    return encode_id(Kind.MPIM, int.from_bytes(digest[:8], "big") >> 1)


def mpim_name(names: Sequence[str], n: int) -> str:
    """Slack's name of a group direct message: ``mpdm-ann--bob--cy-1`` for the members'
    names in the order given and the ``n``-th try; cut to fit the directory."""
    suffix = f"-{n}"
    joined = "mpdm-" + "--".join(names)
    return joined[: _MAX_GROUP_NAME - len(suffix)] + suffix


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

    async def open_group(self, user: User, other_ids: Sequence[str]) -> tuple[Channel, bool]:
        """The group direct message among ``user`` and ``other_ids`` (2 to
        :data:`MAX_GROUP_OTHERS` distinct users other than ``user``, checked by the
        caller), created on first use with all of them members, named by them in the
        order given; and whether it was opened now (created, or a member added).
        ``user_not_found`` unless every one is a live user of the same workspace."""
        others = []
        for uid in other_ids:
            other = await self._directory.user(uid) if decode_id(Kind.USER, uid) else None
            if other is None or other.team_id != user.team_id or other.deleted:
                raise ApiError(Code.USER_NOT_FOUND, data={"user": uid})
            others.append(other)
        ident = mpim_id(user.team_id, [user.id, *(o.id for o in others)])
        channel = await self._directory.channel(ident)
        fresh = channel is None
        names = [user.name, *(o.name for o in others)]
        for n in range(1, _NAME_TRIES + 1):
            if channel is not None:
                break
            name = mpim_name(names, n)
            made = Channel(ident, user.team_id, name, True, user.id, wall_us(), is_mpim=True)
            try:
                channel = await self._directory.create_channel(made)
            except ApiError:  # opened at the same moment elsewhere, or the name is taken
                channel = await self._directory.channel(ident)
                fresh = channel is None
        if channel is None:
            raise ApiError(Code.NAME_TAKEN)
        added = await self._directory.add_members(channel.id, [o.id for o in others])
        await self._access.forget(channel.id)
        now = wall_us()
        for uid in ([user.id] if fresh else []) + added:
            announce_join(self._bus, channel, uid, now, 0)
        return channel, fresh or bool(added)


class Closing:
    """Direct and group direct messages a member closed (see the module)."""

    def __init__(
        self,
        directory: Directory,
        store: MessageStore,
        bus: EventBus,
        clock_us: Callable[[], int] = wall_us,
    ) -> None:
        self._directory = directory
        self._store = store
        self._bus = bus
        self._clock_us = clock_us

    async def close(self, user: User, channel: Channel) -> bool:
        """Closes ``channel`` (one of ``user``'s direct or group direct messages) for
        them; ``False`` when it was closed already (and nothing came since)."""
        last = await self._store.last_seq(channel.id)
        closed = (await self._directory.closed_conversations(user.id)).get(channel.id)
        if closed is not None and closed >= last:
            return False
        await self._directory.close_conversation(user.id, channel.id, last)
        self._bus.publish(events.shown(channel, user.id, False, self._clock_us()))
        return True

    async def reopen(self, user: User, channel: Channel) -> bool:
        """Opens ``channel`` again for ``user``; whether it was closed."""
        closed = (await self._directory.closed_conversations(user.id)).get(channel.id)
        if closed is None:
            return False
        await self._directory.reopen_conversation(user.id, channel.id)
        if closed < await self._store.last_seq(channel.id):
            return False  # a message since had opened it
        self._bus.publish(events.shown(channel, user.id, True, self._clock_us()))
        return True

    async def closed(self, user_id: str, channels: Iterable[Channel]) -> set[str]:
        """Which of ``channels`` ``user_id`` has closed (and nothing came since)."""
        shut = await self._directory.closed_conversations(user_id)
        out = set()
        for c in channels:
            seq = shut.get(c.id)
            if seq is not None and seq >= await self._store.last_seq(c.id):
                out.add(c.id)
        return out
