"""The event-log contract (in-process now, NATS JetStream later).

Events are appended to one of P partitions chosen by a stable hash of the channel, so
one channel's events keep their order. Consumers read by cursor, ``(events,
next_offset)``, and commit the offset they have handled (manual acknowledgement): a
consumer that restarts resumes from its committed offset and may see events again
(at-least-once), never fewer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec


class Event(msgspec.Struct, frozen=True):
    """One event. ``payload`` is the Slack-shaped JSON, encoded once for every reader;
    ``seq`` is the message's channel sequence (0 for events that are not about one)."""

    type: str
    channel: str
    team: str
    seq: int
    ts: int
    payload: bytes
    #: The user the event is about, for membership and typing events ("" otherwise).
    user: str = ""
    #: The id of the request that made it (``parley.logs``), for the logs that follow it.
    rid: str = ""
    #: The message's id (its Snowflake) on a ``message`` event, which shows the message
    #: as stored: the search indexer's document key (0 on other events).
    message_id: int = 0


#: The copy of a ``member_joined_channel`` that goes to the joiner's gateway (see
#: :func:`routing_key`); never sent to a client as such.
JOIN_NOTICE = "member_joined_notice"

#: An ephemeral message (``chat.postEphemeral``): routed by its channel like the channel's
#: other events, handed only to the connections of the member it is for (the event's
#: ``user``), and never stored.
EPHEMERAL = "ephemeral_message"

#: A request for an app over Socket Mode (:mod:`parley.apps.commands`: a slash command,
#: a button pressed), its payload the envelope but for its id: routed by its team (the
#: bot need not follow the channel it came from), handed to one Socket Mode connection
#: of the app's bot (the event's ``user``) on each node, never stored.
APP_REQUEST = "app_request"

#: A person opened an app's home tab (Slack's ``app_home_opened``): named by their direct
#: message with the bot, but routed by its team as an app request is (the bot's gateway
#: may not read that direct message yet), for one Socket Mode connection of the app's bot
#: (the event's ``user``) or its Events API URL.
APP_HOME_OPENED = "app_home_opened"

#: A message's links on the unfurl domains of an app (Slack's ``link_shared``,
#: :mod:`parley.apps.unfurls`): named by the message's channel, but routed by its team
#: as an app request is (the bot need not be in the channel), for one Socket Mode
#: connection of the app's bot (the event's ``user``) or its Events API URL; never stored.
LINK_SHARED = "link_shared"

#: A person began a new chat with an app in their direct message with it (Parley's
#: ``assistant.threads.start``, the web client's New chat; Slack's event when its
#: assistant pane opens): for the app alone, named by the direct message.
ASSISTANT_THREAD_STARTED = "assistant_thread_started"

#: An app uninstalled (``apps.uninstall``): the tokens its installations got revoked
#: (Slack's ``tokens_revoked``), then ``app_uninstalled``; for the app alone, named by
#: no channel.
TOKENS_REVOKED = "tokens_revoked"
APP_UNINSTALLED = "app_uninstalled"

#: Events for one app alone, its bot the event's ``user``, in a channel or not.
TO_ONE_APP = frozenset(
    {APP_HOME_OPENED, LINK_SHARED, TOKENS_REVOKED, APP_UNINSTALLED, ASSISTANT_THREAD_STARTED}
)

#: Changes to the workspace every connection of the team hears, and every app of it:
#: a public channel made, renamed, archived or unarchived, a profile changed, a user
#: group made or changed, an emoji added or removed.
TEAM_CHANGES = frozenset(
    {
        "channel_created",
        "channel_rename",
        "channel_archive",
        "channel_unarchive",
        "user_change",
        "team_join",
        "subteam_created",
        "subteam_updated",
        "emoji_changed",
    }
)

#: Events about a whole workspace rather than one channel: routed by the team id.
TEAM_WIDE = TEAM_CHANGES | {"presence_change", JOIN_NOTICE, APP_REQUEST} | TO_ONE_APP


