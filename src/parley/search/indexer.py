"""The indexing worker: keeps the search engine in step with the store, off the send path.

It reads the event log (consumer group ``indexer``), partition by partition, in batches
of up to ``batch`` events. A batch's new, edited and deleted messages are read back from
the store as they are now (:meth:`MessageStore.messages_at`) and written to the engine
in one call (:meth:`SearchIndex.apply`): live messages as documents, deleted ones
removed. Then the batch's offset is committed. So indexing is idempotent and converges
on the store whatever order or how often events come; a worker that crashes resumes
from its last committed offset and redoes at most one batch per partition.

Where it starts:

- from the group's committed offset when the log keeps one (JetStream);
- otherwise (the embedded in-process log, which a restart empties, or a first start)
  from the log's end, after a recovery from the store: every message posted, edited
  or deleted since the engine's watermark (its newest indexed ``ts``) less
  :data:`RECOVERY_MARGIN` is indexed again, before the live batches begin. An empty
  engine is left to ``parley search reindex``.

Several workers split the partitions (:mod:`parley.worker.ownership`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from parley.bus.interface import EventBus
from parley.search.interface import Doc, SearchIndex
from parley.search.query import has_link
from parley.storage.interface import MessageStore
from parley.storage.models import Message
from parley.tasks import cancel_all
from parley.worker.ownership import Ownership

log = logging.getLogger(__name__)

GROUP = "indexer"
#: Event types that change what a message's document holds.
INDEXED = frozenset({"message", "message_changed", "message_deleted"})
#: How far before the engine's watermark a recovery starts (microseconds): partitions
#: are indexed independently, so one may have been this far behind another at a crash.
RECOVERY_MARGIN = 600_000_000


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
    return await index_messages(store, index, sorted(await store.changed_since(-1)))


class Indexer:
    def __init__(
        self,
        bus: EventBus,
        store: MessageStore,
        index: SearchIndex,
        *,
        batch: int = 500,
        ownership: Ownership | None = None,
    ) -> None:
        self._bus = bus
        self._store = store
        self._index = index
        self._batch = batch
        self._ownership = ownership
        self._tasks: list[asyncio.Task] = []
        self._follows: dict[int, asyncio.Task] = {}
        #: Set once the start-up recovery is done: live batches wait for it.
        self._recovered = asyncio.Event()
        self.indexed = 0

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._recover(), name="indexer-recovery"))
        if self._ownership is None:
            for p in range(self._bus.partitions):
                self._acquire(p)
        else:
            run = self._ownership.run(self._acquire, self._release)
            self._tasks.append(asyncio.create_task(run, name="indexer-ownership"))

    async def close(self) -> None:
        await cancel_all(self._tasks)
        if self._ownership is not None:
            await self._ownership.close(self._release)
        await cancel_all(list(self._follows.values()))
        self._follows.clear()

    def _acquire(self, partition: int) -> None:
        self._follows[partition] = asyncio.create_task(
            self._follow(partition), name=f"indexer-{partition}"
        )

    async def _release(self, partition: int) -> None:
        task = self._follows.pop(partition, None)
        if task is not None:
            await cancel_all([task])

    async def reindex(self, keys: Sequence[tuple[str, int]]) -> int:
        """Indexes the messages at ``keys`` as they are now; how many it looked at."""
        await index_messages(self._store, self._index, keys, self._batch)
        self.indexed += len(keys)
        return len(keys)

    async def _recover(self) -> None:
        while True:
            try:
                mark = await self._index.watermark()
                if mark:
                    keys = await self._store.changed_since(mark - RECOVERY_MARGIN)
                    await self.reindex(sorted(keys))
                    log.info("search: %d changed messages indexed again at start", len(keys))
                else:
                    log.info("search index empty: `parley search reindex` builds it")
                break
            except Exception:
                log.exception("search: recovery failed; retrying")
                await asyncio.sleep(1.0)
        self._recovered.set()

    async def _position(self, partition: int) -> int:
        while True:
            try:
                offset = await self._bus.fetch_committed(GROUP, partition)
                return offset or await self._bus.end_offset(partition)
            except Exception:
                log.exception("indexer: positioning partition %d failed", partition)
                await asyncio.sleep(0.5)

    async def _follow(self, partition: int) -> None:
        offset = await self._position(partition)
        await self._recovered.wait()
        while True:
            try:
                batch = await self._bus.read(partition, offset, self._batch, timeout=1.0)
                keys = sorted({(e.channel, e.ts) for e in batch.events if e.type in INDEXED})
                if keys:
                    await self.reindex(keys)
            except Exception:  # the log or the store failing: the same batch again
                log.exception("indexer: partition %d failed; retrying", partition)
                await asyncio.sleep(0.5)
                continue
            if batch.truncated:
                log.warning("indexer: partition %d fell behind the log's retention", partition)
            offset = batch.next_offset
            self._bus.commit(GROUP, partition, offset)
