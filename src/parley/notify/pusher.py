"""The push worker: mobile pushes for members who are offline, off the send path.

It reads the event log (consumer group ``push``), partition by partition, and for each
new message (``message`` events; edits, deletions and reactions push nobody):

1. finds who it concerns (:func:`parley.notify.policy.recipients`): the members it
   mentions, or every member for ``<!channel>``/``<!everyone>``; a message that
   mentions nobody costs no read at all;
2. keeps those who are members now and have no live connection on any gateway
   (:meth:`Presence.online`), never the sender;
3. holds the push of each one in Do Not Disturb (:meth:`Directory.hold_pushes`,
   durable), and sends the others' to every device they registered, through the
   provider of its platform (:mod:`parley.notify.apns`, :mod:`parley.notify.fcm`).

Every ``release_every`` seconds it looks for users with pushes held whose DND has
ended, takes their pushes (one worker gets each), drops those of channels they are no
longer in and of messages deleted since, and sends one summary per channel with the
newest message's text as it is now.

Sends run beside the reading, at most ``concurrency`` at once. A provider's answer
decides what follows (:class:`parley.notify.providers.Result`): a dead token forgets
the device; a 429, a 5xx, a network failure or an open circuit breaker records a
durable retry (:mod:`parley.resilience`), redone with backoff and jitter
(``Retry-After`` honoured) up to the attempt limit, then a dead letter; before each
retry the user's access to the channel is checked again. A message is pushed once per
worker even when the log delivers it twice (the republisher's repairs), and not at all
when it is older than ``stale`` seconds when read (a worker catching up after an outage
does not wake phones for old news).

Where it starts: from the group's committed offset when the log keeps one (JetStream),
else from the log's end. A batch's offset is committed only once each of its pushes was
sent or recorded as a retry, so a worker killed at any point loses none: the next one
does the batch again. A push it had already sent goes again then; it carries the same
per-message identity (:func:`parley.notify.payloads.collapse_id`), so the device
replaces the first with it and the person sees it once. Several workers split the
partitions (:mod:`parley.worker.ownership`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

import msgspec
import orjson

from parley.bus.interface import Event, EventBus
from parley.gateway.presence import Presence
from parley.ids import Kind, format_ts, parse_ts
from parley.metrics import Metrics, Row, counter
from parley.notify import policy
from parley.notify.devices import Device
from parley.notify.dnd import status
from parley.notify.payloads import Notice, summary
from parley.notify.prefs_cache import PREFS_TTL, PrefsCache
from parley.notify.providers import FAILED, GONE, RETRY, SENT, Provider, Result
from parley.resilience.board import Breakers
from parley.resilience.retries import (
    Backoff,
    Retry,
    after_failure,
    dead,
    first_failure,
    postponed,
    refused,
)
from parley.resilience.store import RetryStore, failed_again
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import CHANNEL_NOTICES
from parley.tasks import cancel_all, every
from parley.worker.ownership import Ownership, PartitionWorker

#: The id prefixes of direct and group direct messages: every message in them is pushed
#: to the members offline, as a mention is.
_DIRECT = (Kind.IM.value, Kind.MPIM.value)

log = logging.getLogger(__name__)

GROUP = "push"
#: The step's name in the retry table and the dead letters.
STEP = "push"
#: The reason of a push its provider's open circuit breaker refused (not attempted).
BREAKER_OPEN = "circuit breaker open"
#: Seconds a claimed retry is leased to the worker that claimed it.
LEASE = 60.0
#: Retries claimed at once.
RETRY_BATCH = 100
#: What becomes of pushes, as counted (``Pusher.counts``) and exposed at ``/metrics``.
OUTCOMES = (
    "sent",
    "gone",
    "failed",
    "retried",
    "dead_letters",
    "breaker_open",
    "held",
    "summaries",
    "no_provider",
)
#: Messages remembered as pushed, to skip a redelivery.
SEEN = 100_000
#: Attempts at reading what one message's pushes need before it becomes a dead letter
#: (so that a message that cannot be handled does not stop its partition for good).
MESSAGE_ATTEMPTS = 10
#: The suffix of a whole message's item in the retry table (a push's names a device).
MESSAGE_ITEM = ":message"
#: Seconds a channel's or user's name is reused before it is read again.
NAMES_TTL = 60.0


#: How a streamed answer's stored state reads in its event (``parley.streams``).
_STREAMING, _STOPPED = b'"state":"streaming"', b'"state":"stopped"'


def _pushable(event: Event) -> bool:
    """Whether ``event`` may be a push: a new message, but an app's streamed answer once
    it stops (its ``message_changed``), whole, rather than its first words when it
    starts. Each message is pushed once (:meth:`Pusher._pushed_before`), so an edit of
    a stopped answer is not pushed again. The bytes decide the common case."""
    if event.type == "message":
        return _STREAMING not in event.payload or _stream_state(event, "") != "streaming"
    if event.type == "message_changed" and _STOPPED in event.payload:
        return _stream_state(event, "message") == "stopped"
    return False


def _stream_state(event: Event, within: str) -> str | None:
    body = orjson.loads(event.payload)
    message = body.get(within) if within else body
    stream = message.get("stream") if isinstance(message, dict) else None
    return stream.get("state") if isinstance(stream, dict) else None


class PushItem(msgspec.Struct, frozen=True):
    """A push waiting to be retried: what redoing it needs."""

    device: Device
    notice: Notice

    def key(self) -> str:
        """Its identity in the retry table: the message, the platform and the token."""
        token = hashlib.sha256(self.device.token.encode()).hexdigest()[:32]
        return f"{self.notice.channel}:{self.notice.ts}:{self.device.platform}:{token}"


class Pusher(PartitionWorker):
    name = "pusher"

    def __init__(
        self,
        bus: EventBus,
        directory: Directory,
        store: MessageStore,
        presence: Presence,
        providers: Mapping[str, Provider],
        *,
        batch: int = 500,
        concurrency: int = 256,
        release_every: float = 1.0,
        stale: float = 3600.0,
        prefs_ttl: float = PREFS_TTL,
        clock: Callable[[], float] = time.time,
        ownership: Ownership | None = None,
        members: Callable[[str], Awaitable[frozenset[str]]] | None = None,
        retries: RetryStore | None = None,
        backoff: Backoff | None = None,
        breakers: Breakers | None = None,
        retry_every: float = 0.5,
        metrics: Metrics | None = None,
        message_attempts: int = MESSAGE_ATTEMPTS,
    ) -> None:
        super().__init__(bus, GROUP, ownership)
        #: A channel's members now: the directory, or a cache evicted on every change
        #: (``ChannelAccess.members``), which a message that concerns many costs least.
        self._members = members or directory.members
        #: Pushes that failed in a way that may pass wait here (the directory's table).
        self._retries: RetryStore = retries or directory  # type: ignore[assignment]
        self._backoff = backoff or Backoff()
        self._retry_every = retry_every
        #: One circuit breaker per provider, on the node's board and told its clock.
        board = breakers or Breakers()
        self._breakers = {p: board.get(f"push:{p}") for p in providers}
        self._breaker_clock = board.clock
        #: Attempts at one message's pushes before it becomes a dead letter.
        self._message_attempts = message_attempts
        #: The ``push`` stage: one call to a provider, its answer included.
        self._t_push = (metrics or Metrics()).stage["push"]
        self._directory = directory
        self._store = store
        self._presence = presence
        self._providers = dict(providers)
        self._batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self._release_every = release_every
        self._stale = stale
        self._clock = clock
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._names: dict[str, tuple[float, str]] = {}
        self._prefs = PrefsCache(directory, prefs_ttl)
        self._sends: set[asyncio.Task] = set()
        #: Pushes by what became of them (``sent``, ``gone``, ``failed``, ``given_up``,
        #: ``retried``, ``held``, ``summaries``, ``no_provider``), for benches and metrics.
        self.counts: dict[str, int] = {}

    def start(self) -> None:
        for seconds, work, name in (
            (self._release_every, self.release_held, "release"),
            (self._retry_every, self.retry_due, "retry"),
        ):
            loop = every(seconds, work, f"pusher: {name}")
            self._tasks.append(asyncio.create_task(loop, name=f"pusher-{name}"))
        self._start_partitions()

    async def close(self) -> None:
        await super().close()
        await cancel_all(list(self._sends))
        for provider in self._providers.values():
            await provider.close()

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def metric_rows(self) -> list[Row]:
        """Its figures for ``/metrics``: what became of pushes (``sent``, ``gone``,
        ``failed``, ``retried``, ``dead_letters``, ``breaker_open``, ``held``...). Its
        providers' circuit breakers are on the node's board (``push:apns``...)."""
        return [
            counter(
                "parley_push",
                "Pushes and what became of them.",
                [((k,), self.counts.get(k, 0)) for k in OUTCOMES],
                ["outcome"],
            ),
        ]

    # -- reading ----------------------------------------------------------------------------

    async def _follow(self, partition: int) -> None:
        offset = await self._start_offset(partition)
        while True:
            try:
                batch = await self._read(partition, offset, self._batch)
            except Exception:  # the log failing: the same read again
                log.exception("pusher: reading partition %d failed", partition)
                await asyncio.sleep(0.5)
                continue
            sends: list[asyncio.Task] = []
            for event in batch.events:
                if not _pushable(event) or self._pushed_before(event):
                    continue
                sends += await self._message_or_bury(event)
            if sends:  # committed once every push is sent, or is a durable retry
                await asyncio.wait(sends)
            offset = batch.next_offset
            self._bus.commit(GROUP, partition, offset)

    async def _message_or_bury(self, event: Event) -> list[asyncio.Task]:
        """:meth:`_message`, tried again while it fails (the directory failing); after
        ``message_attempts``, the message becomes a dead letter (``parley dlq``
        replays it) so its partition goes on. Never dropped: while even the dead letter
        cannot be written, it keeps trying."""
        errors: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._message(event)
            except Exception as exc:  # the directory failing: this message again
                where = (event.channel, event.ts)
                log.exception("pusher: message %s/%s failed", *where, extra={"rid": event.rid})
                errors.append(f"{type(exc).__name__}: {exc}")
            if attempt >= self._message_attempts:
                try:
                    await self._bury_message(event, errors)
                    return []
                except Exception:
                    log.exception("pusher: cannot record a dead letter; trying again")
            await asyncio.sleep(min(0.5 * attempt, 10.0))

    async def _bury_message(self, event: Event, errors: list[str]) -> None:
        now = self._now_us()
        item = f"{event.channel}:{format_ts(event.ts)}{MESSAGE_ITEM}"
        retry = first_failure(STEP, item, msgspec.json.encode(event), errors[0], now, self._backoff)
        for error in errors[1:]:
            retry, _ = after_failure(retry, error, now, self._backoff)
        await self._retries.bury(dead(retry, now))  # never a retry row: straight here
        self._count("dead_letters")
        log.warning("push: message %s given up after %d attempts: a dead letter", item, len(errors))

    def _pushed_before(self, event: Event) -> bool:
        key = (event.channel, event.ts)
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > SEEN:
            self._seen.popitem(last=False)
        return False

    async def _message(self, event: Event) -> list[asyncio.Task]:
        """Pushes (or holds) one new message for the offline members it concerns; the
        sends it started."""
        prefs = await self._prefs.current()
        direct = event.channel.startswith(_DIRECT)
        marked = b"<@" in event.payload or b"<!" in event.payload
        if not (direct or marked or prefs.anyone_wide):
            return []  # the common case, decided without decoding the event
        if self._clock() - event.ts / 1e6 > self._stale:
            return []
        body = orjson.loads(event.payload)
        if event.type == "message_changed":  # a streamed answer, stopped: as it now is
            body = body.get("message") or {}
        if body.get("subtype") in CHANNEL_NOTICES:
            return []  # a topic, purpose or name changed: in the channel, not pushed
        text, sender = body.get("text") or "", body.get("user") or ""
        grouped = await self._grouped(policy.subteams(text), event.team)
        everyone, named = policy.broadcast(text), policy.mentioned(text) | grouped
        wide = prefs.interested(text)  # users whose keywords it holds, or who want all
        if not (direct or everyone or named or wide):
            return []  # mentions nobody: no read at all
        members = await self._members(event.channel)
        concerned = (members if direct or everyone else (named | wide) & members) - {sender}
        if not concerned:
            return []
        online = await self._presence.online(event.team, concerned)
        offline = concerned - online
        targets = policy.recipients(
            text, sender, offline, prefs.of(offline), event.channel, direct, grouped
        )
        if not targets:
            return []
        group = event.channel.startswith(Kind.MPIM)  # titled by its members' names
        named_by = not direct or group
        channel_name = await self._name(event.channel, channel=True) if named_by else ""
        shown_as = body.get("username") if body.get("bot_id") else None  # a bot's own name
        sender_name = shown_as or (await self._name(sender, channel=False) if sender else "someone")
        notices = {
            user: Notice(
                channel=event.channel,
                channel_name=channel_name,
                ts=format_ts(event.ts),
                sender=sender,
                sender_name=sender_name,
                preview=policy.preview(text),
                reason=reason,
                direct=direct,
            )
            for user, reason in targets.items()
        }
        return await self._dispatch(notices)

    async def _dispatch(self, notices: Mapping[str, Notice]) -> list[asyncio.Task]:
        """Holds the notices of users in DND now; sends the others' (the sends)."""
        dnds, now = await self._directory.dnd(list(notices)), int(self._clock())
        resting = {u for u in notices if u in dnds and status(dnds[u], now).in_dnd}
        if resting:
            await self._directory.hold_pushes([(u, notices[u]) for u in sorted(resting)])
            self._count("held", len(resting))
        return await self._send_all({u: [n] for u, n in notices.items() if u not in resting})

    async def _grouped(self, group_ids: frozenset[str], team_id: str) -> frozenset[str]:
        """The members of the enabled user groups of ``team_id`` among ``group_ids``."""
        members: set[str] = set()
        for group_id in group_ids:
            group = await self._directory.group(group_id)
            if group is not None and group.team_id == team_id and not group.disabled:
                members.update(group.users)
        return frozenset(members)

    async def _name(self, ident: str, *, channel: bool) -> str:
        cached = self._names.get(ident)
        now = time.monotonic()
        if cached is not None and now - cached[0] < NAMES_TTL:
            return cached[1]
        if channel:
            found = await self._directory.channel(ident)
        else:
            found = await self._directory.user(ident)
        name = found.name if found is not None else ident
        self._names[ident] = (now, name)
        if len(self._names) > SEEN:
            self._names.clear()
        return name

    # -- sending ----------------------------------------------------------------------------

    async def _send_all(self, notices: Mapping[str, Sequence[Notice]]) -> list[asyncio.Task]:
        """Sends each user's notices to each of their devices (in the background, once a
        slot is free); the sends."""
        if not notices:
            return []
        return [
            await self._spawn(self._deliver(device, notice))
            for device in await self._directory.devices(list(notices))
            for notice in notices[device.user_id]
        ]

    async def _spawn(self, send: Coroutine[Any, Any, None]) -> asyncio.Task:
        await self._slots.acquire()
        task = asyncio.create_task(send)
        self._sends.add(task)
        task.add_done_callback(self._sent)
        return task

    def _sent(self, task: asyncio.Task) -> None:
        self._sends.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("pusher: a send failed", exc_info=task.exception())

    async def _deliver(self, device: Device, notice: Notice) -> None:
        """The first attempt at one push; if it may pass, a durable retry is recorded."""
        result = await self._attempt(device, notice)
        if result is not None and result.outcome == RETRY:
            item = PushItem(device, notice)
            key, payload, now = item.key(), msgspec.json.encode(item), self._now_us()
            if result.reason == BREAKER_OPEN:
                retry = refused(STEP, key, payload, result.reason, now, result.after or 0.0)
            else:
                retry = first_failure(
                    STEP, key, payload, result.reason, now, self._backoff, result.after
                )
            await self._retries.retry_later(retry)
            self._count("retried")

    async def _attempt(self, device: Device, notice: Notice) -> Result | None:
        """One attempt, through the provider's breaker (open: a retry, the provider not
        called); what the provider said is acted on. ``None``: no provider for it."""
        provider = self._providers.get(device.platform)
        if provider is None:
            self._count("no_provider")
            return None
        breaker, now = self._breakers[device.platform], self._breaker_clock()
        if not breaker.allow(now):
            self._count("breaker_open")
            return Result(RETRY, BREAKER_OPEN, breaker.retry_after(now))
        began = time.perf_counter()
        try:
            result = await provider.send(device, notice)
        except BaseException:
            breaker.cancel()
            raise
        self._t_push.observe(time.perf_counter() - began)
        breaker.record(result.outcome != RETRY, self._breaker_clock())
        if result.outcome == SENT:
            self._count("sent")
        elif result.outcome == GONE:
            self._count("gone")
            why = (device.platform, device.user_id, result.reason)
            log.info("push: %s device of %s is gone (%s)", *why)
            await self._directory.remove_device(device.platform, device.token, None)
        elif result.outcome == FAILED:
            self._count("failed")
            log.warning("push: %s refused a push: %s", device.platform, result.reason)
        return result

    # -- durable retries --------------------------------------------------------------------

    async def retry_due(self) -> int:
        """Attempts the pushes whose retry is due (each claimed for :data:`LEASE`
        seconds, so no other worker redoes it meanwhile); how many."""
        now = self._now_us()
        due = await self._retries.claim_due(STEP, now, RETRY_BATCH, now + int(LEASE * 1e6))
        for retry in due:
            await self._spawn(self._redo(retry))
        return len(due)

    async def _redo(self, retry: Retry) -> None:
        if retry.item.endswith(MESSAGE_ITEM):  # a whole message (replayed dead letter)
            await self._redo_message(retry)
            return
        item = msgspec.json.decode(retry.payload, type=PushItem)
        device, notice = item.device, item.notice
        if notice.channel not in await self._directory.member_channels(device.user_id):
            await self._retries.retry_done(STEP, retry.item)  # lost access meanwhile
            return
        result = await self._attempt(device, notice)
        if result is None or result.outcome != RETRY:
            await self._retries.retry_done(STEP, retry.item)
            return
        if result.reason == BREAKER_OPEN:  # not attempted: due again when it may be
            await self._retries.retry_later(postponed(retry, self._now_us(), result.after or 0))
            return
        later, died = await failed_again(
            self._retries, retry, result.reason, self._now_us(), self._backoff, result.after
        )
        self._count("dead_letters" if died else "retried")
        if died:
            why = (device.platform, later.attempts, result.reason)
            log.warning("push: %s gave up after %d attempts (%s): a dead letter", *why)

    async def _redo_message(self, retry: Retry) -> None:
        event = msgspec.json.decode(retry.payload, type=Event)
        try:
            sends = await self._message(event)
            if sends:
                await asyncio.wait(sends)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            _, died = await failed_again(self._retries, retry, error, self._now_us(), self._backoff)
            self._count("dead_letters" if died else "retried")
            return
        await self._retries.retry_done(STEP, retry.item)

    def _now_us(self) -> int:
        return int(self._clock() * 1e6)

    # -- Do Not Disturb ---------------------------------------------------------------------

    async def release_held(self) -> int:
        """Sends a summary per channel to each user whose DND has ended; how many users."""
        users = await self._directory.held_users()
        if not users:
            return 0
        dnds, now = await self._directory.dnd(users), int(self._clock())
        done = [u for u in users if u not in dnds or not status(dnds[u], now).in_dnd]
        for user in done:
            held = await self._directory.take_held(user)
            current = await self._still_readable(user, held)
            if current:
                notices = summary(current)
                self._count("summaries", len(notices))
                await self._send_all({user: notices})
        return len(done)

    async def _still_readable(self, user: str, held: Sequence[Notice]) -> list[Notice]:
        """``held`` without what ``user`` cannot read now (channels left, messages
        deleted), each preview made again from the message's text as it is now."""
        channels = await self._directory.member_channels(user)
        keep = [n for n in held if n.channel in channels]
        keys = [(n.channel, parse_ts(n.ts) or 0) for n in keep]
        now = {(m.channel, m.ts): m for m in await self._store.messages_at(keys)}
        out = []
        for n, key in zip(keep, keys, strict=True):
            m = now.get(key)
            if m is not None and not m.deleted:
                out.append(msgspec.structs.replace(n, preview=policy.preview(m.text)))
        return out
