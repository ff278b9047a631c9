"""Presence: who is connected, anywhere, and the ``presence_change`` events that follow.

A user is ``active`` while at least one WebSocket of theirs is open on any gateway, and
``away`` otherwise, or while they have set themselves away (``users.setPresence``: the
directory's ``away``, :func:`shown`); presence never crosses a workspace. The gateway tells
:class:`Presence` when a registered connection opens and closes; the registry calls
``announce(team, user, state)`` when a user's first connection opens (``active``) or
the last one closes (``away``), and answers "which of these users are online?" for
``presence_sub``/``presence_query``, ``users.getPresence``, push and apps. A user who
set themselves away is not announced ``active`` when a connection opens; whether they
are connected is still what push and apps go by.

:class:`LocalPresence` counts this process's connections (the embedded default: one
process holds every connection). :class:`parley.cache.redis_presence.RedisPresence`
keeps the counts of every gateway node in Redis, with heartbeat expiry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from parley.bus.interface import EventBus
from parley.ids import wall_us
from parley.pipeline import events
from parley.storage.models import User

#: ``announce(team_id, user_id, "active" | "away")``.
Announce = Callable[[str, str, str], None]


def announcer(bus: EventBus) -> Announce:
    """Publishes each change as a ``presence_change`` event on the bus, which every
    gateway delivers to the connections watching that user."""

    def announce(team_id: str, user_id: str, state: str) -> None:
        bus.publish(events.presence(team_id, user_id, state, wall_us()))

    return announce


def shown(online: set[str], away: set[str], user_id: str) -> str:
    """``user_id``'s presence as people see it: ``active`` when connected (in ``online``)
    and not set away (in ``away``)."""
    return "active" if user_id in online and user_id not in away else "away"


class Presence(Protocol):
    async def connected(self, user: User) -> None:
        """A connection of ``user`` (as the directory has them now: ``away``) opened here
        (registered in the hub); returns once it counts for every node (a registry that
        fails delays this by a bounded time)."""
        ...

    def disconnected(self, user: User) -> None:
        """A connection :meth:`connected` counted closed. Never blocks."""
        ...

    async def online(self, team_id: str, user_ids: Iterable[str]) -> set[str]:
        """Which of ``user_ids`` (of ``team_id``) have a connection open anywhere."""
        ...


class LocalPresence:
    """Connections counted in this process; ``announce`` is called synchronously."""

    def __init__(self, announce: Announce) -> None:
        self._announce = announce
        self._open: dict[tuple[str, str], int] = {}

    async def connected(self, user: User) -> None:
        key = (user.team_id, user.id)
        count = self._open.get(key, 0) + 1
        self._open[key] = count
        if count == 1 and not user.away:
            self._announce(user.team_id, user.id, "active")

    def disconnected(self, user: User) -> None:
        key = (user.team_id, user.id)
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
            return
        if self._open.pop(key, None) is not None:
            self._announce(user.team_id, user.id, "away")

    async def online(self, team_id: str, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if (team_id, u) in self._open}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
