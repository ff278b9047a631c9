"""FTS5 against tantivy on the corpus of ``parley bench search``: index build time and
single-client query latency for the same queries (top 20 by relevance plus the count).

Not part of Parley (tantivy is not a dependency). To run it:

    python3.11 -m venv /tmp/tv && /tmp/tv/bin/pip install tantivy
    PYTHONPATH=src /tmp/tv/bin/python docs/bench/compare_engines.py 1000000

It imports only the corpus generator (``parley.bench.corpus``), which needs nothing but
the standard library.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import tempfile
import time

import tantivy

from parley.bench.corpus import queries, vocabulary


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 3),
    }


def main(n: int) -> None:
    words = vocabulary(5000)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    rng = random.Random(11)
    docs = [" ".join(rng.choices(words, weights, k=rng.randint(6, 16))) for _ in range(n)]
    texts = [q.replace(" in:#corpus-0", "") for q in queries(words, 1000)]
    tmp = tempfile.mkdtemp()

    conn = sqlite3.connect(f"{tmp}/fts.db", isolation_level=None)
    conn.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(text, channel UNINDEXED, ts UNINDEXED, "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    started = time.monotonic()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO docs (rowid, text, channel, ts) VALUES (?, ?, ?, ?)",
        ((j, docs[j], f"C{j % 100}", j) for j in range(n)),
    )
    conn.execute("COMMIT")
    fts_build = time.monotonic() - started

    def fts_expression(q: str) -> str:
        return q if q.startswith('"') else " AND ".join(f'"{w}"*' for w in q.split())

    fts_times, fts_hits = [], 0
    for q in texts:
        t0 = time.monotonic()
        rows = conn.execute(
            "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 20",
            (fts_expression(q),),
        ).fetchall()
        conn.execute("SELECT count(*) FROM docs WHERE docs MATCH ?", (fts_expression(q),))
        fts_times.append(time.monotonic() - t0)
        fts_hits += len(rows)
    print("fts5", {"docs": n, "build_s": round(fts_build, 1), **percentiles(fts_times)})

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=False)
    builder.add_integer_field("id", stored=True, indexed=True)
    schema = builder.build()
    os.makedirs(f"{tmp}/tantivy")
    index = tantivy.Index(schema, path=f"{tmp}/tantivy")
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    started = time.monotonic()
    for j, text in enumerate(docs):
        writer.add_document(tantivy.Document(text=text, id=j))
    writer.commit()
    writer.wait_merging_threads()
    tv_build = time.monotonic() - started
    index.reload()
    searcher = index.searcher()

    def tv_expression(q: str) -> str:
        return q if q.startswith('"') else " AND ".join(f"{w}*" for w in q.split())

    tv_times, tv_hits = [], 0
    for q in texts:
        t0 = time.monotonic()
        found = searcher.search(index.parse_query(tv_expression(q), ["text"]), 20, count=True)
        tv_times.append(time.monotonic() - t0)
        tv_hits += len(found.hits)
    print("tantivy", {"docs": n, "build_s": round(tv_build, 1), **percentiles(tv_times)})
    print("top-20 hits returned:", {"fts5": fts_hits, "tantivy": tv_hits})


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
