"""Reminders: Slack's ``reminders.add``, ``list``, ``info``, ``complete`` and ``delete``,
and ``/remind me to stretch in 10 minutes`` in the web client.

A reminder is a record of the durable retry table (:mod:`parley.resilience`), step
:data:`STEP`, item ``<user id>/<reminder id>``, due at its time, as scheduled messages
are (:mod:`parley.pipeline.schedule`): a worker claims what is due (leased, so no other
worker delivers it meanwhile) and Slackbot says it in the person's direct message with
Slackbot ("Reminder: stretch."), through the send path with the reminder's id and time as
the post's ``client_msg_id``, so a second attempt finds the first post. A recurring one
is then due at its next time; a one-time one stays listed, its time past, until the
person marks it complete or deletes it (as Slack keeps them). Slackbot is a bot user of
the workspace with an id of its own derived from the workspace's (:func:`slackbot_id`),
made the first time a reminder of the workspace is due.

Reminders are a person's own (Slack no longer sets them for others): ``user`` may only
name the caller. Times are read by :mod:`parley.pipeline.when`, in the caller's UTC
offset (Parley's ``tz_offset`` argument, minutes east; UTC without it).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable

import msgspec

from parley.api.methods.ims import Ims
from parley.errors import ApiError, Code
from parley.ids import Kind, Snowflake, base32, encode_id
from parley.pipeline import when as when_
from parley.pipeline.send import Sender
from parley.resilience.due import DueWork
from parley.resilience.retries import Backoff, Retry
from parley.resilience.store import RetryStore, failed_again
from parley.storage.interface import Directory
from parley.storage.models import User

log = logging.getLogger(__name__)

STEP = "reminder"
#: Where a reminder that is not due again waits: past any time it could be due.
NEVER = 1 << 62
#: How long a claim holds a due reminder.
LEASE_US = 60 * 1_000_000
#: How many reminders a person may keep.
MOST = 1000
SLACKBOT = "slackbot"


class Reminder(msgspec.Struct, frozen=True):
    """A person's reminder; times in Unix seconds."""

    id: str
    user: str
    text: str
    time: int
    created: int
    recurrence: dict | None = None
    complete_ts: int = 0
    #: The person's UTC offset when they set it (minutes east): a recurring one keeps
    #: its local time of day.
    offset: int = 0


def shown(r: Reminder) -> dict:
    """Slack's reminder object."""
    out = {
        "id": r.id,
        "creator": r.user,
        "user": r.user,
        "text": r.text,
        "recurring": bool(r.recurrence),
    }
    if r.recurrence:
        out["recurrence"] = r.recurrence
    else:
        out["time"] = r.time
        out["complete_ts"] = r.complete_ts
    return out


def slackbot_id(team_id: str) -> str:
    """The id of the workspace's Slackbot: the same on every node."""
    digest = hashlib.sha256(f"slackbot:{team_id}".encode()).digest()
    return encode_id(Kind.USER, int.from_bytes(digest[:8], "big") >> 1)


def _item(user_id: str, reminder_id: str) -> str:
    return f"{user_id}/{reminder_id}"


