"""``parley shards list`` and ``parley shards add URL``: the shard map, and growing it.

Adding a shard is an explicit, offline operation, run with every writer stopped (API
and gateway nodes; it refuses while other connections use the databases, unless
forced). ``shard_for`` is ``crc32 % n``, so going from n to n+1 shards re-homes channels
onto every shard, not only the new one. For each channel whose shard changes:

1. the destination's rows of the channel are deleted (left by an earlier, interrupted
   run; the channel never lived there), then its messages, reactions and tail are
   copied in chunks;
2. the copy is checked (same message count, highest ``seq`` and reaction count);
3. the source's rows are deleted in one transaction.

A crash at any point leaves every channel whole on its source (or already moved), so
running the same command again finishes the job. ``meta.shard_move`` marks the move
in the directory until the end, and no node starts while it is there; then
``meta.shards`` and ``meta.shard_map`` record the new map. Afterwards every node must
run with the n+1 URLs in ``PARLEY_SHARDS``, the new one last.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from parley.config import Settings
from parley.errors import ConfigError, StorageError
from parley.storage.mysql import db, migrations
from parley.storage.mysql.directory import MysqlDirectory, run_sync, shard_map_meta
from parley.storage.mysql.messages import COLS, INSERT, check_index
from parley.storage.mysql.open import settings_topology
from parley.storage.mysql.urls import DbUrl, parse
from parley.storage.router import shard_for

#: Rows per copied chunk (one multi-row INSERT each).
CHUNK = 1000
#: Seconds a statement of a move may take: deleting a large channel from its old shard
#: is one transaction (so that a crash never leaves half a channel).
MOVE_TIMEOUT = 3600.0


def list_shards(settings: Settings) -> dict:
    """The recorded map and each configured shard, its replica and what it holds."""
    return run_sync(lambda: _list(settings))


def add_shard(settings: Settings, url: str, *, force: bool = False) -> dict:
    """Adds the shard at ``url`` (see the module docstring); returns what was moved."""
    return run_sync(lambda: _add(settings, url, force=force))


async def _open_directory(settings: Settings) -> MysqlDirectory:
    one = settings.with_(mysql_pool=1)
    directory = MysqlDirectory(one, settings_topology(settings).directory)
    await directory.start()
    return directory


async def _peek(url: DbUrl, timeout: float, table: str, sql: str, args: tuple = ()) -> Any:
    """The first row of ``sql`` run in ``url``'s database, or ``None`` when the database
    or ``table`` does not exist (listing creates nothing)."""
    conn = await db.connect(url, timeout=timeout, autocommit=True, database=False)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT COUNT(*) FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (url.database, table),
            )
            if not (await cur.fetchone())[0]:
                return None
            await cur.execute(f"USE `{url.database}`")
            await cur.execute(sql, args)
            return await cur.fetchone()
    except Exception as exc:  # noqa: BLE001 - translated
        raise db.translate(exc, url.redacted()) from exc
    finally:
        db.discard(conn)


async def _list(settings: Settings) -> dict:
    topo = settings_topology(settings)
    timeout = settings.mysql_timeout
    meta = {}
    for key in ("shards", "shard_move"):
        row = await _peek(
            topo.directory, timeout, "meta", "SELECT value FROM meta WHERE `key` = %s", (key,)
        )
        meta[key] = row[0] if row else None
    shards = []
    for i, (url, replica) in enumerate(zip(topo.shards, topo.replicas, strict=True)):
        row = await _peek(
            url, timeout, "messages", "SELECT COUNT(*), COUNT(DISTINCT channel) FROM messages"
        )
        shards.append(
            {
                "index": i,
                "url": url.redacted(),
                "replica": replica.redacted() if replica else None,
                "messages": int(row[0]) if row else None,
                "channels": int(row[1]) if row else None,
            }
        )
    return {
        "directory": topo.directory.redacted(),
        "recorded_shards": None if meta["shards"] is None else int(meta["shards"]),
        "moving": json.loads(meta["shard_move"]) if meta["shard_move"] else None,
        "shards": shards,
    }


async def busy(urls: Sequence[DbUrl], timeout: float) -> list[str]:
    """Other connections using these databases, as far as the account may see them
    (``information_schema.PROCESSLIST``), that are still there a second later (not
    ones just closing)."""
    found = await _others(urls, timeout)
    for _ in range(4):
        if not found:
            break
        await asyncio.sleep(0.25)
        found = [c for c in await _others(urls, timeout) if c in found]
    return found


async def _others(urls: Sequence[DbUrl], timeout: float) -> list[str]:
    found: list[str] = []
    servers: dict[tuple[str, int, str], tuple[DbUrl, set[str]]] = {}
    for u in urls:
        servers.setdefault((u.host, u.port, u.user), (u, set()))[1].add(u.database)
    for url, names in servers.values():

        async def others(cur: Any, names: set[str] = names) -> list[tuple]:
            await cur.execute(
                "SELECT ID, USER, HOST, DB FROM information_schema.PROCESSLIST "
                f"WHERE DB IN ({', '.join(['%s'] * len(names))}) AND ID <> CONNECTION_ID()",
                sorted(names),
            )
            return list(await cur.fetchall())

        conn = await db.connect(url, timeout=timeout, autocommit=True, database=False)
        try:
            async with conn.cursor() as cur:
                rows = await others(cur)
        except Exception as exc:  # noqa: BLE001 - translated
            raise db.translate(exc, url.redacted()) from exc
        finally:
            db.discard(conn)
        found += [f"connection {r[0]} of {r[1]}@{r[2]} on {r[3]}" for r in rows]
    return found


async def _channels(src: db.Pool) -> list[str]:
    async def q(cur: Any) -> list[str]:
        await cur.execute(
            "SELECT channel FROM channel_tails UNION SELECT DISTINCT channel FROM messages"
        )
        return sorted(r[0] for r in await cur.fetchall())

    return await src.run(q)


async def _wipe(pool: db.Pool, channel: str) -> None:
    async def q(cur: Any) -> None:
        for table in ("reactions", "messages", "channel_tails"):
            await cur.execute(f"DELETE FROM {table} WHERE channel = %s", (channel,))

    await pool.transaction(q)


async def _copy(src: db.Pool, dst: db.Pool, channel: str) -> tuple[int, int]:
    """Copies ``channel`` chunk by chunk; returns (messages, reactions) copied."""

    async def rows(cur: Any, sql: str, args: tuple) -> list[tuple]:
        await cur.execute(sql, args)
        return list(await cur.fetchall())

    async def insert(cur: Any, sql: str, batch: list[tuple]) -> None:
        await cur.executemany(sql, batch)

    messages = reactions = 0
    after = -1
    while True:
        batch = await src.run(
            rows,
            f"SELECT {COLS} FROM messages WHERE channel = %s AND seq > %s ORDER BY seq LIMIT %s",
            (channel, after, CHUNK),
        )
        if not batch:
            break
        await dst.transaction(insert, INSERT, batch)
        messages += len(batch)
        after = batch[-1][3]
    mark: tuple = (-1, "", "")
    while True:
        batch = await src.run(
            rows,
            "SELECT channel, ts, name, user, added FROM reactions WHERE channel = %s "
            "AND (ts, name, user) > (%s, %s, %s) ORDER BY ts, name, user LIMIT %s",
            (channel, *mark, CHUNK),
        )
        if not batch:
            break
        await dst.transaction(
            insert,
            "INSERT INTO reactions (channel, ts, name, user, added) VALUES (%s, %s, %s, %s, %s)",
            batch,
        )
        reactions += len(batch)
        mark = batch[-1][1:4]
    tail = await src.run(
        rows, "SELECT channel, seq, ts FROM channel_tails WHERE channel = %s", (channel,)
    )
    if tail:
        await dst.transaction(
            insert, "INSERT INTO channel_tails (channel, seq, ts) VALUES (%s, %s, %s)", tail
        )
    return messages, reactions


async def _summary(pool: db.Pool, channel: str) -> tuple[int, int, int]:
    async def q(cur: Any) -> tuple[int, int, int]:
        await cur.execute(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM messages WHERE channel = %s", (channel,)
        )
        n, top = await cur.fetchone()
        await cur.execute("SELECT COUNT(*) FROM reactions WHERE channel = %s", (channel,))
        return int(n), int(top), int((await cur.fetchone())[0])

    return await pool.run(q)


async def move_channel(src: db.Pool, dst: db.Pool, channel: str) -> int:
    """Moves ``channel`` from ``src`` to ``dst`` (idempotent); returns its message count."""
    await _wipe(dst, channel)
    await _copy(src, dst, channel)
    before, after = await _summary(src, channel), await _summary(dst, channel)
    if before != after:
        raise StorageError(
            f"copy of {channel} does not match (messages, top seq, reactions: {before} on "
            f"{src.url.redacted()}, {after} on {dst.url.redacted()}); nothing was deleted, "
            "run the command again"
        )
    await _wipe(src, channel)
    return before[0]


def _plan_urls(configured: Sequence[DbUrl], new: DbUrl, recorded: int) -> list[DbUrl]:
    """The current shards: ``PARLEY_SHARDS`` as recorded, or already ending in ``new``."""
    if len(configured) == recorded + 1 and configured[-1].place == new.place:
        configured = configured[:-1]
    if len(configured) != recorded:
        raise ConfigError(
            f"the directory records {recorded} shards; PARLEY_SHARDS names {len(configured)}: "
            "run `parley shards add` with PARLEY_SHARDS set to the current shards"
        )
    if new.place in {s.place for s in configured}:
        index = [s.place for s in configured].index(new.place)
        raise ConfigError(f"{new.redacted()} is already shard {index + 1}")
    return list(configured)


async def _add(settings: Settings, raw_url: str, *, force: bool) -> dict:
    topo = settings_topology(settings)
    new = parse(raw_url, "parley shards add URL")
    timeout = max(settings.mysql_timeout, MOVE_TIMEOUT)
    if not force:
        others = await busy([topo.directory, *topo.shards], timeout)
        if others:
            raise ConfigError(
                "stop every Parley node before adding a shard; still connected: "
                + "; ".join(others[:5])
                + (f" (and {len(others) - 5} more)" if len(others) > 5 else "")
                + ". --force skips this check"
            )
    directory = await _open_directory(settings)
    pools: list[db.Pool] = []
    try:
        recorded = await directory.meta("shards")
        if recorded is None:
            raise ConfigError(
                "the directory records no shard map yet: start Parley once on the current "
                "shards (or simply list every shard in PARLEY_SHARDS before the first start)"
            )
        old = _plan_urls(topo.shards, new, int(recorded))
        n = len(old)
        marker = {"from": n, "to": n + 1, "url": new.redacted()}
        moving = await directory.meta("shard_move")
        if moving is not None and json.loads(moving) != marker:
            raise ConfigError(f"an earlier `parley shards add` is unfinished: {moving}")
        await directory.set_meta({"shard_move": json.dumps(marker)})
        await db.prepare(new, "shard", migrations.SHARD, timeout=timeout)
        await check_index(new, n, timeout=timeout, claim=True)
        shards = [*old, new]
        for i, url in enumerate(old):
            await check_index(url, i, timeout=timeout, claim=False)
        pools = [db.Pool(u, size=1, timeout=timeout) for u in shards]
        channels = messages = 0
        for i in range(n):
            for channel in await _channels(pools[i]):
                j = shard_for(channel, n + 1)
                if j != i:
                    messages += await move_channel(pools[i], pools[j], channel)
                    channels += 1
        await directory.set_meta(shard_map_meta(shards))
    finally:
        for pool in pools:
            await pool.close()
        await directory.close()
    return {
        "shards": n + 1,
        "added": new.redacted(),
        "moved_channels": channels,
        "moved_messages": messages,
        "next": "start every node with the new URL last in PARLEY_SHARDS",
    }
