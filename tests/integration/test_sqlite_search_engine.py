"""The embedded search engine's writes (FTS5 files, ``parley.storage.sqlite.search``):
a batch goes in as two statements, and every document comes out as it went in, whatever
its text, its id or its size; writing one again replaces it, and removing takes it out."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.config import Settings
from parley.search.interface import Doc, Scope
from parley.search.query import parse
from parley.storage.sqlite.search import MIGRATIONS, SqliteSearch, apply_statements
from parley.storage.sqlite.statements import op_statements

ids = st.integers(min_value=1, max_value=2**63 - 1)
docs = st.lists(
    st.builds(
        Doc,
        id=ids,
        channel=st.sampled_from(["C1", "C2", "CÄ"]),
        ts=st.integers(min_value=0, max_value=2**53),
        user=st.from_regex(r"[UBW][A-Z0-9]{1,10}", fullmatch=True),  # the server's ids
        text=st.text(max_size=200),
        has_link=st.booleans(),
    ),
    max_size=40,
    unique_by=lambda d: d.id,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=docs, second=docs, removed=st.lists(ids, max_size=10))
def test_a_batch_is_stored_as_written_replaced_and_removed(first, second, removed):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    op_statements(conn, None, apply_statements(first, []))
    op_statements(conn, None, apply_statements(second, removed))
    expected = {d.id: d for d in first if d.id not in removed}
    expected.update({d.id: d for d in second})
    rows = conn.execute("SELECT rowid, text, channel, ts, user, has_link FROM docs").fetchall()
    got = {r[0]: r[1:] for r in rows}
    assert got == {
        d.id: (d.text.replace("\0", " "), d.channel, d.ts, d.user, int(d.has_link))
        for d in expected.values()
    }
    conn.close()


@pytest.mark.parametrize("native", [True, False], ids=["c-thread", "python-thread"])
def test_words_on_either_side_of_a_nul_are_found(tmp_path, native):
    """Through either writer: the C extension's thread, and the Python thread used
    where it is not built."""

    async def run():
        engine = SqliteSearch(Settings.load({}, data_dir=tmp_path), 2, native=native)
        await engine.start()
        try:
            await engine.apply(
                [
                    Doc(1, "C1", 10, "U1", "before\0after", False),
                    Doc(2, "C1", 11, "U1", 'quotes "and" \\ back\nslash naïve', True),
                ],
                [],
            )
            found = {}
            for word in ("before", "after", "naive", "slash"):
                hits = await engine.search(
                    parse(word, dt.date(2026, 12, 5)),
                    Scope(("C1",)),
                    by_time=True,
                    ascending=True,
                    limit=10,
                )
                found[word] = [h.ts for h in hits.hits]
            return found
        finally:
            await engine.close()

    assert asyncio.run(run()) == {"before": [10], "after": [10], "naive": [11], "slash": [11]}
