"""The SQLite backend on real files: isolation of failing ops, migrations, WAL and the
fixed shard count. The contract both backends keep (numbering, group commit, refusals,
after-commit order, ...) is tested in ``test_store_contract.py``."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time

import pytest

from parley import app
from parley.config import Settings
from parley.errors import ConfigError, StorageError
from parley.storage.models import PostRequest
from parley.storage.sqlite import migrations
from parley.storage.sqlite.db import Writer, connect, migrate
from parley.storage.sqlite.messages import ShardState, op_post


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
    shards = ["shard-0.db", "shard-1.db", "shard-2.db"]
    search = ["search-0.db", "search-1.db", "search-2.db"]  # each shard's search index
    assert names == sorted(["meta.db", *shards, *search])
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


@pytest.fixture(params=["native", "thread"])
def syncer_kind(request):
    """Each syncer: the C extension's thread (which must be built here) and the Python
    thread used where it is not."""
    from parley.storage.sqlite.syncer import NativeSyncer, ThreadSyncer

    return {"native": NativeSyncer, "thread": ThreadSyncer}[request.param]


def loop_writer(path, syncer, **settings):
    """A started shard writer on ``path`` (``synchronous``, ``max_batch`` and the rest
    from ``settings``)."""
    from parley.storage.sqlite.inline import LoopWriter

    writer = LoopWriter(
        path,
        migrations.SHARD,
        state=ShardState(Clock()),
        name="test-loop-writer",
        syncer=syncer,
        **settings,
    )
    writer.start()
    return writer


def test_a_background_writer_runs_at_its_nice_and_the_event_loop_at_its_own(tmp_path):
    """The search index's writer thread yields the cores (its nice), the thread that
    started it keeps its own."""
    from parley.storage.sqlite.search import BACKGROUND_NICE, MIGRATIONS

    def nice(_conn, _state) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def run():
        writer = Writer(
            tmp_path / "x.db",
            MIGRATIONS,
            state=None,
            synchronous="NORMAL",
            max_batch=1,
            name="test-background",
            nice=BACKGROUND_NICE,
        )
        writer.start()
        try:
            return await writer.submit(nice), nice(None, None)
        finally:
            await writer.close()

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    background, loop = asyncio.run(run())
    assert background == max(own, BACKGROUND_NICE)
    assert loop == own


class Recording:
    """A syncer that notes when checkpoints are asked of it and done, and passes
    everything on to a real one (``inner``)."""

    def __init__(self, inner, name: str, log: list) -> None:
        self.inner, self.name, self.log = inner, name, log

    def start(self) -> None:
        self.inner.start()

    def hand_over(self, pending) -> None:
        self.inner.hand_over(pending)

    def checkpoint(self, wal, done) -> None:
        self.log.append((self.name, "asked"))

        def finished() -> None:
            self.log.append((self.name, "done"))
            done()

        self.inner.checkpoint(wal, finished)

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.parametrize("copied", [False, True], ids=["held", "copied-first"])
def test_the_wal_starts_over_under_a_steady_stream_of_writes(tmp_path, syncer_kind, copied):
    """Commits in every loop turn, a reader reading beside them, checkpoints asked for
    every 20 ms: the WAL is checkpointed whole and rewritten from its start, so it never
    grows past a small part of what was written through it (a checkpoint beside the
    writer never found it idle, and the WAL grew with every commit), and everything is
    in the file. With a copier, each checkpoint the writer is held for comes after the
    copier's, which ran beside it."""
    path = tmp_path / "s.db"
    commits = biggest = 0
    stop = threading.Event()

    def read() -> None:
        conn = sqlite3.connect(path)
        while not stop.is_set():
            conn.execute("SELECT count(*) FROM messages").fetchone()
            time.sleep(0.002)
        conn.close()

    async def run():
        nonlocal commits, biggest, restarts
        syncer = Recording(syncer_kind("test-sync"), "syncer", log)
        copier = Recording(syncer_kind("test-copy", closes_wals=False), "copier", log)
        writer = loop_writer(
            path,
            syncer,
            copier=copier if copied else None,
            synchronous="NORMAL",
            max_batch=100,
            checkpoint_every=0.02,
        )
        reader = threading.Thread(target=read)
        reader.start()
        seq = 0
        try:
            began = time.monotonic()
            # 3 s: the file's high-water mark is set by the longest run of restarts a
            # read beside them happened to block, which a longer run shares among more
            # commits (at 1.5 s it came near a quarter in one run of six)
            while time.monotonic() - began < 3.0:
                futs = []
                for _ in range(5):
                    seq += 1
                    futs.append(writer.submit(op_post, post(seq)))
                await asyncio.gather(*futs)
                commits += 1
                biggest = max(biggest, (tmp_path / "s.db-wal").stat().st_size)
            # the WAL header's checkpoint sequence number: once more each time it starts over
            restarts = int.from_bytes((tmp_path / "s.db-wal").read_bytes()[12:16], "big")
        finally:
            stop.set()
            reader.join()
            await writer.close()
            await copier.close()
            await syncer.close()
        return seq

    log: list[tuple[str, str]] = []
    restarts = 0
    written = asyncio.run(run())
    appended = commits * 4096  # a commit appends at least one page to the WAL
    assert commits > 400
    assert biggest < appended / 4
    assert restarts > 20
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*), max(seq) FROM messages").fetchone() == (written,) * 2
    conn.close()
    held = [i for i, entry in enumerate(log) if entry == ("syncer", "asked")]
    assert len(held) > 10
    if copied:  # each hold right after a copy: its done, then the held one asked
        assert all(log[i - 1] == ("copier", "done") for i in held)
        assert log.count(("copier", "asked")) >= len(held)
    else:
        assert ("copier", "asked") not in log


