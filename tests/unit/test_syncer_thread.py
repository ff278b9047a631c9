"""The C syncer (``parley.storage.sqlite._syncer``) on real SQLite files: the handles it
finds, what its thread commits and syncs, what it reports when either fails, and the
order it hands results back in; then how those results settle a writer's batch."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import select
import sqlite3
import threading

import pytest

from parley.errors import StorageError, StorageUnavailable
from parley.storage.sqlite import _syncer
from parley.storage.sqlite.db import connect
from parley.storage.sqlite.syncer import (
    NativeSyncer,
    Pending,
    Wal,
    make_syncer,
    open_with_handle,
    settle_finished,
    sqlite_error,
)

SQLITE_CONSTRAINT = 19


def results(syncer, expected: int, timeout: float = 5.0) -> list[tuple]:
    """Waits on the syncer's eventfd until ``expected`` results are collected."""
    got: list[tuple] = []
    while len(got) < expected:
        ready, _, _ = select.select([syncer.fileno()], [], [], timeout)
        assert ready, f"only {len(got)} of {expected} results came back"
        got += syncer.collect()
    return got


@pytest.fixture
def db(tmp_path):
    """A WAL-mode file with a table, its writer's connection and handle, its WAL's fd."""
    path = tmp_path / "t.db"
    conn, handle = open_with_handle(path, "NORMAL")
    conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    fd = os.open(f"{path}-wal", os.O_RDONLY)
    yield path, conn, handle, fd
    os.close(fd)
    conn.close()


def count(path) -> int:
    with sqlite3.connect(path) as other:
        return other.execute("SELECT count(*) FROM t").fetchone()[0]


def test_a_connection_opened_after_capture_is_found_with_its_file(tmp_path):
    _syncer.capture()
    conn = sqlite3.connect(tmp_path / "a.db")
    handle = _syncer.captured()
    assert handle != 0
    assert os.path.samefile(_syncer.filename(handle), tmp_path / "a.db")
    assert _syncer.captured() == 0  # taken once
    conn.close()


def test_only_the_next_connection_of_the_capturing_thread_is_found(tmp_path):
    _syncer.capture()
    opened = threading.Thread(target=lambda: sqlite3.connect(tmp_path / "other.db").close())
    opened.start()
    opened.join()
    assert _syncer.captured() == 0  # another thread's open is not this one's
    _syncer.capture()
    first = sqlite3.connect(tmp_path / "first.db")
    second = sqlite3.connect(tmp_path / "second.db")
    assert os.path.samefile(_syncer.filename(_syncer.captured()), tmp_path / "first.db")
    first.close()
    second.close()


def test_the_thread_commits_the_open_transaction_and_syncs_the_wal(db):
    path, conn, handle, fd = db
    syncer = _syncer.Syncer("test-sync")
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
        assert count(path) == 0  # not committed yet
        syncer.commit(handle, fd, "batch")
        assert results(syncer, 1) == [("batch", 0, None, 0)]
        assert not conn.in_transaction
        assert count(path) == 5
    finally:
        syncer.close()


