"""The event log on NATS JetStream: durable, shared by every node, partitioned by channel.

One stream (``<name>``) whose subjects carry the partition, ``<name>.p.<i>``, ``i`` the
stable hash of the channel (as Kafka partitions the seed's log; of the team for
workspace-wide events, see :func:`~parley.bus.interface.routing_key`), so one channel's
events keep their order. Offsets are the stream's sequence numbers: a partition's events are
read in order from any offset, and ``next_offset`` is one past the last event returned.

- **Publish** stays synchronous for the send path (it is called after the durable
  write, on the event loop): events go to a queue per partition and one task per
  partition publishes them in order, each with a ``Nats-Msg-Id`` made of the event's
  identity, so a publish retried after a failure is stored once (JetStream's
  de-duplication window). While NATS is unreachable the queues hold up to
  ``max_pending`` events per partition and retry with backoff; past that the oldest are
  dropped with an error, as is an event refused :data:`MAX_ATTEMPTS` times (subscribers
  recover them from the store by ``seq``, and the worker's republisher from the
  shards). Publishes go through the ``event_log`` circuit breaker: while it is open the
  publishers wait for it without using attempts.
- **Read** uses one ephemeral pull consumer per reader (named by ``reader``: the
  gateway's consumer, the indexer, the push worker and the republisher each have their
  own) and partition, filtered to the partition's subject and started at the requested
  offset (re-created when a reader jumps, or when its feed finds a gap or loses the
  server; dropped by :meth:`JetStreamBus.release` when it stops), with a standing pull
  request whose events queue in a :class:`~parley.bus.feed.Feed` until read (see
  there). ``truncated`` is set
  when the offset is older than what the stream still retains (by age or size,
  ``max_age`` / ``max_bytes``).
- **Commit** keeps each group's offsets in a JetStream key-value bucket, written by a
  background task at most every ``commit_interval`` seconds (last value wins), so a
  restarted consumer resumes where its group left off. A second by default: each write
  is a JetStream publish, and at a tenth of a second a fleet's readers (every gateway's
  consumer, the indexer, the push worker and the republisher, each per partition) wrote
  about a third as many as the events themselves; a reader that dies does at most a
  second more of its idempotent work again.

Retention: ``max_age`` seconds (default a day) and ``max_bytes`` (default 1 GiB).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import deque

import msgspec
import nats
from nats.js import api
from nats.js.errors import KeyNotFoundError, NotFoundError

from parley.bus.feed import Feed
from parley.bus.interface import Batch, Event, routing_key
from parley.bus.offsets import Offsets
from parley.errors import ConfigError
from parley.resilience.board import Breakers
from parley.storage.router import partition_for
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

#: Publish attempts per event before it is dropped (about a minute and a half of backoff).
MAX_ATTEMPTS = 50
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Event).decode


#: The publish backoff's jitter (its own generator, not the global one).
_JITTER = random.Random()
#: The name of the event log's circuit breaker.
BREAKER = "event_log"
#: JetStream's API subject prefix (no domain).
_JS_API = "$JS.API"


class _LogDown(Exception):
    """The event log's breaker is open: publish again in ``wait`` seconds."""

    def __init__(self, name: str, wait: float) -> None:
        super().__init__(f"{name}: circuit breaker open")
        self.wait = wait


def message_id(event: Event) -> str:
    """The event's identity for de-duplication: the same event always gets the same id."""
    return f"{event.type}:{event.channel}:{event.seq}:{event.ts}:{event.user}"


