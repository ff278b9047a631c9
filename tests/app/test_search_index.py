"""The embedded search index survives what a process can suffer: documents lost from the
index (a crash before the indexer's last writes) come back at the next start, and
``parley search reindex`` rebuilds a deleted index from the store."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time

from parley.cli import main
from parley.ids import wall_us
from parley.search.indexer import PUBLISH_SLACK
from tests.app.test_search import wait_total
from tests.helpers import server_in_thread


def cli(*argv: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return json.loads(out.getvalue())


def test_lost_index_writes_are_recovered_at_start(tmp_path):
    """The watermark follows the indexer (a restart re-indexes seconds, not the store);
    whatever an index lacks after its watermark, as after a crash before the last bulk
    write, is indexed again at the next start."""
    began = wall_us()
    with server_in_thread(tmp_path) as srv:
        user = srv.user("keeper")
        client = srv.client(user.token)
        ch = client.conversations_create(name="kept")["channel"]["id"]
        for i in range(40):
            client.chat_postMessage(channel=ch, text=f"durable note {i}")
        wait_total(client, "durable", 40)
        last = client.conversations_history(channel=ch, limit=1)["messages"][0]["ts"]
        client.chat_update(channel=ch, ts=last, text="rewritten note")
        wait_total(client, "rewritten", 1)
        time.sleep(1.5)  # a bulk write after a second records the watermark
        client.chat_postMessage(channel=ch, text="one more")
        wait_total(client, "more", 1)
    with sqlite3.connect(tmp_path / "search-0.db") as conn:
        mark = conn.execute("SELECT value FROM state WHERE key = 'watermark'").fetchone()[0]
        assert began - PUBLISH_SLACK <= mark <= wall_us()
        # a crash before the writes of the last seconds: the index lacks them
        conn.execute("UPDATE state SET value = ?", (began - 1,))
    lost = 0
    for path in sorted(tmp_path.glob("search-*.db")):
        with sqlite3.connect(path) as conn:
            lost += conn.execute("DELETE FROM docs WHERE rowid % 2 = 0").rowcount
    assert lost > 0
    with server_in_thread(tmp_path) as srv:
        client = srv.client(user.token)
        wait_total(client, "durable", 39)
        wait_total(client, "rewritten", 1)


def test_reindex_rebuilds_a_deleted_index(tmp_path):
    with server_in_thread(tmp_path) as srv:
        user = srv.user("rebuilder")
        client = srv.client(user.token)
        ch = client.conversations_create(name="rebuilt")["channel"]["id"]
        posted = [client.chat_postMessage(channel=ch, text=f"archive entry {i}") for i in range(25)]
        client.chat_delete(channel=ch, ts=posted[0]["ts"])
        wait_total(client, "archive", 24)
    for path in tmp_path.glob("search-*.db*"):
        path.unlink()
    assert cli("search", "reindex", "--data-dir", str(tmp_path))["indexed"] == 25
    with server_in_thread(tmp_path) as srv:
        wait_total(srv.client(user.token), "archive", 24, timeout=0.5)