def test_a_failed_commit_is_rolled_back_and_reported_with_sqlites_code_and_text(db):
    path, conn, handle, fd = db
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute(
        "CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    syncer = _syncer.Syncer()
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO child VALUES (7)")  # checked at COMMIT only
        syncer.commit(handle, fd, "batch")
        ((token, rc, message, sync_errno),) = results(syncer, 1)
        assert (token, rc & 0xFF, sync_errno) == ("batch", SQLITE_CONSTRAINT, 0)
        assert "FOREIGN KEY" in message
        assert not conn.in_transaction  # rolled back: the connection is usable
        assert count(path) == 0
        conn.execute("INSERT INTO t VALUES (2)")
        assert count(path) == 1
    finally:
        syncer.close()


def test_a_failed_sync_reports_its_errno_to_every_batch_it_covered(db):
    _path, conn, handle, _fd = db
    read_end, write_end = os.pipe()  # fdatasync() on a pipe fails with EINVAL
    syncer = _syncer.Syncer()
    try:
        syncer.commit(0, read_end, "first")
        syncer.commit(0, read_end, "second")
        syncer.commit(0, -1, "not synced")
        got = results(syncer, 3)
        assert [g[0] for g in got] == ["first", "second", "not synced"]
        assert [g[3] for g in got] == [errno.EINVAL, errno.EINVAL, 0]
        assert all(g[1] == 0 for g in got)
    finally:
        syncer.close()
        os.close(read_end)
        os.close(write_end)


def test_results_come_back_in_order_and_a_checkpoint_after_the_commits_before_it(db):
    path, conn, handle, fd = db
    reader, reader_handle = open_with_handle(path, "NORMAL")
    syncer = _syncer.Syncer()
    try:
        got = []
        for i in range(20):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            syncer.commit(handle, fd, i)
            got += results(syncer, 1)
        syncer.checkpoint(reader_handle, "checkpoint")
        got += results(syncer, 1)
        assert [g[0] for g in got] == [*range(20), "checkpoint"]
        assert all(g[1:] == (0, None, 0) for g in got)
        assert count(path) == 20
    finally:
        syncer.close()
        reader.close()


def test_each_sync_is_timed_and_counted_in_the_bucket_of_its_time(db):
    """``syncs()``: one count a ``fdatasync`` made, in the first bucket whose bound the
    sync took no longer than; commits asked not to sync are not counted."""
    _path, conn, handle, fd = db
    syncer = _syncer.Syncer(bounds=(0.0, 60.0))  # nothing takes 0 s; everything < 60 s
    try:
        assert syncer.syncs() == ((0, 0, 0), 0.0)
        for i in range(3):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            syncer.commit(handle, fd, i)
            results(syncer, 1)
        syncer.commit(0, -1, "not synced")
        results(syncer, 1)
        counts, seconds = syncer.syncs()
        assert counts == (0, 3, 0)
        assert 0 < seconds < 180
    finally:
        syncer.close()
    assert _syncer.Syncer().syncs() == ((0,), 0.0)  # no bounds: one bucket, +Inf


def test_close_finishes_what_was_queued_and_refuses_more(db):
    path, conn, handle, fd = db
    syncer = _syncer.Syncer()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES (1)")
    syncer.commit(handle, fd, "last")
    syncer.close()
    syncer.close()  # idempotent
    assert syncer.collect() == [("last", 0, None, 0)]
    assert count(path) == 1
    with pytest.raises(RuntimeError, match="closed"):
        syncer.commit(0, -1, "late")


def test_bad_arguments_are_refused(db):
    _path, _conn, handle, _fd = db
    syncer = _syncer.Syncer()
    try:
        with pytest.raises(TypeError):
            syncer.commit("handle", -1, None)
        with pytest.raises(ValueError):
            syncer.checkpoint(0, None)
        with pytest.raises(TypeError):
            _syncer.filename(None)
        with pytest.raises(ValueError):
            syncer.execute(0, [], None)
        with pytest.raises(TypeError, match="a statement is"):
            syncer.execute(handle, [("INSERT INTO t VALUES (1)",)], None)
        with pytest.raises(TypeError, match="a str, an int or None"):
            syncer.execute(handle, [("INSERT INTO t VALUES (?1)", 1.5)], None)
        with pytest.raises(TypeError):
            syncer.execute(handle, 5, None)
    finally:
        syncer.close()
    with pytest.raises(ValueError, match="ascend"):
        _syncer.Syncer(bounds=(0.2, 0.1))
    with pytest.raises(ValueError, match="at most 32"):
        _syncer.Syncer(bounds=[i / 100 for i in range(1, 34)])
    with pytest.raises(TypeError):
        _syncer.Syncer(bounds=("soon",))
    with pytest.raises(TypeError):
        _syncer.Syncer(bounds=5)


def test_statements_run_in_a_transaction_each_list_rolled_back_at_its_first_error(db):
    """``execute``: str, int and no parameter bound to ?1, rows a statement returns
    skipped; a list that fails (a constraint, bad SQL) leaves nothing of itself, with
    SQLite's code and text, and the lists around it are committed."""
    path, conn, handle, _fd = db
    syncer = _syncer.Syncer(name="t-exec")
    try:
        syncer.execute(
            handle,
            [
                ("INSERT INTO t VALUES (?1)", 1),
                ("INSERT INTO t VALUES (CAST(?1 AS INTEGER))", "2"),
                ("SELECT * FROM t", None),
                ("INSERT INTO t VALUES (3)", None),
            ],
            "first",
        )
        syncer.execute(
            handle, [("INSERT INTO t VALUES (4)", None), ("INSERT INTO t VALUES (?1)", 1)], "dup"
        )
        syncer.execute(handle, [("INSERT INTO t VALUES (5)", None), ("NOT SQL", None)], "bad")
        syncer.execute(handle, [("INSERT INTO t VALUES (?1)", 6)], "last")
        got = results(syncer, 4)
    finally:
        syncer.close()
    assert got[0] == ("first", 0, None, 0)
    assert got[1][:2] == ("dup", SQLITE_CONSTRAINT) and "UNIQUE" in got[1][2]
    assert got[2][:2] == ("bad", 1) and "syntax error" in got[2][2]
    assert got[3] == ("last", 0, None, 0)
    assert sorted(r[0] for r in conn.execute("SELECT x FROM t")) == [1, 2, 3, 6]
    assert count(path) == 4


def test_the_thread_runs_at_the_nice_it_was_given(db):
    """A background writer's thread yields the cores; the thread that started it keeps
    its own nice."""
    _path, _conn, handle, _fd = db
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    syncer = _syncer.Syncer(name="t-nice", nice=7)
    try:
        syncer.execute(handle, [], "started")  # once done, the thread is named and niced
        assert results(syncer, 1) == [("started", 0, None, 0)]
        named = []
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as comm:
                if comm.read().strip() == "t-nice":
                    named.append(int(tid))
        assert len(named) == 1
        assert os.getpriority(os.PRIO_PROCESS, named[0]) == max(own, 7)
    finally:
        syncer.close()
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own


def test_sqlite_codes_become_the_exceptions_pythons_module_raises():
    assert isinstance(sqlite_error(SQLITE_CONSTRAINT, "x"), sqlite3.IntegrityError)
    assert isinstance(sqlite_error(787, "x"), sqlite3.IntegrityError)  # ..._FOREIGNKEY
    assert isinstance(sqlite_error(5, "database is locked"), sqlite3.OperationalError)
    assert isinstance(sqlite_error(10, "disk I/O error"), sqlite3.OperationalError)
    assert type(sqlite_error(11, "malformed")) is sqlite3.DatabaseError
    assert str(sqlite_error(1, None)) == "SQLite error 1"


def test_the_native_syncer_is_the_one_chosen_here():
    """CI builds the extension (SQLite's headers are installed): were it silently not
    built, every shard would fall back to the Python thread."""
    assert isinstance(make_syncer("test-sync"), NativeSyncer)


def _pending(loop, wal: Wal, n: int, synced: list) -> tuple[Pending, list]:
    """A batch of ``n`` ops that each succeeded, its transaction left open, with their
    futures; ``synced`` gets what the writer's callback is told."""
    futs = [loop.create_future() for _ in range(n)]
    batch = [(None, (), fut, None) for fut in futs]
    results = [(True, i) for i in range(n)]
    return Pending(wal, [(batch, results)], None, synced.append), futs


def test_settling_a_failed_commit_a_failed_sync_and_a_checkpoint_in_their_order(tmp_path):
    async def run():
        loop = asyncio.get_running_loop()
        conns = [connect(tmp_path / name, synchronous="NORMAL") for name in ("s.db", "o.db")]
        for conn in conns:
            conn.execute("CREATE TABLE t (x)")  # the WAL exists once written
        wal, other = Wal(tmp_path / "s.db", sync=True), Wal(tmp_path / "o.db", sync=True)
        synced: list[bool] = []
        order: list[str] = []
        ok, ok_futs = _pending(loop, wal, 2, synced)
        bad_commit, commit_futs = _pending(loop, wal, 2, synced)
        bad_sync, sync_futs = _pending(loop, other, 1, synced)

        class Done:
            wal = other

            def done(self):
                order.append("checkpoint" if all(f.done() for f in sync_futs) else "early")

        settle_finished(
            [
                (ok, 0, None, 0),
                (bad_commit, 787, "FOREIGN KEY constraint failed", 0),
                (bad_sync, 0, None, errno.EIO),
                (Done(), 0, None, 0),
            ],
            "test",
        )
        for closing in (wal, other, *conns):
            closing.close()
        return synced, order, ok_futs, commit_futs, sync_futs

    synced, order, ok_futs, commit_futs, sync_futs = asyncio.run(run())
    assert synced == [True, False, True]  # the failed COMMIT tells its writer to forget
    assert [f.result() for f in ok_futs] == [0, 1]
    assert all(isinstance(f.exception(), StorageError) for f in commit_futs)
    assert "FOREIGN KEY" in str(commit_futs[0].exception())
    assert isinstance(sync_futs[0].exception(), StorageUnavailable)
    assert order == ["checkpoint"]


def test_a_busy_checkpoint_is_quiet_and_any_other_failure_warned_of(tmp_path, caplog):
    """A checkpoint beside the writer that met a commit (busy) is expected now and then:
    debug; any other failure is a warning. Either way its writer hears it is done."""

    class Done:
        wal = type("W", (), {"path": tmp_path / "s.db"})()
        calls = 0

        def done(self):
            Done.calls += 1

    caplog.set_level(logging.DEBUG, logger="parley.storage.sqlite.syncer")
    settle_finished([(Done(), 5, "database is locked", 0)], "test-busy")
    settle_finished([(Done(), 10, "disk I/O error", 0)], "test-io")
    levels = {r.getMessage().split(":")[0]: r.levelno for r in caplog.records}
    assert levels == {"test-busy": logging.DEBUG, "test-io": logging.WARNING}
    assert Done.calls == 2


# -- SQLite's memory statistics ---------------------------------------------------------


def run_fresh(code: str) -> list[str]:
    """``code`` in a new interpreter (SQLite's global setup is per process, and this one
    has connections open); its printed lines."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.split()


def test_unsharing_allocations_turns_the_statistics_off_and_keeps_handles_working(tmp_path):
    lines = run_fresh(
        f"""
import sqlite3
from pathlib import Path
from parley.storage.sqlite.syncer import native_available, open_with_handle, unshare_allocations
from parley.storage.sqlite import _syncer
print(unshare_allocations(), unshare_allocations())
conn, handle = open_with_handle(Path({str(tmp_path / "a.db")!r}), "FULL")
conn.execute("CREATE TABLE t (x)")
conn.execute("BEGIN")
conn.execute("INSERT INTO t VALUES (1)")
syncer = _syncer.Syncer(name="t")
syncer.commit(handle, -1, "done")
import select
select.select([syncer.fileno()], [], [], 5)
print(syncer.collect()[0][1], conn.execute("SELECT count(*) FROM t").fetchone()[0])
print(native_available(), unshare_allocations())
syncer.close()
"""
    )
    # off (and off again: nothing to do); the handle still captured, its COMMIT done by
    # the thread; still off, even with a connection open now
    assert lines == ["True", "True", "0", "1", "True", "True"]


def test_allocations_stay_shared_while_a_connection_is_open():
    lines = run_fresh(
        """
import sqlite3
conn = sqlite3.connect(":memory:")
from parley.storage.sqlite.syncer import native_available, unshare_allocations
print(unshare_allocations(), conn.execute("SELECT 2").fetchone()[0], native_available())
"""
    )
    # SQLite is not shut down under an open connection, which goes on working
    assert lines == ["False", "2", "True"]
