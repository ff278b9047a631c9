"""Presence in Redis: which user has connections open on which gateway node, with
heartbeat expiry, so any node answers "is this user online anywhere?".

Keys (``<p>`` is the deployment's prefix):

- ``<p>presence:nodes``: a sorted set of live gateway nodes, each scored with the time
  (Redis's clock, ms) its last heartbeat expires: every ``heartbeat`` seconds a node
  re-scores itself to now + 3 heartbeats. A node whose score has passed is dead.
- ``<p>presence:u:<team>:<user>``: a hash, node id -> that node's open connections of
  the user. The user is online when a live node has a count above zero.
- ``<p>presence:n:<node>``: a set of the ``<team>:<user>`` the node has connections of,
  so that a dead node's users can be found.

A node id is ``<worker id>-<random>``, new at every start (:func:`node_id`), so a node
that restarts with the same ``PARLEY_WORKER_ID`` never revives its dead predecessor's
counts.

One sorted set of expiry times rather than a key per node with ``EXPIRE``: every script
reads liveness from one declared key, and a dead node stays findable after it stops
beating, so that the node that notices it (:meth:`RedisPresence._beat`, on every
node's heartbeat) can remove its counts and announce ``away`` for those of its users who
are connected nowhere else. A node killed with SIGKILL thus drops out within three
heartbeats, and its users' watchers hear of it within four.

:meth:`~RedisPresence.connected` and :meth:`~RedisPresence.disconnected` count in this
process and mark the user; a background task writes each marked user's *current* count
for this node (idempotent, so a batch that failed is simply written again) in one
pipeline per batch, and each answer (the user's live total before and after) says
whether to announce ``active`` (0 -> some) or ``away`` (some -> 0). Connections that
open and close within one batch announce nothing. ``connected`` returns once its batch
is written (at most ``settle`` seconds), so a client that got ``hello`` is online for
every node; a Redis that fails only delays ``hello`` by that bound. While Redis fails,
counting goes on here and is written when it is back; a node that was presumed dead
meanwhile (and so counted out by another) writes all its counts again at its next
heartbeat.

The scripts read keys they compute (a user's hash from a node's set), so this is for
one Redis, not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable

import redis.asyncio as redis

from parley.cache.redis_client import FAILURES
from parley.gateway.presence import Announce
from parley.storage.models import User
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function live_total(hash, nodes)
  local all = redis.call('HGETALL', hash)
  local total = 0
  for i = 1, #all, 2 do
    local expires = redis.call('ZSCORE', nodes, all[i])
    if expires and tonumber(expires) > now then total = total + tonumber(all[i + 1]) end
  end
  return total
end
"""

# KEYS: user hash, nodes, this node's set; ARGV: node, count, "<team>:<user>".
_SET_COUNT = (
    _NOW
    + """
local before = live_total(KEYS[1], KEYS[2])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[3])
end
return {before, live_total(KEYS[1], KEYS[2])}
"""
)

# KEYS: nodes; ARGV: node, ttl ms. Returns {1 if the node was not listed, dead nodes}.
_HEARTBEAT = (
    _NOW
    + """
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return {added, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)}
"""
)

# KEYS: nodes, the dead node's set; ARGV: dead node, prefix of user hashes.
# Returns the "<team>:<user>" now connected nowhere (empty if another node reaped it).
_REAP = (
    _NOW
    + """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires or tonumber(expires) > now then return {} end
redis.call('ZREM', KEYS[1], ARGV[1])
local members = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
local away = {}
for _, m in ipairs(members) do
  local hash = ARGV[2] .. m
  redis.call('HDEL', hash, ARGV[1])
  if live_total(hash, KEYS[1]) == 0 then table.insert(away, m) end
end
return away
"""
)

# KEYS: nodes, then user hashes. Returns 1 or 0 per user.
_ONLINE = (
    _NOW
    + """
local out = {}
for k = 2, #KEYS do
  if live_total(KEYS[k], KEYS[1]) > 0 then out[k - 1] = 1 else out[k - 1] = 0 end
end
return out
"""
)


