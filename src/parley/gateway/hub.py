"""The fan-out hub: which local connections follow which channels, and delivery.

Pure bookkeeping over objects with a ``deliver(event)`` method and ``user_id`` /
``team_id`` attributes; no I/O of its own. Each event's payload was encoded once when it
was published; every subscriber writes those same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Protocol

from parley.bus.interface import (
    APP_REQUEST,
    EPHEMERAL,
    JOIN_NOTICE,
    TEAM_CHANGES,
    TO_ONE_APP,
    Event,
)
from parley.pipeline.events import MARKED, SHOWN, STARRED, VIEW_EVENTS


class Subscriber(Protocol):
    user_id: str
    team_id: str

    def deliver(self, event: Event) -> None: ...

    def joined(self, notice: Event) -> None:
        """Its user joined ``notice.channel`` (a :data:`JOIN_NOTICE`): follow the channel
        and send the user the join and every message after ``notice.seq``."""
        ...


#: Events the user they are about does not get from the channel: their own typing (and an
#: app's own status in a thread), and their own join (which comes to them as a :data:`JOIN_NOTICE`).
_NOT_TO_THEIR_USER = frozenset({"user_typing", "assistant_thread_status", "member_joined_channel"})

#: Events for one user's connections (the event's ``user``): an ephemeral message,
#: their read marks, a direct message they closed or opened and an app's modal, to
#: those that follow the channel; an app's
#: request, its home tab opened and links on its domains shared, to one of its bot's
#: Socket Mode connections.
_TO_THEIR_USER = frozenset(
    {EPHEMERAL, *MARKED.values(), *SHOWN, *STARRED, APP_REQUEST, *TO_ONE_APP, *VIEW_EVENTS}
)
_TO_ONE_APP_CONNECTION = frozenset({APP_REQUEST, *TO_ONE_APP})

#: Events for every connection of the team.
_TO_THE_TEAM = TEAM_CHANGES


class Hub:
    def __init__(self) -> None:
        self._by_channel: dict[str, set[Subscriber]] = {}
        self._by_user: dict[str, set[Subscriber]] = {}
        self._by_team: dict[str, set[Subscriber]] = {}
        self._channels_of: dict[Subscriber, set[str]] = {}
        #: Channels each connection left while its membership snapshot was loading.
        self._left_early: dict[Subscriber, set[str]] = {}
        #: Whose presence each connection asked for (``presence_sub``), and the reverse.
        self._watching: dict[Subscriber, tuple[str, ...]] = {}
        self._watchers: dict[str, set[Subscriber]] = {}

    def __len__(self) -> int:
        return len(self._channels_of)

    def __contains__(self, sub: object) -> bool:
        return sub in self._channels_of

    def add(self, sub: Subscriber, channels: Iterable[str] = ()) -> None:
        """Registers a connection following ``channels`` (the user's memberships).

        To open a connection without missing a membership change, add it with no
        channels first, then load the memberships and pass them to :meth:`follow_snapshot`:
        joins and leaves that arrive meanwhile are applied to the connection at once, and
        the snapshot cannot re-follow a channel left after it was taken.
        """
        self._channels_of[sub] = set()
        self._left_early[sub] = set()
        self._by_user.setdefault(sub.user_id, set()).add(sub)
        self._by_team.setdefault(sub.team_id, set()).add(sub)
        for channel in channels:
            self._follow(sub, channel)

    def follow_snapshot(self, sub: Subscriber, channels: Iterable[str]) -> None:
        """Follows the memberships loaded after :meth:`add`, minus channels left since."""
        left = self._left_early.pop(sub, set())
        if sub in self._channels_of:
            for channel in channels:
                if channel not in left:
                    self._follow(sub, channel)

    def watch_presence(self, sub: Subscriber, user_ids: Iterable[str]) -> None:
        """``sub`` receives ``presence_change`` for ``user_ids`` (of its own team) and no
        one else from now on, replacing what it watched before."""
        for user_id in self._watching.pop(sub, ()):
            self._discard(self._watchers, user_id, sub)
        if sub not in self._channels_of:
            return
        ids = tuple(user_ids)
        if ids:
            self._watching[sub] = ids
            for user_id in ids:
                self._watchers.setdefault(user_id, set()).add(sub)

    def presence(self, team_id: str, user_id: str) -> str:
        """``active`` if ``user_id`` of ``team_id`` has a connection here, else ``away``
        (also for a user of another team: presence never crosses a workspace)."""
        subs = self._by_user.get(user_id)
        return "active" if subs and next(iter(subs)).team_id == team_id else "away"

    def remove(self, sub: Subscriber) -> None:
        self._left_early.pop(sub, None)
        for user_id in self._watching.pop(sub, ()):
            self._discard(self._watchers, user_id, sub)
        for channel in self._channels_of.pop(sub, ()):
            self._discard(self._by_channel, channel, sub)
        self._discard(self._by_user, sub.user_id, sub)
        self._discard(self._by_team, sub.team_id, sub)

    def follow(self, sub: Subscriber, channel: str) -> None:
        """``sub`` receives ``channel``'s events from now on (its user joined it)."""
        if sub in self._channels_of:
            self._follow(sub, channel)
            self._left_early.get(sub, set()).discard(channel)

    def unfollow(self, sub: Subscriber, channel: str) -> None:
        """``sub`` no longer receives ``channel``'s events."""
        self._discard(self._by_channel, channel, sub)
        channels = self._channels_of.get(sub)
        if channels is not None:
            channels.discard(channel)

    def routing_keys(self) -> Iterator[str]:
        """Every channel a local connection follows and every team one belongs to: the
        routing keys whose partitions this gateway must read."""
        return chain(self._by_channel, self._by_team)

    def followed(self, sub: Subscriber) -> frozenset[str]:
        """The channels ``sub`` follows now."""
        return frozenset(self._channels_of.get(sub, ()))

    def follows(self, sub: Subscriber, channel: str) -> bool:
        """Whether ``sub`` receives ``channel``'s events now."""
        channels = self._channels_of.get(sub)
        return channels is not None and channel in channels

    def connections_of(self, user_id: str) -> tuple[Subscriber, ...]:
        """``user_id``'s connections here."""
        return tuple(self._by_user.get(user_id, ()))

    def online(self, user_id: str) -> bool:
        return user_id in self._by_user

    def devices(self, user_id: str) -> int:
        """How many connections ``user_id`` has open here."""
        return len(self._by_user.get(user_id, ()))

    def offline(self, members: Iterable[str]) -> list[str]:
        """The members with no connection here: whom the push service should notify."""
        return [m for m in members if m not in self._by_user]

    def _follow(self, sub: Subscriber, channel: str) -> None:
        self._by_channel.setdefault(channel, set()).add(sub)
        self._channels_of[sub].add(channel)

    @staticmethod
    def _discard(index: dict[str, set[Subscriber]], key: str, sub: Subscriber) -> None:
        subs = index.get(key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del index[key]

    def deliver(self, event: Event) -> int:
        """Sends ``event`` to every local connection that should see it; returns how many.

        A join reaches the joiner's connections as a :data:`JOIN_NOTICE`, through
        their ``joined`` (which follows the channel and catches up from the store), and
        the channel's other members as ``member_joined_channel``; a leaver sees their
        own leave, then stops following; ``user_typing`` skips the typist;
        ``channel_created`` and ``channel_rename`` (public channels only) go to the
        whole team (``group_rename``, a private one's, to its members);
        ``presence_change`` goes to the connections of that team watching that user;
        an :data:`EPHEMERAL` message and a read mark (``channel_marked``, ...) only to
        their user's connections that follow the channel; an :data:`APP_REQUEST` and an
        ``app_home_opened`` or ``link_shared`` to one Socket Mode connection of its app's
        bot, in the channel or not (a direct message with the bot may be new to its gateway).
        """
        kind = event.type
        if kind == JOIN_NOTICE:
            joiners = [s for s in self._by_user.get(event.user, ()) if s.team_id == event.team]
            for sub in joiners:
                sub.joined(event)
            return len(joiners)
        if kind == "presence_change":
            watchers = self._watchers.get(event.user, ())
            targets: tuple[Subscriber, ...] = tuple(w for w in watchers if w.team_id == event.team)
        elif kind in _TO_THE_TEAM:
            targets = tuple(self._by_team.get(event.team, ()))
        elif kind in _TO_THEIR_USER:
            channels_of = self._channels_of
            mine = self._by_user.get(event.user, ())
            if kind in _TO_ONE_APP_CONNECTION:  # one of the app's Socket Mode connections
                apps = [s for s in mine if getattr(s, "SOCKET_MODE", False)]
                targets = tuple(apps[:1])
            else:
                targets = tuple(s for s in mine if event.channel in channels_of.get(s, ()))
        else:
            targets = tuple(self._by_channel.get(event.channel, ()))
        if kind in _NOT_TO_THEIR_USER:
            targets = tuple(sub for sub in targets if sub.user_id != event.user)
        for sub in targets:
            sub.deliver(event)
        sent = len(targets)
        if kind == "member_left_channel":
            for sub in tuple(self._by_user.get(event.user, ())):
                self._discard(self._by_channel, event.channel, sub)
                self._channels_of[sub].discard(event.channel)
                if sub in self._left_early:
                    self._left_early[sub].add(event.channel)
        return sent
