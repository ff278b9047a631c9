"""The SQLite backend on real files: group commit, isolation of failing ops, ordering of
after-commit effects, migrations and the fixed shard count."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from parley import app
from parley.config import Settings
from parley.errors import ApiError, ConfigError, StorageError
from parley.storage.models import PostRequest
from parley.storage.sqlite import migrations
from parley.storage.sqlite.db import Writer, connect, migrate
from parley.storage.sqlite.messages import ShardState, SqliteMessageStore, op_post


def post(i: int, channel: str = "CAAAA", **kw) -> PostRequest:
    return PostRequest(
        id=i, channel=channel, team="TAAAA", user="UAAAA", bot_id=None, text=f"m{i}", **kw
    )


class Clock:
    """A clock that can be set, even backwards."""

    def __init__(self, now: int = 1_700_000_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_concurrent_posts_get_gap_free_seq_and_increasing_ts(tmp_path):
    clock = Clock()

    async def run():
        store = SqliteMessageStore(Settings.load({}, data_dir=tmp_path), shards=2, clock_us=clock)
        await store.start()
        order: list[int] = []
        results = await asyncio.gather(
            *(
                store.post(
                    post(i, channel=f"C{i % 3}"), after_commit=lambda r: order.append(r.message.id)
                )
                for i in range(600)
            )
        )
        clock.now -= 10_000_000  # the clock steps back 10 s
        late = await store.post(post(600, channel="C0"))
        await store.close()
        return results, order, late

    results, order, late = asyncio.run(run())
    for ch in ("C0", "C1", "C2"):
        msgs = sorted((r.message for r in results if r.message.channel == ch), key=lambda m: m.seq)
        assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1))
        assert all(a.ts < b.ts for a, b in zip(msgs, msgs[1:], strict=False))
        assert [m.id for m in msgs] == sorted(m.id for m in msgs)  # submit order kept
    assert sorted(order) == list(range(600))  # every commit announced once
    c0 = [r.message for r in results if r.message.channel == "C0"]
    assert late.message.seq == len(c0) + 1 and late.message.ts > max(m.ts for m in c0)


def test_a_refused_op_does_not_fail_its_batch(tmp_path):
    async def run():
        store = SqliteMessageStore(Settings.load({}, data_dir=tmp_path), shards=1)
        await store.start()
        outcomes = await asyncio.gather(
            store.post(post(1)),
            store.post(post(2, thread_ts=42)),
            store.post(post(3)),
            return_exceptions=True,
        )
        await store.close()
        return outcomes

    first, refused, third = asyncio.run(run())
    assert isinstance(refused, ApiError) and refused.code == "thread_not_found"
    assert (first.message.seq, third.message.seq) == (1, 2)


def test_a_failing_op_is_isolated_and_the_counters_recover(tmp_path):
    def broken(conn, state, *_):
        conn.execute("INSERT INTO messages (channel) VALUES ('CAAAA')")  # violates NOT NULL

    async def run():
        writer = Writer(
            tmp_path / "s.db",
            migrations.SHARD,
            state=ShardState(Clock()),
            synchronous="NORMAL",
            max_batch=100,
            name="test-writer",
        )
        writer.start()
        outcomes = await asyncio.gather(
            writer.submit(op_post, post(1)),
            writer.submit(broken),
            writer.submit(op_post, post(2)),
            return_exceptions=True,
        )
        after = await writer.submit(op_post, post(3))
        await writer.close()
        return outcomes, after

    (first, failed, second), after = asyncio.run(run())
    assert isinstance(failed, StorageError)
    assert (first.message.seq, second.message.seq, after.message.seq) == (1, 2, 3)


def test_idempotent_client_msg_id_in_one_batch(tmp_path):
    async def run():
        store = SqliteMessageStore(Settings.load({}, data_dir=tmp_path), shards=1)
        await store.start()
        a, b = await asyncio.gather(
            store.post(post(1, client_msg_id="x")), store.post(post(2, client_msg_id="x"))
        )
        page = await store.history("CAAAA", before=1 << 62, after=-1, limit=10)
        await store.close()
        return a, b, page

    a, b, page = asyncio.run(run())
    assert not a.duplicate and b.duplicate and b.message.ts == a.message.ts
    assert len(page.rows) == 1


def test_migrations_are_idempotent_and_refuse_a_newer_schema(tmp_path):
    conn = connect(tmp_path / "m.db")
    assert migrate(conn, migrations.SHARD) == len(migrations.SHARD)
    assert migrate(conn, migrations.SHARD) == len(migrations.SHARD)
    conn.execute(f"PRAGMA user_version={len(migrations.SHARD) + 1}")
    with pytest.raises(StorageError, match="newer"):
        migrate(conn, migrations.SHARD)
    conn.close()


def test_wal_mode_and_shard_files(tmp_path):
    async def run():
        svc = await app.start(Settings.load({}, data_dir=tmp_path, shards=3, gateway_port=0))
        await svc.close()

    asyncio.run(run())
    names = sorted(p.name for p in tmp_path.glob("*.db"))
    assert names == ["meta.db", "shard-0.db", "shard-1.db", "shard-2.db"]
    conn = sqlite3.connect(tmp_path / "shard-0.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_data_dir_keeps_its_shard_count(tmp_path):
    async def start(shards: int):
        svc = await app.start(Settings.load({}, data_dir=tmp_path, shards=shards, gateway_port=0))
        await svc.close()

    asyncio.run(start(3))
    with pytest.raises(ConfigError, match="3 shards"):
        asyncio.run(start(5))
