"""The statement writer (``parley.storage.sqlite.statements``), on both of its threads:
lists of statements run in the order submitted, a transaction each; one that fails fails
alone and leaves nothing; close finishes what was submitted."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from parley.errors import StorageError, StorageUnavailable
from parley.storage.sqlite.statements import (
    NativeStatementWriter,
    ThreadStatementWriter,
    make_statement_writer,
)

STEPS = ["CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)"]


@pytest.mark.parametrize("native", [True, False], ids=["c-thread", "python-thread"])
def test_lists_run_in_order_a_failing_one_alone_and_close_finishes_them(tmp_path, native):
    path = tmp_path / "w.db"

    async def run():
        writer = make_statement_writer(
            path, STEPS, synchronous="NORMAL", name="test-statements", native=native
        )
        assert isinstance(writer, NativeStatementWriter if native else ThreadStatementWriter)
        writer.start()
        first = writer.run([("INSERT INTO t VALUES (1, ?1)", "one"), ("DELETE FROM t", None)])
        second = writer.run([("INSERT INTO t VALUES (?1, 'two')", 2)])
        failing = writer.run(
            [("INSERT INTO t VALUES (3, 'three')", None), ("INSERT INTO t VALUES (2, 'x')", None)]
        )
        last = writer.run([("INSERT INTO t VALUES (4, ?1)", "four")])  # not awaited
        outcomes = await asyncio.gather(first, second, failing, return_exceptions=True)
        await writer.close()
        with pytest.raises(StorageUnavailable):
            writer.run([("DELETE FROM t", None)])
        return outcomes, last

    outcomes, last = asyncio.run(run())
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], StorageError) and "UNIQUE" in str(outcomes[2])
    assert last.done() and last.result() is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT x, y FROM t ORDER BY x").fetchall() == [(2, "two"), (4, "four")]
