"""The indexing worker: keeps the search engine in step with the store, off the send path.

It reads the event log (consumer group ``indexer``), partition by partition, in batches
of up to ``batch`` events, and indexes in bulk: what every partition's batch changed is
gathered for up to ``linger`` seconds (or until ``bulk`` messages wait) and written to
the engine in bulk (:meth:`SearchIndex.apply`). A ``message`` event shows its message as
stored (a post, or the store's copy republished), so its document is built from the
event itself (:func:`posted`); edits and deletes, and a message that also changed within
the same bulk, are read back from the store as they are now
(:meth:`MessageStore.messages_at`): live messages as documents, deleted ones removed.
(Reading posts back as well, the work beside the busy event loop held up deliveries:
at 5,000 msg/s to 1,000 subscribers, p50 9.0-9.8 ms and p99 26.6-28.9 ms, against
5.0-6.4 and 16.9-19.9 from the events; ``docs/benchmarks.md``.) A partition's next
batch waits for its bulk write, so a message's later change is always written after its
post. Then each batch's offset is committed. (A few engine writes and at most one
store read per tenth of a second, whatever the load, instead of one per partition and
batch: at saturation the latter held the send path to 1,790 msg/s where bulk writes
reach 2,421; see ``docs/benchmarks.md``.) So indexing is idempotent and converges on the
store however often events come (a channel's come in order, on one partition); a
worker that crashes resumes from its last committed offset and redoes at most one
batch per partition.

Where it starts:

- from the group's committed offset when the log keeps one (JetStream);
- otherwise from the log's end. The embedded server (no ``ownership``: one indexer
  reads every partition of an in-process log that a restart empties) first recovers
  from the store: every message posted, edited or deleted since the engine's
  watermark is indexed again, before the live batches begin. The watermark is a time
  before which every committed message is indexed: after each bulk write, the start
  of the oldest among the partitions' latest reads that reached the log's end, less
  :data:`PUBLISH_SLACK` (a message is published just after its commit), recorded at
  most once a second; ``parley search reindex`` sets it to when its scan began. So a
  restart re-indexes seconds of messages, not the store. An engine with no watermark
  is left to ``parley search reindex``.

When a bulk write fails, what follows depends on why:

- the engine (or a shard) cannot take work (:class:`~parley.errors.StorageUnavailable`,
  its circuit breaker open among them): the batches are read again, after a backoff
  with jitter that grows with the failures in a row, at least until the breaker lets a
  probe through. Nothing is committed meanwhile: the log's offsets are the durable
  record of what is still to index;
- the engine answered with an error: the keys are indexed one by one, and each key it
  still refuses becomes a durable retry (step ``index``, :mod:`parley.resilience`),
  redone with backoff until its attempts are spent, then a dead letter
  (``parley dlq``); the batches go on. So one message the engine cannot take never
  holds up the rest.

Several workers split the partitions (:mod:`parley.worker.ownership`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import orjson

from parley.bus.interface import Event, EventBus
from parley.errors import StorageUnavailable
from parley.ids import wall_us
from parley.metrics import Row, counter, gauge
from parley.resilience.retries import Backoff, Retry, first_failure, postponed
from parley.resilience.store import RetryStore, failed_again
from parley.search.interface import Doc, SearchIndex
from parley.search.query import has_link
from parley.storage.interface import MessageStore
from parley.storage.models import Message
from parley.tasks import every
from parley.worker.ownership import Ownership, PartitionWorker

log = logging.getLogger(__name__)

GROUP = "indexer"
#: Event types that change what a message's document holds.
INDEXED = frozenset({"message", "message_changed", "message_deleted"})
#: How long after its commit a message is surely on the in-process log (microseconds).
PUBLISH_SLACK = 5_000_000
#: Seconds between two records of the watermark.
MARK_EVERY = 1.0
#: The retry step of a message the engine refused.
STEP = "index"
#: Retries claimed per turn of the retry loop, and how long a claim is leased.
RETRY_BATCH = 100
LEASE = 60.0
#: What became of indexing, for ``/metrics``.
OUTCOMES = ("retried", "dead_letters", "batch_failures")


def posted(event: Event) -> Doc | None:
    """The document of a ``message`` event's message, built from the event (which shows
    it as stored); None when the event cannot tell (no message id, a tombstone, another
    type): the store is asked instead."""
    if event.type != "message" or not event.message_id:
        return None
    body = orjson.loads(event.payload)
    if body.get("subtype") == "tombstone":  # deleted, kept for its thread: no document
        return None
    text = body["text"]
    return Doc(event.message_id, event.channel, event.ts, body["user"], text, has_link(text))


def documents(messages: Sequence[Message]) -> tuple[list[Doc], list[tuple[str, int]]]:
    """The documents to write and the ``(channel, id)`` to remove for these messages as
    they are now."""
    docs, removed = [], []
    for m in messages:
        if m.deleted:
            removed.append((m.channel, m.id))
        else:
            docs.append(Doc(m.id, m.channel, m.ts, m.user, m.text, has_link(m.text)))
    return docs, removed


async def index_messages(
    store: MessageStore, index: SearchIndex, keys: Sequence[tuple[str, int]], batch: int = 500
) -> int:
    """Indexes the messages at ``keys`` as they are now, ``batch`` at a time; how many
    keys it looked at."""
    for i in range(0, len(keys), batch):
        docs, removed = documents(await store.messages_at(keys[i : i + batch]))
        await index.apply(docs, removed)
    return len(keys)


async def rebuild(store: MessageStore, index: SearchIndex) -> int:
    """Empties the engine and indexes every message of the store (``parley search
    reindex``); how many messages it read."""
    await index.clear()
    began = wall_us()
    indexed = await index_messages(store, index, sorted(await store.changed_since(-1)))
    await index.mark(began - PUBLISH_SLACK)
    return indexed


class Indexer(PartitionWorker):
    name = "indexer"

    def __init__(
        self,
        bus: EventBus,
        store: MessageStore,
        index: SearchIndex,
        *,
        batch: int = 500,
        linger: float = 0.1,
        bulk: int = 5000,
        ownership: Ownership | None = None,
        retries: RetryStore | None = None,
        backoff: Backoff | None = None,
        retry_every: float = 1.0,
    ) -> None:
        super().__init__(bus, GROUP, ownership)
        #: Where the messages the engine refused wait (the directory's table); ``None``:
        #: they are retried in place like an unavailable engine.
        self._retries = retries
        self._backoff = backoff or Backoff()
        self._retry_every = retry_every
        #: Figures for ``/metrics`` (:data:`OUTCOMES`).
        self.counts: dict[str, int] = {}
        self._store = store
        self._index = index
        self._batch = batch
        self._linger = linger
        self._bulk = bulk
        #: What waits for the next bulk write: keys to read back, documents built from
        #: posts (by key; a key also to read back is read back), and the future it will
        #: resolve.
        self._pending: set[tuple[str, int]] = set()
        self._posted: dict[tuple[str, int], Doc] = {}
        self._flushed: asyncio.Future | None = None
        #: Per partition, when its latest read that reached the log's end began (and
        #: everything that read returned is indexed).
        self._caught_up: dict[int, int] = {}
        self._marked = float("-inf")
        self._started = wall_us()
        #: Set once the start-up recovery is done: live batches wait for it.
        self._recovered = asyncio.Event()

    def start(self) -> None:
        self._started = wall_us()
        self._tasks.append(asyncio.create_task(self._recover(), name="indexer-recovery"))
        if self._retries is not None:
            retrying = every(self._retry_every, self.retry_due, "search: the retry loop")
            self._tasks.append(asyncio.create_task(retrying, name="indexer-retries"))
        self._start_partitions()

    def _forget_partition(self, partition: int) -> None:
        self._caught_up.pop(partition, None)

    def metric_rows(self) -> list[Row]:
        """For ``/metrics``: how far behind the index may be, as the time since the
        oldest of its partitions' latest reads that reached the log's end began (a
        partition not read to its end yet counts from the indexer's start)."""
        now = wall_us()
        oldest = min((self._caught_up.get(p, self._started) for p in self._follows), default=now)
        lag = max(0.0, (now - oldest) / 1e6)
        doc = "Seconds the search index may lag the store (every partition read up to then)."
        return [
            gauge("parley_search_index_lag_seconds", doc, [((), lag)]),
            counter(
                "parley_index",
                "Indexing's troubles: messages retried, dead letters, bulk writes failed.",
                [((k,), self.counts.get(k, 0)) for k in OUTCOMES],
                ["outcome"],
            ),
        ]

    def _submit(self, keys: list[tuple[str, int]], docs: Sequence[Doc] = ()) -> asyncio.Future:
        """Adds ``keys`` (to read back) and ``docs`` (built from posts) to the next bulk
        write; the future is done once it is written."""
        self._pending.update(keys)
        for doc in docs:
            self._posted[(doc.channel, doc.ts)] = doc
        if self._flushed is None:
            loop = asyncio.get_running_loop()
            self._flushed = loop.create_future()
            loop.call_later(self._linger, self._flush_soon)
        flushed = self._flushed
        if len(self._pending) + len(self._posted) >= self._bulk:
            self._flush_soon()
        return flushed

    def _flush_soon(self) -> None:
        if self._flushed is None:
            return  # already flushed (by size) before the timer fired
        keys, flushed = sorted(self._pending), self._flushed
        docs = [d for key, d in self._posted.items() if key not in self._pending]
        self._pending, self._posted, self._flushed = set(), {}, None
        task = asyncio.get_running_loop().create_task(self._flush(keys, docs, flushed))
        self._tasks.append(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    async def _flush(
        self, keys: list[tuple[str, int]], docs: list[Doc], flushed: asyncio.Future
    ) -> None:
        try:
            try:
                for i in range(0, len(docs), self._batch):
                    await self._index.apply(docs[i : i + self._batch], [])
                await index_messages(self._store, self._index, keys, self._batch)
            except StorageUnavailable:
                raise  # the engine cannot take work: every batch in it is read again
            except Exception as exc:  # the engine refused something: find what
                self._count("batch_failures")
                if self._retries is None:
                    raise
                log.warning("search: a bulk write failed (%s); indexing one by one", exc)
                await self._isolate(sorted({*keys, *((d.channel, d.ts) for d in docs)}))
        except Exception as exc:
            if not flushed.done():
                flushed.set_exception(exc)
            flushed.exception()  # retrieved: the partitions report it
            return
        if not flushed.done():
            flushed.set_result(None)
        await self._mark()

    async def _mark(self) -> None:
        """Moves the watermark to the oldest of the partitions' latest complete reads."""
        now = asyncio.get_running_loop().time()
        if self._ownership is not None or now - self._marked < MARK_EVERY:
            return
        if not self._follows or any(p not in self._caught_up for p in self._follows):
            return
        self._marked = now
        try:
            await self._index.mark(min(self._caught_up.values()) - PUBLISH_SLACK)
        except Exception:  # the next bulk write tries again
            log.exception("search: recording the watermark failed")

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    async def _isolate(self, keys: list[tuple[str, int]]) -> None:
        """Indexes ``keys`` one by one; each the engine refuses becomes a durable retry.
        Raises (the batches are read again) if the engine becomes unavailable, or a
        retry cannot be recorded."""
        assert self._retries is not None
        for message in await self._store.messages_at(keys):  # the store failing: raises
            key = (message.channel, message.ts)
            try:
                await self._index.apply(*documents([message]))
            except StorageUnavailable:
                raise
            except Exception as exc:  # this one: a retry of its own
                payload = orjson.dumps(list(key))
                retry = first_failure(
                    STEP, _item(key), payload, _error(exc), wall_us(), self._backoff
                )
                await self._retries.retry_later(retry)
                self._count("retried")

    async def retry_due(self) -> int:
        """Indexes again the refused messages whose retry is due; how many."""
        assert self._retries is not None
        now = wall_us()
        due = await self._retries.claim_due(STEP, now, RETRY_BATCH, now + int(LEASE * 1e6))
        for retry in due:
            await self._redo(retry)
        return len(due)

    async def _redo(self, retry: Retry) -> None:
        assert self._retries is not None
        channel, ts = orjson.loads(retry.payload)
        try:
            await index_messages(self._store, self._index, [(channel, ts)])
        except StorageUnavailable as exc:  # not attempted, or could not be: later
            wait = exc.retry_after or self._backoff.base
            await self._retries.retry_later(postponed(retry, wall_us(), wait))
            return
        except Exception as exc:
            later, died = await failed_again(
                self._retries, retry, _error(exc), wall_us(), self._backoff
            )
            self._count("dead_letters" if died else "retried")
            if died:
                why = (retry.item, later.attempts)
                log.warning("search: %s not indexed after %d attempts: a dead letter", *why)
            return
        await self._retries.retry_done(STEP, retry.item)

    async def _recover(self) -> None:
        while self._ownership is None:  # workers of a fleet resume from offsets
            try:
                mark = await self._index.watermark()
                if mark:
                    keys = await self._store.changed_since(mark)
                    await index_messages(self._store, self._index, sorted(keys), self._batch)
                    log.info("search: %d changed messages indexed again at start", len(keys))
                else:
                    log.info("search index empty: `parley search reindex` builds it")
                break
            except Exception:
                log.exception("search: recovery failed; retrying")
                await asyncio.sleep(1.0)
        self._recovered.set()

    async def _follow(self, partition: int) -> None:
        offset = await self._start_offset(partition)
        await self._recovered.wait()
        failures = 0  # in a row
        while True:
            try:
                reading = wall_us()
                batch = await self._read(partition, offset, self._batch)
                keys, docs = [], []
                for event in batch.events:
                    if event.type in INDEXED:
                        doc = posted(event)
                        if doc is None:
                            keys.append((event.channel, event.ts))
                        else:
                            docs.append(doc)
                if keys or docs:
                    await asyncio.shield(self._submit(keys, docs))
                if len(batch.events) < self._batch:  # reached the end: all before is in
                    self._caught_up[partition] = reading
            except Exception as exc:  # the log, store or engine failing: this batch again
                failures += 1
                wait = self._backoff.wait(failures, getattr(exc, "retry_after", None))
                if failures == 1 or not isinstance(exc, StorageUnavailable):
                    log.exception("indexer: partition %d failed; again in %.1f s", partition, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            if batch.truncated:
                log.warning("indexer: partition %d fell behind the log's retention", partition)
            offset = batch.next_offset
            self._bus.commit(GROUP, partition, offset)


def _item(key: tuple[str, int]) -> str:
    """A message's identity in the retry table."""
    return f"{key[0]}:{key[1]}"


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
