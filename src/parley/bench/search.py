"""The search figures of ``parley bench``: how long a committed message takes to become
searchable under load (index lag), and how many ``search.messages`` queries a second a
store of many messages answers.

- :func:`lag_probe` runs beside a load: every ``interval`` seconds it posts a message
  holding a word nobody else writes and polls ``search.messages`` for it; the lag is
  from the acknowledgement to the first answer that finds it (so it includes one poll
  interval of resolution, :data:`POLL`).
- :func:`build_corpus` fills a data dir with ``messages`` messages straight through the
  store (set-up, not measured) and builds the index; :func:`query_load` then runs
  ``concurrency`` clients issuing queries drawn from the corpus's vocabulary.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from parley import admin
from parley.bench import stats
from parley.bench.corpus import vocabulary
from parley.bench.http import Pool, decode
from parley.config import Settings

#: Seconds between two searches while waiting for a probe message.
POLL = 0.02


def lag_probe(url: str, token: str, channel: str, stop: threading.Event, interval: float) -> list:
    """Lags (microseconds) of probe messages until ``stop`` is set; run in a thread."""
    lags: list[int] = []

    async def go() -> None:
        pool = Pool(url, 2)
        await pool.open()
        try:
            while not stop.is_set():
                marker = "zqprobe" + secrets.token_hex(6)
                body = orjson.dumps({"channel": channel, "text": f"probe {marker}"})
                _, reply = await pool.post("/api/chat.postMessage", body, token)
                if not decode(reply).get("ok"):
                    raise RuntimeError(f"probe post failed: {reply[:200]!r}")
                acked = time.monotonic_ns()
                query = orjson.dumps({"query": marker})
                while True:
                    _, found = await pool.post("/api/search.messages", query, token)
                    if decode(found)["messages"]["total"]:
                        lags.append((time.monotonic_ns() - acked) // 1000)
                        break
                    if time.monotonic_ns() - acked > 30e9:
                        raise RuntimeError("a probe message never became searchable")
                    await asyncio.sleep(POLL)
                await asyncio.sleep(interval)
        finally:
            pool.close()

    asyncio.run(go())
    return lags


# -- a big store and queries against it ----------------------------------------------------


def build_corpus(data_dir: Path, messages: int, channels: int, say) -> dict[str, Any]:
    """A workspace of one searching user in ``channels`` channels holding ``messages``
    messages of Zipf-distributed words, indexed. Returns the user's token and the
    vocabulary."""
    settings = Settings.load(data_dir=data_dir)  # PARLEY_SHARDS=mysql://... measures MariaDB
    user = admin.create_user(settings, "searcher", announce=False)
    team = user.team_id
    chans = [
        admin.ensure_channel(settings, team, f"corpus-{i}", user.user_id, [user.user_id]).id
        for i in range(channels)
    ]
    words = vocabulary(5000)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    say(f"writing {messages:,} messages into {channels} channels (set-up)")
    asyncio.run(_fill(settings, team, user.user_id, chans, words, weights, messages))
    say("building the search index (parley search reindex)")
    started = time.monotonic()
    indexed = asyncio.run(_reindex(settings))
    return {
        "token": user.token,
        "words": words,
        "messages": indexed,
        "index_build_seconds": round(time.monotonic() - started, 1),
    }


async def _fill(settings, team, user_id, channels, words, weights, total) -> None:
    from parley.app import open_storage
    from parley.ids import Snowflake
    from parley.storage.models import PostRequest

    rng = random.Random(11)
    ids = Snowflake(settings.worker_id)
    directory, store = await open_storage(settings)
    try:
        batch = 2000
        for start in range(0, total, batch):
            posts = []
            for _ in range(min(batch, total - start)):
                text = " ".join(rng.choices(words, weights, k=rng.randint(6, 16)))
                req = PostRequest(ids.next(), rng.choice(channels), team, user_id, None, text)
                posts.append(store.post(req))
            await asyncio.gather(*posts)
    finally:
        await store.close()
        await directory.close()


async def _reindex(settings: Settings) -> int:
    from parley.app import open_search, open_storage
    from parley.search.indexer import rebuild

    directory, store = await open_storage(settings)
    try:
        index = await open_search(settings, store)
        try:
            return await rebuild(store, index)
        finally:
            await index.close()
    finally:
        await store.close()
        await directory.close()


def query_load(url: str, token: str, texts: list[str], seconds: float, concurrency: int) -> dict:
    """``concurrency`` closed-loop clients querying for ``seconds``: queries/s and
    latency percentiles."""
    latencies: list[int] = []

    async def client(pool: Pool, offset: int, until: float) -> None:
        i = offset
        while time.monotonic() < until:
            body = orjson.dumps({"query": texts[i % len(texts)], "count": 20})
            t0 = time.monotonic_ns()
            _, reply = await pool.post("/api/search.messages", body, token)
            latencies.append((time.monotonic_ns() - t0) // 1000)
            if not decode(reply).get("ok"):
                raise RuntimeError(f"search failed: {reply[:200]!r}")
            i += concurrency

    async def go() -> float:
        pool = Pool(url, concurrency)
        await pool.open()
        try:
            started = time.monotonic()
            until = started + seconds
            await asyncio.gather(*(client(pool, k, until) for k in range(concurrency)))
            return time.monotonic() - started
        finally:
            pool.close()

    elapsed = asyncio.run(go())
    return {
        "queries": len(latencies),
        "queries_per_s": round(len(latencies) / elapsed, 1),
        "concurrency": concurrency,
        "latency_ms": stats.latency_summary(latencies),
    }
