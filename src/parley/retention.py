"""Message retention: a workspace keeps its messages for as many days as its policy
says, and a conversation may have a span of its own (``parley retention``, Slack's
``admin.conversations.setCustomRetention``). Without a policy, messages are kept for
ever.

:class:`Retention` sweeps every ``interval`` seconds on the nodes that run workers
(``role`` ``all`` or ``worker``): for each conversation under a policy it has the store
remove what is older than the span (:meth:`~parley.storage.interface.MessageStore.expire`,
in batches of :data:`BATCH` so no shard's writer is held long: a thread is kept or
removed whole, the conversation's newest message is emptied rather than removed, see
:mod:`parley.storage.expiry`), then takes the removed messages out of the search index
and has the recent-message buffer forget the conversation (resumes read the store until
it fills again). A message is gone within ``interval`` of passing its span. Nothing is
published, as Slack's retention publishes nothing: the next reader does not find it.
Several workers may sweep at once: removing what is gone already does nothing.

Files go too, once older than every span they are shared under (:func:`file_days`,
counted from the upload; one shared nowhere follows its workspace), as ``files.delete``
deletes them: their conversations hear ``file_deleted`` and the
messages that shared them keep a tombstone. What else holds a message is left to its
own lifetime: the event log drops its copy within a day (so a span is at least
:data:`MIN_DAYS`), and pins and saved messages that point at one are left out of their
lists. A search document whose removal failed (the index down) is never shown: search
checks each hit against the store.

:func:`spans` and :func:`cutoff` are the pure core.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

import msgspec

from parley.cache.recent import RecentMessages
from parley.metrics import Row, counter
from parley.search.interface import SearchIndex
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import RetentionPolicy, StoredFile
from parley.tasks import cancel_all, every

log = logging.getLogger(__name__)

#: The shortest span: the event log keeps a message a day.
MIN_DAYS = 1
#: The longest (a hundred years).
MAX_DAYS = 36_500
#: Threads removed per store call.
BATCH = 200
#: Conversations read per directory page.
PAGE = 500
DAY_US = 86_400 * 1_000_000


class Spans(msgspec.Struct, frozen=True):
    """One workspace's policies: its own span (``None``: it has none, so only the
    conversations given one are swept) and each conversation's own."""

    default: int | None
    channels: dict[str, int]

    def days(self, channel_id: str) -> int | None:
        return self.channels.get(channel_id, self.default)


def spans(policies: Iterable[RetentionPolicy]) -> dict[str, Spans]:
    """The policies by workspace."""
    defaults: dict[str, int | None] = {}
    own: dict[str, dict[str, int]] = {}
    for p in policies:
        if p.channel_id:
            own.setdefault(p.team_id, {})[p.channel_id] = p.days
            defaults.setdefault(p.team_id, None)
        else:
            defaults[p.team_id] = p.days
    return {team: Spans(days, own.get(team, {})) for team, days in defaults.items()}


def file_days(span: Spans, channels: Iterable[str]) -> int | None:
    """The days a file is kept, counted from its upload: the longest span of the
    conversations it is shared in (the workspace's, for a file shared nowhere); ``None``
    (for ever) when one of them keeps its messages for ever. A message that shared it
    later may outlive it, and then shows its tombstone, as after ``files.delete``."""
    days = [span.days(c) for c in channels] or [span.default]
    return None if any(d is None for d in days) else max(days)  # type: ignore[type-var]


def cutoff(now_us: int, days: int) -> int:
    """The ``ts`` before which a span of ``days`` removes messages."""
    return now_us - days * DAY_US


class Swept(msgspec.Struct, frozen=True):
    """What a sweep did: conversations it took messages from, how many messages, and
    how many files it deleted."""

    channels: int = 0
    messages: int = 0
    files: int = 0