class Reminders:
    """Keeps people's reminders (any node with the Web API) and delivers what is due
    (:meth:`start`, on worker nodes). ``clock_us`` gives the wall clock, Unix µs."""

    def __init__(
        self,
        retries: RetryStore,
        directory: Directory,
        sender: Sender,
        ims: Ims,
        ids: Snowflake,
        *,
        clock_us: Callable[[], int],
        interval: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._retries = retries
        self._directory = directory
        self._sender = sender
        self._ims = ims
        self._ids = ids
        self._clock_us = clock_us
        self._backoff = backoff or Backoff()
        self._work = DueWork(
            retries,
            STEP,
            self._deliver,
            clock_us=clock_us,
            interval=interval,
            lease_us=LEASE_US,
            what="reminders",
        )

    def _now(self) -> int:
        return self._clock_us() // 1_000_000

    async def add(
        self,
        user: User,
        text: str,
        time: str | None,
        recurrence: dict | None,
        offset: int,
    ) -> Reminder:
        """A new reminder of ``text`` at ``time`` (see :mod:`.when`); without ``time``,
        ``text`` ends with it (``/remind``'s ``to stretch in 10 minutes``)."""
        now = self._now()
        if time is None:
            found = when_.split(text, now, offset)
            if found is None:
                raise ApiError("cannot_parse", data={"detail": "no time at the end of the text"})
            text, due = found
        else:
            parsed = when_.parse(time, now, offset)
            if parsed is None:
                raise ApiError("cannot_parse")
            due = parsed
        if recurrence:
            due = when_.When(due.at, _recurrence(recurrence))
        if len(await self.of(user.id)) >= MOST:
            raise ApiError("too_many_reminders")
        reminder = Reminder(
            id="Rm" + base32(self._ids.next()),
            user=user.id,
            text=text,
            time=due.at,
            created=now,
            recurrence=due.recurrence or None,
            offset=offset,
        )
        await self._keep(reminder, due.at * 1_000_000)
        return reminder

    async def of(self, user_id: str) -> list[Reminder]:
        """``user_id``'s reminders, by id."""
        records = await self._retries.waiting(STEP, _item(user_id, ""), "", MOST + 1)
        return [msgspec.json.decode(r.payload, type=Reminder) for r in records]

    async def get(self, user_id: str, reminder_id: str | None) -> Reminder:
        """One of ``user_id``'s reminders; ``not_found`` otherwise."""
        item = _item(user_id, reminder_id or "")
        found = await self._retries.waiting(STEP, item, "", 1) if reminder_id else []
        if not found or found[0].item != item:
            raise ApiError(Code.NOT_FOUND)
        return msgspec.json.decode(found[0].payload, type=Reminder)

    async def complete(self, user_id: str, reminder_id: str | None) -> None:
        reminder = await self.get(user_id, reminder_id)
        if reminder.recurrence:
            raise ApiError("cannot_complete_recurring")
        if reminder.complete_ts:
            raise ApiError("already_complete")
        await self._keep(msgspec.structs.replace(reminder, complete_ts=self._now()), NEVER)

    async def delete(self, user_id: str, reminder_id: str | None) -> None:
        reminder = await self.get(user_id, reminder_id)
        await self._retries.retry_done(STEP, _item(user_id, reminder.id))

    async def _keep(self, r: Reminder, due_us: int, attempts: int = 0) -> None:
        payload = msgspec.json.encode(r)
        item = _item(r.user, r.id)
        await self._retries.retry_later(Retry(STEP, item, payload, attempts, due_us, (), 0))

    # -- the worker ----------------------------------------------------------------------

    def start(self) -> None:
        self._work.start()

    async def close(self) -> None:
        await self._work.close()

    async def _deliver(self, record: Retry) -> None:
        r = msgspec.json.decode(record.payload, type=Reminder)
        user = await self._directory.user(r.user)
        if user is None or user.deleted:
            await self._retries.retry_done(STEP, record.item)
            return
        try:
            bot = await self._slackbot(user.team_id)
            dm, _ = await self._ims.open(bot, user.id)
            await self._sender.post(
                bot, dm.id, f"Reminder: {r.text}.", client_msg_id=f"{r.id}-{r.time}"
            )
        except Exception as exc:  # the store failing, or rate-limited: later, with backoff
            later, died = await failed_again(
                self._retries,
                record,
                f"{type(exc).__name__}: {exc}",
                self._clock_us(),
                self._backoff,
            )
            if died:
                log.warning("reminder %s: a dead letter after %d attempts", r.id, later.attempts)
            return
        if not await self._retries.waiting(STEP, record.item, "", 1):
            return  # deleted while it was being said
        nxt = when_.following(when_.When(r.time, r.recurrence or {}), r.offset)
        if nxt is None:
            await self._keep(r, NEVER)  # said: listed until completed or deleted
        else:
            await self._keep(msgspec.structs.replace(r, time=nxt), nxt * 1_000_000)

    async def _slackbot(self, team_id: str) -> User:
        """The workspace's Slackbot, made the first time it is needed."""
        ident = slackbot_id(team_id)
        found = await self._directory.user(ident)
        if found is not None:
            return found
        bot = User(
            id=ident,
            team_id=team_id,
            name=SLACKBOT,
            real_name="Slackbot",
            is_bot=True,
            bot_id="B" + ident[1:],
            rate_limit=100.0,
            created=self._clock_us(),
        )
        for name in (SLACKBOT, f"{SLACKBOT}-{ident[1:7].lower()}"):  # a person's name first
            try:
                # a token no one holds: only the server speaks as Slackbot
                return await self._directory.create_user(
                    msgspec.structs.replace(bot, name=name), secrets.token_bytes(32)
                )
            except ApiError as exc:
                if exc.code != Code.NAME_TAKEN:
                    raise
                found = await self._directory.user(ident)  # made at once elsewhere
                if found is not None:
                    return found
        raise ApiError(Code.NAME_TAKEN)


def _recurrence(value: dict) -> dict:
    """Slack's ``recurrence`` argument, checked."""
    frequency = value.get("frequency") if isinstance(value, dict) else None
    if frequency not in ("daily", "weekly", "monthly", "yearly"):
        raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": "recurrence.frequency"})
    if frequency != "weekly":
        return {"frequency": frequency}
    days = value.get("weekdays")
    if not isinstance(days, list) or not days or any(d not in when_.DAYS for d in days):
        raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": "recurrence.weekdays"})
    return {"frequency": "weekly", "weekdays": sorted(set(days), key=when_.DAYS.index)}
