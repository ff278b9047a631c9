"""The server's disk syncs during a run, from its ``parley_store_sync_seconds``
histogram (each ``fdatasync`` of a SQLite shard's WAL): how many were made while the
clients sent and how slow the slowest were, so a latency tail can be told apart as the
disk's (a send is acknowledged only once its group commit is synced) or the server's.

:func:`read` scrapes ``/metrics``; :func:`summary` (pure) compares two readings. The
histogram's buckets bound each figure from above: "p99 <= 2.5 ms" means 99% of the
syncs took at most 2.5 ms.
"""

from __future__ import annotations

import math
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

METRIC = "parley_store_sync_seconds"
#: Milliseconds: syncs slower than this are counted apart (a bucket bound).
SLOW_MS = 25.0

#: ``{le: syncs <= le}`` (seconds; ``inf`` last) and the total seconds.
Reading = tuple[dict[float, float], float]


def read(url: str, timeout: float = 10.0) -> Reading | None:
    """The server's sync histogram now, or None when it has none (MariaDB shards,
    ``NORMAL`` sync, a server that cannot be scraped or answers no Prometheus text)."""
    buckets: dict[float, float] = {}
    total = 0.0
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as r:
            text = r.read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:  # by the samples' names: with or without "# TYPE"
                if s.name == f"{METRIC}_bucket":
                    buckets[float(s.labels["le"])] = s.value
                elif s.name == f"{METRIC}_sum":
                    total = s.value
    except (OSError, ValueError):  # not there, or not Prometheus's format
        return None
    return (buckets, total) if buckets else None


def summary(before: Reading | None, after: Reading | None) -> dict[str, Any] | None:
    """The syncs made between two readings: their count, mean, the bucket bound under
    which 50%, 99% and 99.9% of them and the slowest fell (ms; None past the last bound,
    ``last_bound_ms``), and how many took over :data:`SLOW_MS`. None without both
    readings or without a sync between them."""
    if before is None or after is None:
        return None
    bounds = sorted(after[0])
    made = [after[0][b] - before[0].get(b, 0.0) for b in bounds]  # cumulative
    count = made[-1]
    if count <= 0:
        return None

    def bound_of(share: float) -> float | None:
        need = share * count
        bound = next(b for b, n in zip(bounds, made, strict=True) if n >= need)
        return bound * 1000 if math.isfinite(bound) else None

    under_slow = next((n for b, n in zip(bounds, made, strict=True) if b * 1000 >= SLOW_MS), count)
    return {
        "count": int(count),
        "mean_ms": round((after[1] - before[1]) / count * 1000, 3),
        "p50_at_most_ms": bound_of(0.5),
        "p99_at_most_ms": bound_of(0.99),
        "p99.9_at_most_ms": bound_of(0.999),
        "max_at_most_ms": bound_of(1.0),
        "last_bound_ms": max(b for b in bounds if math.isfinite(b)) * 1000,
        f"over_{SLOW_MS:g}_ms": int(count - under_slow),
    }


def at_most(s: dict[str, Any], key: str) -> str:
    """One of :func:`summary`'s bounds as text: ``<= 25``, or ``> 10000`` past the last."""
    value = s[key]
    return f"<= {value:g}" if value is not None else f"> {s['last_bound_ms']:g}"
