"""Pure arithmetic over what the clients recorded: latency histograms and the delivery
audit (missing, duplicates, order violations)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def latency_summary(values_us: Iterable[int]) -> dict[str, Any]:
    """p50/p90/p99/p99.9/max in milliseconds, from microsecond samples (HDR, 3 digits)."""
    hist = HdrHistogram(1, 3_600_000_000, 3)
    count = 0
    for v in values_us:
        hist.record_value(max(1, int(v)))
        count += 1
    if not count:
        return {"count": 0}
    out: dict[str, Any] = {"count": count}
    for p in PERCENTILES:
        out[f"p{p:g}"] = hist.get_value_at_percentile(p) / 1000
    out["max"] = hist.get_max_value() / 1000
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