class JetStreamBus:
    """:class:`~parley.bus.interface.EventBus` on a JetStream stream."""

    def __init__(
        self,
        url: str,
        partitions: int,
        *,
        name: str = "PARLEY",
        max_age: float = 86_400.0,
        max_bytes: int = 1 << 30,
        replicas: int = 1,
        max_pending: int = 100_000,
        commit_interval: float = 1.0,
        connect_wait: float = 5.0,
        breakers: Breakers | None = None,
    ) -> None:
        self.partitions = partitions
        #: The node's circuit breakers: publishes go through ``event_log``; while it is
        #: open the publishers wait for it (their events queued) instead of each
        #: retrying, and a wait on it uses none of an event's attempts.
        self._breakers = breakers or Breakers()
        self._breakers.get(BREAKER)
        self._url = url
        self._name = name
        self._max_age = max_age
        self._max_bytes = max_bytes
        self._replicas = replicas
        self._max_pending = max_pending
        self.dropped = 0
        self.retried = 0
        self.reopened = 0
        self._lag: dict[tuple[str, int], int] = {}
        self._commit_interval = commit_interval
        self._connect_wait = connect_wait
        self._nc: nats.NATS | None = None
        self._js = None
        self._kv = None
        self._outbox: list[deque[Event]] = [deque() for _ in range(partitions)]
        self._wake: list[asyncio.Event] = []
        self._tasks: list[asyncio.Task] = []
        #: Per ``(reader, partition)``: its feed (a consumer with a standing request).
        self._readers: dict[tuple[str, int], Feed] = {}
        self._first: tuple[int, float] = (0, float("-inf"))  # (first_seq, when read)
        self._offsets = Offsets()
        self._dirty: set[tuple[str, int]] = set()

    def _subject(self, partition: int) -> str:
        return f"{self._name}.p.{partition}"

    async def start(self) -> None:
        """Connects, creates (or updates) the stream and the offsets bucket, loads the
        committed offsets and starts the publishers. An unreachable NATS fails start-up."""

        async def quiet(exc: Exception) -> None:  # nats-py logs whole tracebacks otherwise
            log.warning("NATS: %s", exc)

        try:  # once up, it reconnects forever; the first connection gets connect_wait
            self._nc = await asyncio.wait_for(
                nats.connect(
                    self._url,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    error_cb=quiet,
                ),
                self._connect_wait,
            )
        except Exception as exc:  # nats raises several kinds for an unreachable server
            raise ConfigError(f"PARLEY_BUS_URL={self._url}: unreachable ({exc!r})") from exc
        self._js = self._nc.jetstream()
        config = api.StreamConfig(
            name=self._name,
            subjects=[f"{self._name}.p.*"],
            max_age=self._max_age,
            max_bytes=self._max_bytes,
            duplicate_window=120.0,
            storage=api.StorageType.FILE,
            num_replicas=self._replicas,
        )
        try:
            await self._js.add_stream(config)
        except Exception:  # exists with other limits: bring it to these
            await self._js.update_stream(config)
        self._kv = await self._js.create_key_value(
            bucket=f"{self._name}_offsets", history=1, replicas=self._replicas
        )
        for key in await self._keys():
            entry = await self._kv.get(key)
            group, _, partition = key.rpartition(".")
            self._offsets.advance(group, int(partition), int(entry.value))
        loop = asyncio.get_running_loop()
        self._wake = [asyncio.Event() for _ in range(self.partitions)]
        self._tasks = [
            loop.create_task(self._publisher(p), name=f"jetstream-pub-{p}")
            for p in range(self.partitions)
        ]
        self._tasks.append(loop.create_task(self._commit_loop(), name="jetstream-commits"))

    async def _keys(self) -> list[str]:
        try:
            return await self._kv.keys()
        except (NotFoundError, KeyNotFoundError, nats.js.errors.NoKeysError):
            return []

    async def flushed(self, timeout: float = 5.0) -> bool:
        """Waits until every queued event is published; ``False`` if ``timeout`` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(self._outbox):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def close(self) -> None:
        """Publishes what is queued (up to a few seconds), saves the offsets, disconnects."""
        await self.flushed()
        with contextlib.suppress(Exception):
            await self._save_commits()
        await cancel_all(self._tasks)
        for feed in self._readers.values():
            await self._drop(feed)
        self._readers.clear()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            await self._nc.close()
            self._nc = None

    # -- publishing -------------------------------------------------------------------

    def partition_of(self, key: str) -> int:
        return partition_for(key, self.partitions)

    def queued(self) -> int:
        return sum(len(box) for box in self._outbox)

    def lag(self) -> dict[tuple[str, int], int]:
        return dict(self._lag)

    def publish(self, event: Event) -> None:
        p = partition_for(routing_key(event), self.partitions)
        box = self._outbox[p]
        box.append(event)
        if len(box) > self._max_pending:
            dropped = box.popleft()
            self.dropped += 1
            log.error("event log unreachable: dropped %s of %s", dropped.type, dropped.channel)
        self._wake[p].set()

    async def _publisher(self, p: int) -> None:
        box, wake, subject = self._outbox[p], self._wake[p], self._subject(p)
        backoff, attempts = 0.05, 0
        while True:
            if not box:
                wake.clear()
                await wake.wait()
                continue
            event = box[0]
            send = functools.partial(
                self._js.publish,
                subject,
                _encode(event),
                headers={"Nats-Msg-Id": message_id(event)},
            )
            try:
                await self._breakers.run(BREAKER, send, failures=(Exception,), refused=_LogDown)
            except _LogDown as down:  # the breaker is open: wait for it, events queued
                await asyncio.sleep(max(down.wait, 0.05))
                continue
            except Exception as exc:  # NATS down or slow: keep the order, retry
                attempts += 1
                if attempts < MAX_ATTEMPTS:
                    log.warning("publishing to %s failed (%s); retrying", subject, exc)
                    self.retried += 1
                    await asyncio.sleep(_JITTER.uniform(backoff / 2, backoff))  # full jitter
                    backoff = min(backoff * 2, 2.0)
                    continue
                # an event NATS keeps refusing must not stall its partition for good:
                # subscribers get it from the store by seq when they resume
                self.dropped += 1
                log.error(
                    "dropping %s of %s after %d attempts: %s",
                    event.type,
                    event.channel,
                    attempts,
                    exc,
                )
            backoff, attempts = 0.05, 0
            box.popleft()

    # -- reading ----------------------------------------------------------------------

    async def end_offset(self, partition: int) -> int:
        """The offset the next event of ``partition`` will have at least."""
        info = await self._js.stream_info(self._name)
        return info.state.last_seq + 1

    async def _first_seq(self) -> int:
        """The oldest sequence the stream retains, looked up at most once a second (it
        moves only as retention removes old events)."""
        now = asyncio.get_running_loop().time()
        if now - self._first[1] > 1.0:
            info = await self._js.stream_info(self._name)
            self._first = (info.state.first_seq if info.state.messages else 0, now)
        return self._first[0]

    async def read(
        self, partition: int, offset: int, limit: int, timeout: float, reader: str = ""
    ) -> Batch:
        first = await self._first_seq()
        truncated = 0 < offset < first
        start = max(offset, first, 1)
        feed = await self._feed(reader, partition, start)
        now = asyncio.get_running_loop().time()
        if feed.needs_request(now):
            await self._nc.publish(
                f"{_JS_API}.CONSUMER.MSG.NEXT.{self._name}.{feed.consumer}",
                feed.request(now),
                reply=feed.inbox,
            )
        await feed.wait(max(timeout, 0.001))
        data, pending = feed.take(limit)
        self._lag[(reader, partition)] = pending
        if not data:
            return Batch((), start, truncated)
        return Batch(tuple(_decode(d) for d in data), feed.next, truncated)

    async def release(self, partition: int, reader: str = "") -> None:
        """Drops ``partition``'s feed and its consumer: a reader that starts again later
        gets a fresh one at its offset."""
        feed = self._readers.pop((reader, partition), None)
        self._lag.pop((reader, partition), None)
        if feed is not None:
            await self._drop(feed)

    async def _feed(self, reader: str, partition: int, offset: int) -> Feed:
        """``reader``'s feed of ``partition`` at ``offset``: the one it has, unless it
        is elsewhere, or broken or silent with nothing left queued; else a new consumer
        starting at ``offset`` with its inbox."""
        held = self._readers.get((reader, partition))
        if held is not None and held.next == offset:
            why = held.distrust(asyncio.get_running_loop().time())
            if not why:
                return held
            self.reopened += 1
            log.warning(
                "reader %r of partition %d: opening its consumer again at %d (%s)",
                reader,
                partition,
                offset,
                why,
            )
        if held is not None:
            del self._readers[(reader, partition)]
            await self._drop(held)
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=offset,
            ack_policy=api.AckPolicy.NONE,
            filter_subject=self._subject(partition),
            inactive_threshold=60.0,
        )
        info = await self._js.add_consumer(self._name, config)
        feed = Feed(info.name, self._nc.new_inbox(), offset)
        try:
            feed.subscription = await self._nc.subscribe(feed.inbox, cb=feed.on_message)
        except Exception:
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(self._name, info.name)
            raise
        self._readers[(reader, partition)] = feed
        return feed

    async def _drop(self, feed: Feed) -> None:
        with contextlib.suppress(Exception):
            await feed.subscription.unsubscribe()
        with contextlib.suppress(Exception):  # else it goes after inactive_threshold
            await self._js.delete_consumer(self._name, feed.consumer)

    # -- offsets ----------------------------------------------------------------------

    def committed(self, group: str, partition: int) -> int:
        return self._offsets.get(group, partition)

    async def fetch_committed(self, group: str, partition: int) -> int:
        try:
            entry = await self._kv.get(f"{group}.{partition}")
        except (NotFoundError, KeyNotFoundError):
            entry = None
        if entry is not None and entry.value:
            self._offsets.advance(group, partition, int(entry.value))
        return self._offsets.get(group, partition)

    def commit(self, group: str, partition: int, offset: int) -> None:
        if self._offsets.advance(group, partition, offset):
            self._dirty.add((group, partition))

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self._commit_interval)
            with contextlib.suppress(Exception):  # retried at the next tick
                await self._save_commits()

    async def _save_commits(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for group, partition in dirty:
            value = str(self._offsets.get(group, partition)).encode()
            try:
                await self._kv.put(f"{group}.{partition}", value)
            except Exception:
                self._dirty.add((group, partition))
                raise