class Retention:
    """Sweeps by the policies in ``directory`` (see the module). ``clock_us``: the wall
    clock in Unix microseconds."""

    def __init__(
        self,
        directory: Directory,
        store: MessageStore,
        search: SearchIndex,
        recent: RecentMessages,
        remove_file: Callable[[StoredFile], Awaitable[bool]],
        *,
        clock_us: Callable[[], int],
        interval: float,
        batch: int = BATCH,
    ) -> None:
        self._directory = directory
        self._store = store
        self._search = search
        self._recent = recent
        self._remove_file = remove_file
        self._clock_us = clock_us
        self._interval = interval
        self._batch = batch
        self._task: asyncio.Task | None = None
        #: Since start: messages removed (or emptied), files deleted, sweeps done and
        #: failed.
        self.removed = self.files = self.sweeps = self.failed = 0

    def metric_rows(self) -> list[Row]:
        """For ``/metrics``: what this node's sweeps removed, and how they went."""
        return [
            counter(
                "parley_retention_removed",
                "Messages removed (a conversation's newest: emptied) by retention.",
                [((), self.removed)],
            ),
            counter(
                "parley_retention_files_removed",
                "Files deleted by retention (older than every span they are shared under).",
                [((), self.files)],
            ),
            counter(
                "parley_retention_sweeps",
                "Retention's sweeps, by outcome (failed: the store or directory refused).",
                [(("ok",), self.sweeps), (("failed",), self.failed)],
                ["outcome"],
            ),
        ]

    def start(self) -> None:
        sweeping = every(self._interval, self.sweep, "retention: sweeping")
        self._task = asyncio.get_running_loop().create_task(sweeping, name="retention")

    async def close(self) -> None:
        if self._task is not None:
            await cancel_all([self._task])
            self._task = None

    async def sweep(self) -> Swept:
        """One pass over every conversation under a policy (a failure is counted and
        raised; the next sweep starts over)."""
        try:
            swept = await self._sweep()
        except Exception:
            self.failed += 1
            raise
        self.sweeps += 1
        return swept

    async def _sweep(self) -> Swept:
        now = self._clock_us()
        channels = messages = files = 0
        for team_id, span in spans(await self._directory.retention()).items():
            async for channel_id in self._conversations(team_id, span):
                days = span.days(channel_id)
                if days is None:
                    continue
                removed = await self._expire(channel_id, cutoff(now, days))
                if removed:
                    channels += 1
                    messages += removed
            files += await self._files(team_id, span, now)
        if messages or files:
            log.info(
                "retention: %d messages removed from %d conversations, %d files",
                messages,
                channels,
                files,
            )
        return Swept(channels, messages, files)

    async def _files(self, team_id: str, span: Spans, now: int) -> int:
        """Deletes the workspace's files older than every span they are shared under
        (:func:`file_days`), looking only at those older than its shortest span."""
        shortest = min([d for d in (span.default, *span.channels.values()) if d is not None])
        after, removed = (-1, ""), 0
        while True:
            page = await self._directory.files_older(team_id, cutoff(now, shortest), after, PAGE)
            for f in page:
                days = file_days(span, f.channels)
                if (
                    days is not None
                    and f.created < cutoff(now, days)
                    and await self._remove_file(f)
                ):
                    removed += 1
                    self.files += 1
            if len(page) < PAGE:
                return removed
            after = (page[-1].created, page[-1].id)

    async def _conversations(self, team_id: str, span: Spans):
        """The workspace's conversations a policy covers: all of them under a
        workspace's span, else those with their own."""
        if span.default is None:
            for channel_id in span.channels:
                yield channel_id
            return
        after = ""
        while True:
            page = await self._directory.all_channels(team_id, after, PAGE)
            for channel in page.rows:
                yield channel.id
            if not page.has_more or not page.rows:
                return
            after = page.rows[-1].id

    async def _expire(self, channel_id: str, before: int) -> int:
        removed = 0
        while True:
            got = await self._store.expire(channel_id, before, self._batch)
            if got.messages:
                removed += len(got.messages)
                self.removed += len(got.messages)
                self._recent.forget(channel_id)
                await self._unindex(channel_id, [mid for _ts, mid in got.messages])
            if not got.more:
                return removed

    async def _unindex(self, channel_id: str, ids: list[int]) -> None:
        try:
            await self._search.apply([], [(channel_id, mid) for mid in ids])
        except Exception as exc:  # noqa: BLE001 - hits are checked against the store
            log.warning("retention: search kept %d of %s: %s", len(ids), channel_id, exc)