def test_the_loop_writer_settles_in_commit_order_once_synced_and_keeps_it(tmp_path, syncer_kind):
    """Shard writes on the event loop: every post is settled, hooks in commit order,
    the WAL synced and checkpointed by the syncer, and all of it is in the file after
    close; a failing op still fails alone."""

    def broken(conn, state, *_):
        conn.execute("INSERT INTO messages (channel) VALUES ('CAAAA')")  # violates NOT NULL

    hooked: list[int] = []

    async def run():
        syncer = syncer_kind("test-sync")
        writer = loop_writer(tmp_path / "s.db", syncer, synchronous="FULL", max_batch=7)
        futs = [
            writer.submit(op_post, post(i), after_commit=lambda r: hooked.append(r.message.seq))
            for i in range(1, 31)
        ]
        futs.insert(10, writer.submit(broken))
        outcomes = await asyncio.gather(*futs, return_exceptions=True)
        await writer.close()
        await syncer.close()
        return outcomes

    outcomes = asyncio.run(run())
    assert isinstance(outcomes.pop(10), StorageError)
    assert [r.message.seq for r in outcomes] == list(range(1, 31))
    assert hooked == list(range(1, 31))
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*), max(seq) FROM messages").fetchone() == (30, 30)
    conn.close()


def test_each_sync_of_a_wal_is_timed_and_counted_with_full_and_none_with_normal(
    tmp_path, syncer_kind
):
    """What ``parley_store_sync_seconds`` reports (:meth:`Syncer.syncs`): every group
    commit of a ``FULL`` shard synced and timed, by the buckets of ``SYNC_BOUNDS``; a
    ``NORMAL`` shard's commits not synced, so nothing counted."""
    from parley.storage.sqlite.syncer import SYNC_BOUNDS

    async def run(synchronous: str) -> tuple:
        syncer = syncer_kind("test-sync")
        writer = loop_writer(
            tmp_path / f"{synchronous}.db", syncer, synchronous=synchronous, max_batch=7
        )
        before = syncer.syncs()
        for i in range(1, 6):
            await writer.submit(op_post, post(i))  # one at a time: a commit each
        after = syncer.syncs()
        await writer.close()
        await syncer.close()
        return before, after

    (counts0, seconds0), (counts, seconds) = asyncio.run(run("FULL"))
    assert len(counts) == len(SYNC_BOUNDS) + 1
    assert sum(counts) - sum(counts0) >= 5
    assert seconds > seconds0
    _, (counts, seconds) = asyncio.run(run("NORMAL"))
    assert sum(counts) == 0 and seconds == 0


def test_the_loop_writer_commits_what_comes_during_a_sync_in_one_transaction(tmp_path, syncer_kind):
    """Group commit: one post a loop turn for 200 turns, each file sync (``FULL``) taking
    far longer than a turn; what comes while a commit is synced waits and goes in one
    transaction, so there are fewer transactions than turns, and every post is settled
    in order, hooks in commit order, and in the file."""
    statements: list[str] = []
    hooked: list[int] = []

    def trace(conn, _state) -> None:
        conn.set_trace_callback(statements.append)

    async def run():
        syncer = syncer_kind("test-sync")
        writer = loop_writer(tmp_path / "s.db", syncer, synchronous="FULL", max_batch=1000)
        await writer.submit(trace)
        futs = []
        for i in range(1, 201):
            futs.append(
                writer.submit(op_post, post(i), after_commit=lambda r: hooked.append(r.message.seq))
            )
            await asyncio.sleep(0)
        results = await asyncio.gather(*futs)
        await writer.close()
        await syncer.close()
        return results

    results = asyncio.run(run())
    assert [r.message.seq for r in results] == list(range(1, 201))
    assert hooked == list(range(1, 201))
    transactions = statements.count("BEGIN IMMEDIATE")
    assert 1 <= transactions <= 100, transactions
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*), max(seq) FROM messages").fetchone() == (200, 200)
    conn.close()


def test_a_commit_that_fails_at_the_syncer_fails_its_batch_whole(tmp_path, syncer_kind):
    """The syncer commits what the loop ran. When that ``COMMIT`` fails (here a deferred
    foreign key, the one check SQLite leaves to the commit), the whole batch is rolled
    back: every op of it fails with a storage error, no after-commit hook runs, nothing
    of it is in the file, and the writer goes on numbering from what is."""

    def poison(conn, _state) -> None:
        conn.execute("COMMIT")  # foreign keys can only be turned on between transactions
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute(
            "CREATE TEMP TABLE child "
            "(p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        conn.execute("INSERT INTO temp.child VALUES (1)")

    hooked: list[int] = []

    async def run():
        syncer = syncer_kind("test-sync")
        writer = loop_writer(tmp_path / "s.db", syncer, synchronous="FULL", max_batch=100)
        futs = [writer.submit(poison)] + [
            writer.submit(op_post, post(i), after_commit=lambda r: hooked.append(r.message.seq))
            for i in range(1, 6)
        ]
        outcomes = await asyncio.gather(*futs, return_exceptions=True)
        after = await writer.submit(op_post, post(6))
        await writer.close()
        await syncer.close()
        return outcomes, after

    outcomes, after = asyncio.run(run())
    assert all(isinstance(o, StorageError) for o in outcomes), outcomes
    assert "FOREIGN KEY" in str(outcomes[1])
    assert hooked == []
    assert after.message.seq == 1
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*), max(seq) FROM messages").fetchone() == (1, 1)
    conn.close()
