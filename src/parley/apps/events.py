"""The Events API over HTTP: each app registered with a request URL (``parley app
events``) gets the events of the channels its bot is in POSTed to it, signed as Slack
signs them, so a Bolt app in HTTP mode (``App(signing_secret=...)``) works unmodified.

A worker (consumer group :data:`GROUP`, on nodes that run workers) reads the event log
from when the first app is registered (a node sees a registration within
:data:`APPS_TTL` seconds; until then it reads nothing, so a server without apps pays
nothing for them).
For each event of :data:`.APP_EVENTS` it finds the apps of the event's team whose bot is
a member of the channel (every app of the team for :data:`.TEAM_EVENTS`) and POSTs the
``event_callback`` (:func:`.event_callback`), with ``X-Slack-Request-Timestamp`` and
``X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")``. A 2xx answer
delivers it. Anything else, a timeout (:data:`TIMEOUT`) or a refused connection becomes
a durable retry (step :data:`STEP`): sent again with backoff, ``X-Slack-Retry-Num`` and
``X-Slack-Retry-Reason`` (``http_timeout``, ``http_error``, ``connection_failed``), up to
the step's attempts, then a dead letter (``parley dlq``). Each app has a circuit breaker
(``events:<bot user id>``): while an app is failing its events wait for it as retries.
A batch's events go out at once, so an app that does not answer costs the others at most
its timeout per batch (and nothing once its breaker is open); as with Slack, an app may
get a channel's events out of order and must not rely on it. A partition's offset is
committed once each of its events is delivered or durably waiting, so a worker that dies
redoes at most that batch (an app may get an event twice: its ``event_id`` tells).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import httpx
import msgspec
import orjson

from parley.apps.callback import (
    APP_EVENTS,
    MESSAGE_EVENTS,
    TEAM_EVENTS,
    channel_type,
    derived,
    event_callback,
    type_by_id,
)
from parley.bus.interface import TO_ONE_APP, Event, EventBus
from parley.errors import ParleyError
from parley.metrics import Row, counter
from parley.resilience.board import Breakers
from parley.resilience.retries import Backoff, Retry, first_failure, postponed, refused
from parley.resilience.store import RetryStore, failed_again
from parley.storage.interface import Directory
from parley.storage.models import EventApp, User
from parley.tasks import every
from parley.worker.ownership import Ownership, PartitionWorker

log = logging.getLogger(__name__)

#: The consumer group of the Events API's deliveries.
GROUP = "events"
#: The retry table's step of deliveries that failed.
STEP = "events"
#: Seconds an app has to answer (Slack's: 3).
TIMEOUT = 3.0
#: Seconds the list of registered apps is reused before it is read again.
APPS_TTL = 5.0
#: Channels whose kind the worker remembers before it forgets them all.
MAX_TYPES = 100_000
#: Why a delivery was not attempted: its app's circuit breaker is open.
BREAKER_OPEN = "breaker_open"
#: What became of deliveries, for ``/metrics``.
OUTCOMES = ("delivered", "retried", "dead_letters", "breaker_open")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` and the hex HMAC-SHA256 of ``v0:ts:body``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def new_secret() -> str:
    """A signing secret, as long as Slack's (32 hex digits)."""
    return secrets.token_hex(16)


class Delivery(msgspec.Struct, frozen=True):
    """One event for one app, as a retry keeps it."""

    app: str  # the app's bot user id
    event_id: str
    body: bytes  # the encoded event_callback


