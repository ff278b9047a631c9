"""The recent-message buffer in Redis, shared by every node of a fleet.

Layout: per channel a sorted set ``<prefix>recent:<channel>`` scored by ``seq``, whose
members are ``b"<written at, unix ms>:" + msgpack(Event)``; after each write the set is
trimmed to the newest ``per_channel`` seqs (``ZREMRANGEBYRANK``) and the key expires
``ttl`` seconds after the channel's last message (``PEXPIRE``). The seed uses a list
(``LPUSH`` + ``LTRIM``); a sorted set because several API nodes append to one channel
and their writes can reach Redis out of ``seq`` order — a score puts each message in its
place, where a list would keep the arrival order. ``replace`` (edits, deletions,
reactions) is a small Lua script that swaps the member of that ``seq``, keeping its
write time, and does nothing when the message is no longer buffered.

Writes never touch the network on the send path: :meth:`RedisRecentBuffer.append` and
:meth:`~RedisRecentBuffer.replace` queue the operation and return; one background task
writes everything queued in one pipeline per batch (not a transaction; on the lean
connection of :mod:`parley.cache.resp`), in queue order, and takes the next batch when
that pipeline's answer is in. A batch that fails
(Redis down, a timeout) is not retried: the channels it touched are deleted from Redis in
the next batch that goes through, so a failed write leaves no stale or partial entries
behind, only a buffer that starts later. At most ``max_pending`` operations wait; past
that a channel's operation is dropped and the channel deleted the same way.

**Why a replay from this buffer is still exact.** The embedded buffer is written in the
after-commit callback *before* the event is published, so whatever a gateway delivered
is already buffered; :mod:`parley.gateway.resume` relies on that. Here the write is
queued, and a gateway can deliver an event (on another node) before its message reaches
Redis; a write can also fail. So :meth:`~RedisRecentBuffer.since` does not trust what it
reads, it checks it:

1. the entries above the client's ``seq`` must start at ``seq + 1`` and be gap-free
   (``seq`` is gap-free in the store; a hole is a write that is late, failed or was
   dropped); and
2. the newest buffered ``seq`` must be at least the store's ``last_seq`` for the
   channel, read after the Redis read (and so after the connection was registered in
   the hub, which happens before any replay).

The live events a connection can miss are those delivered before it was registered;
each was published, so committed, before the store read, so its ``seq`` is at most that
``last_seq``, and by (1) and (2) it is in the replay. Anything committed later reaches
the connection live (held during the replay, then released without what the replay
carried). When either check fails, ``since`` answers ``None`` and the replay reads the
store, as it does when Redis fails. The cost of the proof is one ``last_seq`` read per
replayed channel, against two reads (``last_seq`` and the messages) without the buffer.

Edits, deletions and reactions are not part of that proof: a replay shows each message
as the buffer has it, which trails the store by the write queue (one pipeline round
trip; longer while Redis fails, and a failed batch removes the channel's buffer instead).
A change committed within that window before a client reconnects can be missing from
its replay when its live event reached the gateway before the connection did.

Not cluster-safe as written (the keys of one channel are one key; nothing spans keys).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
import redis.asyncio as redis

from parley.bus.interface import Event
from parley.cache.redis_client import FAILURES
from parley.cache.resp import RespLink
from parley.errors import ParleyError
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Event).decode

# KEYS[1]: the channel's set; ARGV: seq, the new event (msgpack). Keeps the write time.
_REPLACE = """
local old = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
if #old == 0 then return 0 end
local at = string.match(old[1], '^(%d+):') or '0'
for i = 1, #old do redis.call('ZREM', KEYS[1], old[i]) end
redis.call('ZADD', KEYS[1], ARGV[1], at .. ':' .. ARGV[2])
return 1
"""


class RedisRecentBuffer:
    """Up to ``per_channel`` messages per channel for ``ttl`` seconds each (0: disabled).
    ``last_seq`` is the store's (:meth:`MessageStore.last_seq`), for the coverage proof;
    ``clock`` is wall time in seconds (entries are dated by the node that wrote them).
    Reads go through ``client``, writes through ``link`` (the per-message path's lean
    connection, :mod:`parley.cache.resp`); both are the caller's to close."""

    def __init__(
        self,
        client: redis.Redis,
        link: RespLink,
        *,
        per_channel: int,
        ttl: float,
        last_seq: Callable[[str], Awaitable[int]],
        prefix: str = "parley:",
        clock: Callable[[], float] = time.time,
        max_pending: int = 100_000,
    ) -> None:
        self._client = client
        self._link = link
        self._per_channel = per_channel
        self._ttl = ttl
        self._ttl_ms = max(1, int(ttl * 1000))
        self._last_seq = last_seq
        self._prefix = prefix + "recent:"
        self._clock = clock
        self._max_pending = max_pending
        #: Queued writes, in order: (append?, event, member or encoded event).
        self._ops: list[tuple[bool, Event, bytes]] = []
        #: Channels to delete before anything else is written (a write was lost).
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._failing = False
        self._writing = False

    # -- writing ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="recent-writer")

    def append(self, event: Event) -> None:
        if self._per_channel == 0:
            return
        member = b"%d:" % int(self._clock() * 1000) + _encode(event)
        self._queue(True, event, member)

    def replace(self, event: Event) -> None:
        if self._per_channel == 0:
            return
        self._queue(False, event, _encode(event))

    def forget(self, channel: str) -> None:
        """Deletes the channel's set, in the next batch (after what is queued)."""
        self._dirty.add(channel)
        self._wake.set()

    def _queue(self, append: bool, event: Event, data: bytes) -> None:
        if len(self._ops) >= self._max_pending:
            self._dirty.add(event.channel)
        else:
            self._ops.append((append, event, data))
        self._wake.set()

    def pending(self) -> int:
        """Operations queued and not yet sent."""
        return len(self._ops)

    async def flush(self, timeout: float = 5.0) -> bool:
        """Waits until everything queued so far has been written (or given up on, after
        a failure); ``False`` if that takes longer than ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._ops or self._dirty or self._writing:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._ops and not self._dirty:
                self._wake.clear()
                await self._wake.wait()
            ops, self._ops = self._ops, []
            dirty, self._dirty = self._dirty, set()
            self._writing = True
            try:
                await self._write(dirty, ops)
            except FAILURES as exc:
                failures += 1
                self._dirty |= dirty | {event.channel for _, event, _ in ops}
                if not self._failing:
                    log.warning("recent buffer: Redis write failed, retrying: %s", exc)
                self._failing = True
                self._writing = False
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                continue
            finally:
                self._writing = False
            if self._failing:
                log.info("recent buffer: Redis writes go through again")
            self._failing, failures = False, 0

    async def _write(self, dirty: set[str], ops: list[tuple[bool, Event, bytes]]) -> None:
        if not dirty and not ops:
            return
        commands: list[tuple] = [("DEL", self._prefix + channel) for channel in dirty]
        touched: dict[str, None] = {}
        for append, event, data in ops:
            key = self._prefix + event.channel
            if append:
                commands.append(("ZADD", key, event.seq, data))
                touched[key] = None
            else:
                commands.append(("EVAL", _REPLACE, 1, key, event.seq, data))
        for key in touched:
            commands.append(("ZREMRANGEBYRANK", key, 0, -self._per_channel - 1))
            commands.append(("PEXPIRE", key, self._ttl_ms))
        await self._link.execute(commands)

    async def close(self, timeout: float = 2.0) -> None:
        """Writes what is queued (for up to ``timeout`` seconds), then stops."""
        if self._task is not None:
            await cancel_all([self._task])  # again and again: redis-py may swallow one
            self._task = None
        ops, self._ops = self._ops, []
        dirty, self._dirty = self._dirty, set()
        try:
            await asyncio.wait_for(self._write(dirty, ops), timeout)
        except (*FAILURES, TimeoutError) as exc:
            log.warning("recent buffer: %d queued writes lost at shutdown: %s", len(ops), exc)

    # -- reading ------------------------------------------------------------------------

    async def since(self, channel: str, seq: int) -> list[Event] | None:
        """As :meth:`RecentMessages.since`, proved as the module docstring says."""
        if self._per_channel == 0:
            return None
        try:
            raw = await self._client.zrangebyscore(self._prefix + channel, seq, "+inf")
        except FAILURES as exc:
            log.warning("recent buffer: Redis read failed, replaying from the store: %s", exc)
            return None
        horizon = int((self._clock() - self._ttl) * 1000)
        by_seq: dict[int, Event] = {}
        try:
            for member in raw:
                at, _, data = member.partition(b":")
                if int(at) > horizon:
                    event = _decode(data)
                    by_seq[event.seq] = event
        except (ValueError, msgspec.DecodeError):
            log.warning("recent buffer: unreadable entry in %s, replaying from the store", channel)
            return None
        if not by_seq:
            return None
        first, last = min(by_seq), max(by_seq)
        if first > seq + 1 or last - first + 1 != len(by_seq):
            return None  # starts too late, or a hole: a write late, failed or dropped
        try:
            committed = await self._last_seq(channel)
        except ParleyError:
            return None
        if last < committed:
            return None  # the newest messages have not reached Redis yet
        return [by_seq[s] for s in range(max(first, seq + 1), last + 1)]