def routing_key(event: Event) -> str:
    """What picks ``event``'s partition: its channel, or its team for :data:`TEAM_WIDE`
    events. A gateway reads the partitions of the channels its clients follow and of
    the teams they belong to, and so gets every event any of them should see: a join
    is published twice, ``member_joined_channel`` in the channel's partition (for the
    members already there) and :data:`JOIN_NOTICE` in the team's (for the joiner, whose
    gateway may not read the channel's partition yet)."""
    return event.team if event.type in TEAM_WIDE else event.channel


class Batch(msgspec.Struct, frozen=True):
    events: tuple[Event, ...]
    next_offset: int
    #: True when the requested offset was older than what the log still retains and
    #: events were skipped; the reader must recover from the store.
    truncated: bool = False


class EventBus(Protocol):
    partitions: int
    #: Events given up before they reached the log (an unreachable log; subscribers get
    #: them from the store by ``seq``), since start.
    dropped: int
    #: Publish attempts that failed and were tried again, since start (the fan-out
    #: hand-off's retries).
    retried: int
    #: Readers' cursors opened again, since start, because the log could not be trusted
    #: to go on from where they were (a gap in what it sent, an error, silence); each
    #: goes on from the event after its last one read.
    reopened: int

    def queued(self) -> int:
        """Events published here and not yet in the log (the publish queue's depth)."""
        ...

    def lag(self) -> dict[tuple[str, int], int]:
        """Per ``(reader, partition)`` read here: the events still after its last read
        (0: caught up), as of that read."""
        ...

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    def partition_of(self, key: str) -> int:
        """The partition of a :func:`routing_key` (a channel or team id)."""
        ...

    async def release(self, partition: int, reader: str = "") -> None:
        """Frees what ``reader``'s reading of ``partition`` holds (it stops reading it)."""
        ...

    def publish(self, event: Event) -> None:
        """Appends ``event`` to the partition of its :func:`routing_key`. Order per
        channel (and per team for team-wide events) is call order."""
        ...

    async def end_offset(self, partition: int) -> int:
        """The offset the next event published to ``partition`` will have (at least)."""
        ...

    async def read(
        self, partition: int, offset: int, limit: int, timeout: float, reader: str = ""
    ) -> Batch:
        """Up to ``limit`` events from ``offset``; waits up to ``timeout`` s for the first.

        Readers of one process that read the same partition (the gateway's consumer,
        the indexer, the push worker) name themselves apart with ``reader``: a log that
        keeps a cursor per reader (JetStream's pull consumers) keeps one for each, so
        they never move each other's."""
        ...

    def committed(self, group: str, partition: int) -> int:
        """The offset ``group`` acknowledged last in ``partition`` (0 if never)."""
        ...

    async def fetch_committed(self, group: str, partition: int) -> int:
        """Like :meth:`committed`, but as stored now: another process of ``group`` may
        have moved it (a partition handed over between workers)."""
        ...

    def commit(self, group: str, partition: int, offset: int) -> None:
        """Acknowledges every event of ``partition`` before ``offset`` for ``group``."""
        ...


@runtime_checkable
class LocalTail(Protocol):
    """A log in this process that can hand a reader its events as they are published,
    in the publisher's own call, rather than waking a task to read them: one event-loop
    turn less between a commit and its delivery (the in-process bus)."""

    def tail(
        self, partition: int, offset: int, sink: Callable[[Batch], None], reader: str = ""
    ) -> Callable[[], None]:
        """Calls ``sink`` with the events of ``partition`` from ``offset`` on: at once
        with those already there, then from each :meth:`EventBus.publish` that appends
        one, before that call returns. ``sink`` runs on the publisher's thread and must
        not block; an exception it raises is logged, never the publisher's. A publish
        made while ``sink`` runs is handed over when it returns, in order. Returns the
        function that stops the tail."""
        ...
