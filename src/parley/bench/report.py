"""Turns what the client processes recorded into the figures (pure), and the figures
into the table printed at the end."""

from __future__ import annotations

from typing import Any

from parley.bench import stats
from parley.bench.lateness import LATE_MS
from parley.bench.syncs import at_most


def audit_run(sent: dict, received: dict, channel_of: list[str], start_ns: int) -> dict[str, Any]:
    """Delivery audit and latencies of one load run.

    ``sent["records"]``: ``(sched_ns, ack_ns, error, channel, seq)``;
    ``received["received"]``: per subscriber connection, ``(channel, seq, sched_ns,
    arrival_ns, stored_ns)`` in arrival order (``stored_ns``: when the store wrote the
    message, 0 when unknown); ``channel_of``: each connection's channel.

    ``delivery_split_ms`` splits each delivery's latency where the store wrote its
    message: ``to_store`` (the scheduled send to the write: the sender's own delay, the
    request's way in, the checks, the wait for the shard's next batch) and
    ``after_store`` (the write to the subscriber's read: the commit and its sync, the
    event's way to the connections, their writes and the client's read)."""
    records = sent["records"]
    acked = [r for r in records if r[2] is None]
    failed: dict[str, int] = {}
    for r in records:
        if r[2] is not None:
            failed[r[2]] = failed.get(r[2], 0) + 1
    by_channel: dict[str, list[int]] = {}
    for r in acked:
        by_channel.setdefault(r[3], []).append(r[4])
    totals = {"expected": 0, "delivered": 0, "missing": 0, "duplicates": 0, "order_violations": 0}
    samples: list[tuple[float, int]] = []
    to_store: list[int] = []
    after_store: list[int] = []
    first_arrival, last_arrival = None, start_ns
    for got, channel in zip(received["received"], channel_of, strict=True):
        audit = stats.audit({channel: by_channel.get(channel, [])}, [(r[0], r[1]) for r in got])
        for key in totals:
            totals[key] += audit[key]
        seen: set[int] = set()
        for _c, seq, sched, arrival, stored in got:
            if seq not in seen:
                seen.add(seq)
                samples.append(((sched - start_ns) / 1e9, (arrival - sched) // 1000))
                if stored > 0:
                    to_store.append((stored - sched) // 1000)
                    after_store.append((arrival - stored) // 1000)
                last_arrival = max(last_arrival, arrival)
                first_arrival = arrival if first_arrival is None else min(first_arrival, arrival)
    last_ack = max((r[1] for r in acked), default=start_ns)
    latencies = [v for _, v in samples]
    span = (last_arrival - first_arrival) / 1e9 if first_arrival is not None else 0.0
    return {
        "sent": len(records),
        "acknowledged": len(acked),
        "failed": failed,
        "delivery": totals,
        "delivery_rate": totals["delivered"] / totals["expected"] if totals["expected"] else 1.0,
        "ack_latency_ms": stats.latency_summary((r[1] - r[0]) // 1000 for r in acked),
        "delivery_latency_ms": stats.latency_summary(latencies),
        "delivery_split_ms": {
            "to_store": stats.latency_summary(to_store),
            "after_store": stats.latency_summary(after_store),
        },
        "messages_per_s": round(len(acked) / max(1e-9, (last_ack - start_ns) / 1e9), 1),
        "deliveries_per_s": round(totals["delivered"] / span, 1) if span > 0 else 0.0,
        "timeline": stats.timeline(samples, 0.25 if samples and samples[-1][0] < 20 else 1.0),
        "distribution": stats.distribution(latencies),
    }


def passes(figures: dict[str, Any], p99_limit_ms: float) -> bool:
    """A throughput step holds when everything sent was acknowledged and delivered, in
    order, with p99 send-to-delivery under the limit."""
    d = figures["delivery"]
    lat = figures["delivery_latency_ms"]
    return (
        figures["sent"] == figures["acknowledged"] > 0
        and d["missing"] == 0
        and d["order_violations"] == 0
        and lat.get("count", 0) > 0
        and lat["p99"] < p99_limit_ms
    )


def _pct(s: dict) -> str:
    if not s.get("count"):
        return "-"
    return (
        f"p50 {s['p50']:.2f}  p90 {s['p90']:.2f}  p99 {s['p99']:.2f}  "
        f"p99.9 {s['p99.9']:.2f}  max {s['max']:.2f} ms"
    )


def _noise(noise: dict[str, Any]) -> str:
    """The other processes' CPU (:mod:`parley.bench.noise`) in a line: its mean and
    peak, and the first busy windows, each with the processes that took the CPU."""
    line = (
        f"mean {noise['mean_cores']:.2f} cores, peak {noise['peak_cores']:.2f} "
        f"at {noise['peak_t']:g} s; "
    )
    busy = noise["busy"]
    if not busy:
        return line + f"no {noise['window_s']:g} s at {noise['burst_cores']:g} cores or more"
    shown = []
    for window in busy[:3]:
        who = ", ".join(f"{p['name']} {p['cpu_s']:.2f} s" for p in window["processes"])
        shown.append(f"{window['t']:g} s {window['cores']:.2f}" + (f" ({who})" if who else ""))
    more = f" and {len(busy) - 3} more" if len(busy) > 3 else ""
    return line + f"busy ({noise['burst_cores']:g}+ cores): " + "; ".join(shown) + more


def _late(late: dict[str, Any]) -> str:
    """How late the bench's client processes ran (:mod:`parley.bench.lateness`), in a
    line: each process's count, how many of them it waited for a core, and its longest,
    with when."""
    parts = []
    for who in ("subscribers", "senders"):
        figures = late[who]
        if not figures["count"]:
            parts.append(f"{who} never")
            continue
        t = max(figures["late"], key=lambda e: e[1])[0]
        parts.append(
            f"{who} {figures['count']} times ({figures['waiting']} mostly waiting for a "
            f"core), longest {figures['max_ms']:g} ms at {t:g} s"
        )
    return "; ".join(parts)


def _syncs(s: dict[str, Any]) -> str:
    slow = next(k for k in s if k.startswith("over_"))
    return (
        f"{s['count']} syncs, mean {s['mean_ms']:g} ms; p50 {at_most(s, 'p50_at_most_ms')}, "
        f"p99 {at_most(s, 'p99_at_most_ms')}, p99.9 {at_most(s, 'p99.9_at_most_ms')}, "
        f"slowest {at_most(s, 'max_at_most_ms')} ms; {s[slow]} {slow.replace('_', ' ')}"
    )


def table(result: dict[str, Any]) -> str:
    """The human summary of a result."""
    rows: list[tuple[str, str]] = [("preset", f"{result['preset']['name']} ({result['route']})")]
    if "connections" in result:
        c = result["connections"]
        rows += [
            ("connections held", f"{c['held']} (asked for {c['asked']})"),
            ("stopped by", c["stopped_by"] or "-"),
            ("server open-files limit", str(c.get("server_fd_limit") or "-")),
            ("server memory per connection", f"{c['kib_per_connection']} KiB"),
            ("server RSS idle / loaded MiB", f"{c['rss_before_mib']} / {c['rss_after_mib']}"),
        ]
    if "steps" in result:
        for step in result["steps"]:
            lat = step["delivery_latency_ms"]
            synced = step.get("store_syncs")  # a stalled disk fails a step by itself
            slowest = f", slowest sync {at_most(synced, 'max_at_most_ms')} ms" if synced else ""
            rows.append(
                (
                    f"step {step['rate']:g} msg/s",
                    f"{'holds' if step['holds'] else 'fails'}: {step['messages_per_s']:g} msg/s, "
                    f"p99 {lat.get('p99', float('nan')):.2f} ms, "
                    f"missing {step['delivery']['missing']}, failed "
                    f"{sum(step['failed'].values())}{slowest}",
                )
            )
        rows.append(("highest rate that holds", f"{result['max_sustained_rate']:g} msg/s"))
    if "delivery" in result:
        d = result["delivery"]
        split = result.get("delivery_split_ms", {})
        rows += [
            (
                "sent / acknowledged / failed",
                f"{result['sent']} / {result['acknowledged']} / "
                f"{sum(result['failed'].values())} {result['failed'] or ''}",
            ),
            (
                "deliveries expected / delivered",
                f"{d['expected']} / {d['delivered']} ({result['delivery_rate']:.4%})",
            ),
            (
                "missing / duplicates / order violations",
                f"{d['missing']} / {d['duplicates']} / {d['order_violations']}",
            ),
            ("ack latency", _pct(result["ack_latency_ms"])),
            ("send-to-delivery latency", _pct(result["delivery_latency_ms"])),
            ("  of it, until the store wrote it", _pct(split.get("to_store", {}))),
            ("  of it, from the write to the read", _pct(split.get("after_store", {}))),
            (
                "messages/s, deliveries/s",
                f"{result['messages_per_s']:g}, {result['deliveries_per_s']:g}",
            ),
        ]
    if "index_lag_ms" in result:
        rows.append(("index lag (commit to searchable)", _pct(result["index_lag_ms"])))
    for platform, lag in result.get("push_lag_ms", {}).items():
        rows.append((f"push lag, {platform} (ack to provider)", _pct(lag)))
    if "push_burst" in result:
        b = result["push_burst"]
        rows += [
            (
                "push burst: delivered, pushes/s",
                f"{b['delivered']}/{b['expected']}, {b['pushes_per_s']:g}",
            ),
            ("push burst latency", _pct(b["latency_ms"])),
        ]
    if "search" in result:
        s = result["search"]
        rows += [
            ("store, index build", f"{s['messages']:,} messages, {s['index_build_seconds']} s"),
            ("queries/s", f"{s['queries_per_s']:g} ({s['concurrency']} clients)"),
            ("query latency", _pct(s["latency_ms"])),
        ]
    if "catchup_ms" in result:
        rows.append(("reconnect catch-up", _pct(result["catchup_ms"])))
    if "fault" in result:
        f = result["fault"]
        began, ended = f["outage_seconds"]
        rows += [
            ("fault", f"push providers answer 500 from {began:g} s to {ended:g} s"),
            (
                "pushes delivered (before replay)",
                f"{f['pushes_delivered']}/{f['pushes_expected']} = {f['push_delivery_pct']}% "
                f"({f['pushes_delivered_before_replay']})",
            ),
            (
                "it took: retries, breaker refusals, breakers opened",
                f"{f['retries']}, {f['breaker_refusals']}, "
                + ", ".join(f"{p} {n}" for p, n in f["breakers_opened"].items()),
            ),
            ("dead letters, replayed", f"{f['dead_letters']}, {f['replayed']}"),
        ]
    base = result.get("baseline", {})
    if "http_echo_rps" in base:
        rows.append(
            (
                "same-run echo req/s, send ratio",
                f"{base['http_echo_rps']}, {result.get('send_ratio_to_echo')}",
            )
        )
    if "ws_broadcast_fps" in base:
        rows.append(
            (
                "same-run broadcast frames/s, ratio",
                f"{base['ws_broadcast_fps']}, {result.get('fanout_ratio_to_broadcast')}",
            )
        )
    server = result.get("server") or {}
    if server:
        label = "server CPU s (share), peak RSS MiB"
        if "processes" in server:  # a fleet behind a balancer: its processes summed
            label = f"{server['processes']} Parley servers: CPU s (cores), peak RSS MiB"
        rows.append(
            (
                label,
                f"{server['cpu_seconds']} ({server['cpu_share']}), {server['peak_rss_mib']}",
            )
        )
    clients = result.get("clients")
    if clients:
        rows.append(
            (
                "client CPU s (senders, subscribers)",
                f"{clients['sender_cpu_seconds']}, {clients['subscriber_cpu_seconds']}",
            )
        )
    loop = result.get("server_loop_thread")
    if loop:
        rows.append(
            (
                "server loop thread while sending: running, waiting",
                f"{loop['running']}, {loop['waiting']} of the time (waiting: for a CPU)",
            )
        )
    others = result.get("server_threads")
    if others:
        rows.append(
            (
                "its other threads: running, waiting",
                "; ".join(f"{t['name']} {t['running']}, {t['waiting']}" for t in others),
            )
        )
    synced = result.get("store_syncs")
    if synced:
        rows.append(("store's WAL syncs while sending", _syncs(synced)))
    machine = result.get("machine_use")
    if machine:
        rows.append(
            (
                "machine cores busy (stolen) of N",
                f"{machine['busy_cores']} ({machine['steal_cores']}) of {machine['cpus']}",
            )
        )
    busiest = result.get("processes")
    if busiest:
        rows.append(
            (
                "busiest processes (cores)",
                ", ".join(f"{p['name']} {p['cores']:.2f}" for p in busiest[:6]),
            )
        )
    noise = result.get("machine_noise")
    if noise:
        rows.append(("other processes' CPU while sending", _noise(noise)))
    late = result.get("client_lateness")
    if late:
        rows.append((f"bench clients late to run ({LATE_MS:g}+ ms)", _late(late)))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
