"""Pure arithmetic over what the clients recorded: latency histograms and the delivery
audit (missing, duplicates, order violations)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def _histogram(values_us: Iterable[int]) -> tuple[HdrHistogram, int]:
    hist = HdrHistogram(1, 3_600_000_000, 3)
    count = 0
    for v in values_us:
        hist.record_value(max(1, int(v)))
        count += 1
    return hist, count


def latency_summary(values_us: Iterable[int]) -> dict[str, Any]:
    """p50/p90/p99/p99.9/max in milliseconds, from microsecond samples (HDR, 3 digits)."""
    hist, count = _histogram(values_us)
    if not count:
        return {"count": 0}
    out: dict[str, Any] = {"count": count}
    for p in PERCENTILES:
        out[f"p{p:g}"] = hist.get_value_at_percentile(p) / 1000
    out["max"] = hist.get_max_value() / 1000
    return out


def distribution(values_us: Iterable[int], points: int = 50) -> list[tuple[float, float]]:
    """``(percentile, ms)`` pairs from p50 to p99.999, spaced evenly in ``1/(1-p)`` on a
    log scale (the classic HDR percentile plot); empty without samples."""
    hist, count = _histogram(values_us)
    if not count:
        return []
    out = []
    for k in range(points + 1):
        p = 100.0 * (1 - 0.5 * 10 ** (-math.log10(50_000) * k / points))
        out.append((round(p, 4), hist.get_value_at_percentile(p) / 1000))
    return out


def timeline(samples: Iterable[tuple[float, int]], bucket_s: float = 1.0) -> list[dict[str, Any]]:
    """Latency percentiles per ``bucket_s`` window of scheduled send time: ``samples`` are
    ``(seconds since start, latency us)``; returns ``{"t", "count", "p50", "p99",
    "p99.9", "max"}`` per non-empty window, in time order, latencies in ms."""
    buckets: dict[int, list[int]] = {}
    for t, v in samples:
        buckets.setdefault(int(t // bucket_s), []).append(v)
    out = []
    for b in sorted(buckets):
        hist, count = _histogram(buckets[b])
        row: dict[str, Any] = {"t": b * bucket_s, "count": count}
        for p in (50.0, 99.0, 99.9):
            row[f"p{p:g}"] = hist.get_value_at_percentile(p) / 1000
        row["max"] = hist.get_max_value() / 1000
        out.append(row)
    return out


def audit(expected: dict[str, list[int]], received: list[tuple[str, int]]) -> dict[str, int]:
    """Compares what one subscriber received, ``(channel, seq)`` in arrival order, with the
    acknowledged messages it should have seen (``expected[channel]`` = seqs).

    Returns counts of ``expected``, ``delivered`` (distinct expected ones that arrived),
    ``missing``, ``duplicates`` and ``order_violations`` (an arrival whose seq is lower
    than an earlier arrival's in the same channel, duplicates aside)."""
    wanted = {(c, s) for c, seqs in expected.items() for s in seqs}
    seen: set[tuple[str, int]] = set()
    last: dict[str, int] = {}
    duplicates = violations = 0
    for channel, seq in received:
        key = (channel, seq)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if seq < last.get(channel, 0):
            violations += 1
        last[channel] = max(seq, last.get(channel, 0))
    delivered = len(wanted & seen)
    return {
        "expected": len(wanted),
        "delivered": delivered,
        "missing": len(wanted) - delivered,
        "duplicates": duplicates,
        "order_violations": violations,
    }
