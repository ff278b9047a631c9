"""Scheduled messages (``chat.scheduleMessage``): kept durably until their time, then
posted through the send path, at least once and never twice.

A scheduled message is a record of the durable retry table (:mod:`parley.resilience`),
step :data:`STEP`, item ``<user id>/<scheduled id>``, due at its ``post_at``: the table
already gives what such work needs. A worker's loop (:meth:`Scheduler.start`, on nodes
that run workers) claims what is due, each claim leased so no other worker posts it
meanwhile and a worker that dies mid-post leaves it due again; the post carries the
scheduled id as its ``client_msg_id``, so a second attempt after a post that went through
finds the original instead of writing it again. A post the send path refuses (the channel
archived, the author no longer a member, the message rate-limited for good) is dropped
with a log line, as Slack drops it; a store that cannot take it is tried again with
backoff and, past its attempts, becomes a dead letter (``parley dlq``).

Posting at ``post_at`` happens within :attr:`Settings.schedule_interval` of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from parley.errors import ApiError, Code
from parley.pipeline.send import Sender
from parley.resilience.due import DueWork
from parley.resilience.retries import Backoff, Retry
from parley.resilience.store import RetryStore, failed_again
from parley.storage.interface import Directory
from parley.unfurl import links

log = logging.getLogger(__name__)

#: The retry table's step that holds scheduled messages.
STEP = "schedule"
#: How far ahead a message may be scheduled (Slack's: 120 days).
MAX_AHEAD_US = 120 * 86_400 * 1_000_000
#: How long a claim holds a due message.
LEASE_US = 60 * 1_000_000


class Scheduled(msgspec.Struct, frozen=True):
    """What a scheduled message will post, and when (Unix microseconds)."""

    id: str
    user: str
    channel: str
    text: str
    post_at: int
    created: int
    thread_ts: int | None = None
    reply_broadcast: bool = False
    rich: str | None = None


def item_of(user_id: str, scheduled_id: str) -> str:
    """The retry table's item for ``user_id``'s scheduled message: their messages share
    a prefix, so listing them is one range read."""
    return f"{user_id}/{scheduled_id}"


class Scheduler:
    """Schedules, lists and cancels (any node with the Web API), and posts what is due
    (:meth:`start`, on worker nodes) through ``sender``. ``clock_us`` gives the wall
    clock in Unix microseconds."""

    def __init__(
        self,
        retries: RetryStore,
        directory: Directory,
        sender: Sender,
        *,
        clock_us: Callable[[], int],
        interval: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._retries = retries
        self._directory = directory
        self._sender = sender
        self._clock_us = clock_us
        self._backoff = backoff or Backoff()
        self._work = DueWork(
            retries,
            STEP,
            self._post_one,
            clock_us=clock_us,
            interval=interval,
            lease_us=LEASE_US,
            what="scheduler",
        )

    async def add(self, scheduled: Scheduled) -> None:
        """Keeps ``scheduled`` until its time; ``time_in_past`` or ``time_too_far``
        (more than :data:`MAX_AHEAD_US` ahead) otherwise."""
        now = self._clock_us()
        if scheduled.post_at <= now:
            raise ApiError("time_in_past")
        if scheduled.post_at > now + MAX_AHEAD_US:
            raise ApiError("time_too_far")
        item = item_of(scheduled.user, scheduled.id)
        payload = msgspec.json.encode(scheduled)
        await self._retries.retry_later(Retry(STEP, item, payload, 0, scheduled.post_at, (), now))

    async def of(self, user_id: str, after: str, limit: int) -> list[Scheduled]:
        """``user_id``'s scheduled messages not yet posted, by id, after ``after``."""
        prefix = item_of(user_id, "")
        after_item = item_of(user_id, after) if after else ""
        records = await self._retries.waiting(STEP, prefix, after_item, limit)
        return [msgspec.json.decode(r.payload, type=Scheduled) for r in records]

    async def cancel(self, user_id: str, scheduled_id: str, channel: str | None = None) -> bool:
        """Cancels ``user_id``'s scheduled message (in ``channel``, when given); False
        when there is no such one (never scheduled, someone else's, in another channel,
        or already posted)."""
        item = item_of(user_id, scheduled_id)
        found = await self._retries.waiting(STEP, item, "", 1)
        if not found or found[0].item != item:
            return False
        kept = msgspec.json.decode(found[0].payload, type=Scheduled)
        if channel is not None and kept.channel != channel:
            return False
        await self._retries.retry_done(STEP, item)
        return True

    # -- the worker ----------------------------------------------------------------------

    def start(self) -> None:
        self._work.start()

    async def close(self) -> None:
        await self._work.close()

    async def post_due(self) -> int:
        """Posts the scheduled messages due now, each claimed first; how many were."""
        return await self._work.run_due()

    async def _post_one(self, record: Retry) -> None:
        scheduled = msgspec.json.decode(record.payload, type=Scheduled)
        user = await self._directory.user(scheduled.user)
        if user is None or user.deleted:
            await self._retries.retry_done(STEP, record.item)
            return
        try:  # its id as client_msg_id: a repeat finds the first post, writes nothing
            await self._sender.post(
                user,
                scheduled.channel,
                scheduled.text,
                thread_ts=scheduled.thread_ts,
                reply_broadcast=scheduled.reply_broadcast,
                client_msg_id=scheduled.id,
                rich=scheduled.rich,
                unfurl=links.wanted(user.is_bot, None, None),
            )
        except ApiError as exc:
            if exc.code == Code.RATELIMITED:
                await self._again(record, exc.code)
                return
            log.info("scheduled message %s dropped: %s", scheduled.id, exc.code)
        except Exception as exc:  # the store failing: later, with backoff
            await self._again(record, f"{type(exc).__name__}: {exc}")
            return
        await self._retries.retry_done(STEP, record.item)

    async def _again(self, record: Retry, error: str) -> None:
        now = self._clock_us()
        later, died = await failed_again(self._retries, record, error, now, self._backoff)
        if died:
            log.warning(
                "scheduled %s: a dead letter after %d attempts", record.item, later.attempts
            )