class EventsWorker(PartitionWorker):
    name = "events"

    def __init__(
        self,
        bus: EventBus,
        directory: Directory,
        members: Callable[[str], Awaitable[frozenset[str]]],
        *,
        retries: RetryStore,
        breakers: Breakers,
        backoff: Backoff | None = None,
        ownership: Ownership | None = None,
        clock: Callable[[], float] = time.time,
        retry_every: float = 0.5,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(bus, GROUP, ownership)
        self._directory = directory
        self._members = members
        self._retries = retries
        self._board = breakers
        self._backoff = backoff or Backoff(attempts=4)  # the first and Slack's 3 retries
        self._clock = clock
        self._retry_every = retry_every
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT)
        self._apps: tuple[float, dict[str, EventApp], dict[str, User]] = (0.0, {}, {})
        #: The ``channel_type`` of ``C…`` channels apps got messages of, at most
        #: :data:`MAX_TYPES`.
        self._types: dict[str, str] = {}
        #: Deliveries by what became of them (:data:`OUTCOMES`).
        self.counts: dict[str, int] = {}
        self._started = False  # reading the log (since the first app was registered)
        #: Where reading each partition starts, when known before its task does.
        self._positions: dict[int, int] = {}

    def start(self) -> None:
        """Retries at once; the event log is read from when the first app is registered
        (until then the worker reads nothing: no log reads, no consumer on JetStream)."""
        retrying = every(self._retry_every, self.retry_due, "events: retrying")
        self._tasks.append(asyncio.create_task(retrying, name="events-retry"))
        self._tasks.append(asyncio.create_task(self._first_app(), name="events-first-app"))

    async def _first_app(self) -> None:
        while not await self.reload():
            await asyncio.sleep(APPS_TTL)

    async def reload(self) -> bool:
        """Reads the registered apps now (``parley app events`` just ran), and starts
        reading the log if it had not and there is one; whether there is one."""
        try:
            apps, _users = await self._registered(fresh=True)
        except Exception:  # the directory failing: the next look
            log.exception("events: reading the registered apps failed")
            return False
        if apps and not self._started:
            self._started = True
            if self._ownership is None:  # positioned now: all published from here is read
                for partition in range(self._partitions):
                    self._positions[partition] = await self._start_offset(partition)
            self._start_partitions()
        return bool(apps)

    async def close(self) -> None:
        await super().close()
        await self._client.aclose()

    def metric_rows(self) -> list[Row]:
        return [
            counter(
                "parley_app_events",
                "Events API deliveries over HTTP and what became of them.",
                [((k,), self.counts.get(k, 0)) for k in OUTCOMES],
                ["outcome"],
            )
        ]

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # -- reading ----------------------------------------------------------------------------

    async def _follow(self, partition: int) -> None:
        offset = self._positions.pop(partition, None)
        if offset is None:
            offset = await self._start_offset(partition)
        while True:
            try:
                batch = await self._read(partition, offset, 500)
                apps, users = await self._registered()
                if apps:  # (the directory may answer none for a while: a read, nothing more)
                    await asyncio.gather(
                        *(
                            self._event(event, apps, users)
                            for event in batch.events
                            if event.type in APP_EVENTS
                        )
                    )
            except Exception:  # the log or the directory failing: the same batch again
                log.exception("events: partition %d failed", partition)
                await asyncio.sleep(0.5)
                continue
            offset = batch.next_offset
            self._bus.commit(GROUP, partition, offset)

    async def _registered(self, fresh: bool = False) -> tuple[dict[str, EventApp], dict[str, User]]:
        """The registered apps and their bot users, by bot user id (read every
        :data:`APPS_TTL` seconds, or now when ``fresh``)."""
        read_at, apps, users = self._apps
        if fresh or self._clock() - read_at > APPS_TTL:
            apps = {a.user_id: a for a in await self._directory.event_apps()}
            users = {}
            for user_id in apps:
                user = await self._directory.user(user_id)
                if user is not None and not user.deleted:
                    users[user_id] = user
            self._apps = (self._clock(), apps, users)
        return apps, users

    async def _event(self, event: Event, apps: dict[str, EventApp], users: dict[str, User]) -> None:
        """Delivers ``event`` to the apps it concerns (each a first attempt, or a durable
        retry), all at once."""
        team = [a for a in apps.values() if a.team_id == event.team and a.user_id in users]
        if event.type in TO_ONE_APP:  # its bot's alone, in the channel or not
            team = [a for a in team if a.user_id == event.user]
        elif event.type not in TEAM_EVENTS:
            members = await self._members(event.channel)
            team = [a for a in team if a.user_id in members]
        sends = [self._first(a, users[a.user_id], event) for a in team]
        for a in team:  # and what each app gets beside it: app_mention, metadata
            sends += [self._first(a, users[a.user_id], e) for e in derived(event, a.user_id)]
        await asyncio.gather(*sends)

    # -- delivering -------------------------------------------------------------------------

    async def _channel_type(self, event: Event) -> str | None:
        """The ``channel_type`` of ``event``'s channel, remembered (a channel's kind never
        changes); ``None`` when it cannot be read now (the event goes without it)."""
        kind = type_by_id(event.channel) or self._types.get(event.channel)
        if kind is None:
            try:
                channel = await self._directory.channel(event.channel)
            except ParleyError:
                return None
            if channel is None:
                return None
            if len(self._types) >= MAX_TYPES:
                self._types.clear()
            kind = self._types[event.channel] = channel_type(channel)
        return kind

    async def _first(self, app: EventApp, bot: User, event: Event) -> None:
        event_id = f"Ev{secrets.token_hex(8).upper()}"
        kind = await self._channel_type(event) if event.type in MESSAGE_EVENTS else None
        body = orjson.dumps(event_callback(event, bot, event_id, kind))
        delivery = Delivery(app.user_id, event_id, body)
        failure, wait = await self._post(app, delivery, 0, "")
        if failure is None:
            return
        now, item = self._now_us(), f"{app.user_id}/{event_id}"
        payload = msgspec.json.encode(delivery)
        if failure == BREAKER_OPEN:  # not attempted: due when the breaker lets one by
            record = refused(STEP, item, payload, failure, now, wait)
        else:
            record = first_failure(STEP, item, payload, failure, now, self._backoff)
        await self._retries.retry_later(record)
        self._count("retried")

    async def _post(
        self, app: EventApp, d: Delivery, attempt: int, reason: str
    ) -> tuple[str | None, float]:
        """One POST of ``d`` to ``app``: ``(None, 0)`` once delivered, else why not (the
        reason Slack names in ``X-Slack-Retry-Reason``: ``http_timeout``, ``http_error``,
        ``connection_failed``; or :data:`BREAKER_OPEN`, not attempted, with the seconds
        until the app's breaker lets a call by)."""
        breaker = self._board.get(f"events:{app.user_id}")
        if not breaker.allow(self._board.clock()):
            self._count("breaker_open")
            return BREAKER_OPEN, breaker.retry_after(self._board.clock())
        stamp = str(int(self._clock()))
        headers = {
            "content-type": "application/json",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature(app.signing_secret, stamp, d.body),
        }
        if attempt:
            headers["x-slack-retry-num"] = str(attempt)
            headers["x-slack-retry-reason"] = reason
        try:
            answer = await self._client.post(app.request_url, content=d.body, headers=headers)
        except httpx.TimeoutException:
            failure: str | None = "http_timeout"
        except httpx.HTTPError:
            failure = "connection_failed"
        except asyncio.CancelledError:
            breaker.cancel()
            raise
        else:
            failure = None if 200 <= answer.status_code < 300 else "http_error"
        breaker.record(failure is None, self._board.clock())
        if failure is None:
            self._count("delivered")
        return failure, 0.0

    async def retry_due(self) -> int:
        """Sends again the deliveries whose retry is due (each claimed for a minute, so
        no other worker sends it meanwhile), all at once: an app that takes its
        :data:`TIMEOUT` to fail does not hold up the others' retries. How many; the
        first error of the store's, once every one has been tried."""
        now = self._now_us()
        due = await self._retries.claim_due(STEP, now, 100, now + 60_000_000)
        apps, _users = await self._registered()
        outcomes = await asyncio.gather(
            *(self._retry(record, apps) for record in due), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(due)

    async def _retry(self, record: Retry, apps: dict[str, EventApp]) -> None:
        d = msgspec.json.decode(record.payload, type=Delivery)
        app = apps.get(d.app)
        if app is None:  # the app no longer gets events: nothing to deliver to
            await self._retries.retry_done(STEP, record.item)
            return
        reason = record.errors[-1].split(" ", 1)[-1] if record.errors else "http_error"
        failure, wait = await self._post(app, d, record.attempts, reason)
        if failure is None:
            await self._retries.retry_done(STEP, record.item)
        elif failure == BREAKER_OPEN:
            await self._retries.retry_later(postponed(record, self._now_us(), wait))
        else:
            later, died = await failed_again(
                self._retries, record, failure, self._now_us(), self._backoff
            )
            self._count("dead_letters" if died else "retried")
            if died:
                log.warning("events: %s given up after %d attempts", record.item, later.attempts)

    def _now_us(self) -> int:
        return int(self._clock() * 1e6)