def _resolve(future: asyncio.Future | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def node_id(worker_id: int) -> str:
    """This process's presence node id: its worker id and a random part, new per start."""
    return f"{worker_id}-{secrets.token_hex(4)}"


class RedisPresence:
    """The presence of every gateway node sharing the Redis behind ``client``.

    ``heartbeat``: seconds between this node's heartbeats (``PARLEY_PRESENCE_HEARTBEAT``);
    it is presumed dead 3 heartbeats after its last one."""

    def __init__(
        self,
        client: redis.Redis,
        announce: Announce,
        *,
        node: str,
        heartbeat: float,
        prefix: str = "parley:",
        settle: float = 1.0,
    ) -> None:
        self._client = client
        self._announce = announce
        self.node = node
        self._heartbeat = heartbeat
        self._ttl_ms = max(1, int(heartbeat * 3000))
        self._nodes = prefix + "presence:nodes"
        self._users = prefix + "presence:u:"
        self._node_set = prefix + "presence:n:"
        self._open: dict[tuple[str, str], int] = {}
        #: Those of this node's users who set themselves away: not announced active.
        self._away: set[tuple[str, str]] = set()
        self._touched: set[tuple[str, str]] = set()
        #: Resolved when the batch that will carry the marks made so far is written.
        self._written: asyncio.Future | None = None
        self._settle = settle
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._set_count = client.register_script(_SET_COUNT)
        self._beat_script = client.register_script(_HEARTBEAT)
        self._reap = client.register_script(_REAP)
        self._online = client.register_script(_ONLINE)
        self._failing = False
        self._writing = False

    async def start(self) -> None:
        """Joins the live nodes (a Redis that fails here fails start-up), then beats and
        writes in the background."""
        await self._beat()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._write_loop(), name="presence-writer"),
            loop.create_task(self._beat_loop(), name="presence-heartbeat"),
        ]

    # -- the gateway's side ---------------------------------------------------------------

    async def connected(self, user: User) -> None:
        key = (user.team_id, user.id)
        self._open[key] = self._open.get(key, 0) + 1
        if user.away:
            self._away.add(key)
        else:
            self._away.discard(key)
        written = self._mark(key)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(written), self._settle)

    def disconnected(self, user: User) -> None:
        key = (user.team_id, user.id)
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        elif self._open.pop(key, None) is None:
            return
        else:
            self._away.discard(key)
        self._mark(key)

    def _mark(self, key: tuple[str, str]) -> asyncio.Future:
        self._touched.add(key)
        self._wake.set()
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        return self._written

    async def flush(self, timeout: float = 5.0) -> bool:
        """Waits until every count changed so far is in Redis; ``False`` past ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._touched or self._writing:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    async def online(self, team_id: str, user_ids: Iterable[str]) -> set[str]:
        """As :meth:`Presence.online`; when Redis fails, the users connected here."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        keys = [self._nodes, *(f"{self._users}{team_id}:{u}" for u in ids)]
        try:
            flags = await self._online(keys=keys)
        except FAILURES as exc:
            log.warning("presence: Redis failed, answering from this node only: %s", exc)
            return {u for u in ids if (team_id, u) in self._open}
        return {u for u, flag in zip(ids, flags, strict=True) if int(flag)}

    # -- background -----------------------------------------------------------------------

    async def _write_loop(self) -> None:
        failures = 0
        while True:
            if not self._touched:
                self._wake.clear()
                await self._wake.wait()
            self._writing = True
            try:
                await self._write()
            except FAILURES as exc:
                failures += 1
                if not self._failing:
                    log.warning("presence: Redis write failed, retrying: %s", exc)
                self._failing = True
                self._writing = False
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                continue
            finally:
                self._writing = False
            self._failing, failures = False, 0

    async def _write(self) -> None:
        """Writes the marked users' counts; on failure they stay marked."""
        touched, self._touched = self._touched, set()
        written, self._written = self._written, None
        if not touched:
            _resolve(written)
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            order = list(touched)
            node_set = self._node_set + self.node
            for team, user in order:
                count = self._open.get((team, user), 0)
                await self._set_count(
                    keys=[f"{self._users}{team}:{user}", self._nodes, node_set],
                    args=[self.node, count, f"{team}:{user}"],
                    client=pipe,
                )
            answers = await pipe.execute()
        except BaseException:
            self._touched |= touched
            if written is not None:  # the marks wait for the next batch that goes through
                if self._written is None:
                    self._written = written
                else:
                    self._written.add_done_callback(lambda _: _resolve(written))
            raise
        for (team, user), (before, after) in zip(order, answers, strict=True):
            if not before and after and (team, user) not in self._away:
                self._announce(team, user, "active")
            elif before and not after:
                self._announce(team, user, "away")
        _resolve(written)

    async def _beat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self._beat()
            except FAILURES as exc:
                log.warning("presence: heartbeat failed: %s", exc)

    async def _beat(self) -> None:
        """Stays listed as live; reaps nodes whose heartbeats stopped."""
        added, dead = await self._beat_script(keys=[self._nodes], args=[self.node, self._ttl_ms])
        if added and self._open:  # presumed dead and counted out meanwhile: count again
            self._touched |= set(self._open)
            self._wake.set()
        for raw in dead:
            other = raw.decode() if isinstance(raw, bytes) else str(raw)
            if other == self.node:
                continue
            gone = await self._reap(
                keys=[self._nodes, self._node_set + other], args=[other, self._users]
            )
            if gone:
                log.info("presence: node %s stopped beating; %d users away", other, len(gone))
            for member in gone:
                text = member.decode() if isinstance(member, bytes) else str(member)
                team, _, user = text.partition(":")
                self._announce(team, user, "away")

    async def close(self, timeout: float = 2.0) -> None:
        """Counts this node's connections out (announcing who is now away) and leaves."""
        await cancel_all(self._tasks)  # again and again: redis-py may swallow one
        self._touched |= set(self._open)
        self._open.clear()
        try:
            await asyncio.wait_for(self._leave(), timeout)
        except (*FAILURES, TimeoutError) as exc:
            log.warning("presence: could not leave cleanly (the heartbeat expiry will): %s", exc)

    async def _leave(self) -> None:
        await self._write()
        await self._client.zrem(self._nodes, self.node)
        await self._client.delete(self._node_set + self.node)
