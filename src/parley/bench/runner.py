"""Runs a preset: starts a server, sets up users and channels, measures the same-run
baseline, runs senders and subscribers in their own processes, and reports."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import uvloop

from parley import admin
from parley.bench import clients, stats
from parley.bench.baseline import serve_echo
from parley.bench.http import Pool, closed_loop, decode
from parley.config import Settings
from parley.server import free_port, serve_command


@dataclass(frozen=True)
class Preset:
    name: str
    channels: int
    subscribers: int
    rate: float  # messages/s, open loop
    seconds: float
    connections: int = 32  # sender HTTP connections
    baseline_seconds: float = 2.0


PRESETS = {
    "smoke": Preset("smoke", channels=4, subscribers=20, rate=200, seconds=3, baseline_seconds=1.0),
    "latency": Preset("latency", channels=100, subscribers=1000, rate=5000, seconds=20),
}


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait_healthy(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _Api:
    """Set-up calls (not measured)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, token: str, **args: Any) -> dict:
        async def go() -> dict:
            pool = Pool(self.url, 1)
            await pool.open()
            try:
                _, body = await pool.post(f"/api/{method}", orjson.dumps(args), token)
            finally:
                pool.close()
            return decode(body)

        reply = uvloop.run(go())
        if not reply.get("ok"):
            raise RuntimeError(f"{method}: {reply}")
        return reply


def _baseline_echo(seconds: float) -> float:
    port = free_port("127.0.0.1")
    ready = mp.Event()
    echo = mp.Process(target=serve_echo, args=(port, ready), daemon=True)
    echo.start()
    ready.wait(10)
    body = orjson.dumps({"channel": "C0123456789", "text": "x" * 150})
    try:
        return uvloop.run(
            closed_loop(f"http://127.0.0.1:{port}", "/echo", body, connections=64, seconds=seconds)
        )
    finally:
        echo.kill()
        echo.join()


def run(preset: Preset, *, progress=None) -> dict[str, Any]:
    """Runs ``preset`` against a fresh embedded server; returns every figure."""
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        data = Path(tmp)
        settings = Settings.load({}, data_dir=data)
        say("setting up users and channels")
        sender = admin.create_user(settings, "bench-sender", rate_limit=100_000)
        subs = [
            admin.create_user(settings, f"bench-sub-{i}", bot=True, rate_limit=100)
            for i in range(preset.subscribers)
        ]
        port = free_port("127.0.0.1")
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            serve_command(data, port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_healthy(url)
            return _measure(preset, url, server.pid, sender, subs, say)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def _measure(preset: Preset, url: str, server_pid: int, sender, subs, say) -> dict[str, Any]:
    api = _Api(url)
    channels = [
        api.call("conversations.create", sender.token, name=f"bench-{i}")["channel"]["id"]
        for i in range(preset.channels)
    ]
    channel_of = [channels[i % len(channels)] for i in range(len(subs))]
    for ch in channels:
        members = [s.user_id for s, c in zip(subs, channel_of, strict=True) if c == ch]
        for start in range(0, len(members), 500):
            if members[start : start + 500]:
                api.call(
                    "conversations.invite",
                    sender.token,
                    channel=ch,
                    users=",".join(members[start : start + 500]),
                )
    say("measuring the same-run baseline (uvloop + httptools echo)")
    echo_rps = _baseline_echo(preset.baseline_seconds)
    urls = [api.call("rtm.connect", s.token)["url"] for s in subs]  # tickets live 30 s

    say(
        f"running {preset.name}: {preset.rate:g} msg/s for {preset.seconds:g} s, "
        f"{len(subs)} subscribers over {len(channels)} channels"
    )
    out, ready, senders_done = mp.Queue(), mp.Event(), mp.Event()
    until = time.monotonic_ns() + int((preset.seconds + 60) * 1e9)
    sub_proc = mp.Process(
        target=clients.run_subscribers,
        args=({"urls": urls, "until_ns": until, "quiet_seconds": 1.0}, ready, senders_done, out),
        daemon=True,
    )
    sub_proc.start()
    if not ready.wait(60):
        raise RuntimeError("subscribers did not connect")
    cpu0, t0 = _proc_cpu(server_pid), time.monotonic()
    start_ns = time.monotonic_ns() + 200_000_000
    send_out = mp.Queue()
    send_proc = mp.Process(
        target=clients.run_senders,
        args=(
            {
                "url": url,
                "targets": [[sender.token, ch] for ch in channels],
                "rate": preset.rate,
                "seconds": preset.seconds,
                "connections": preset.connections,
                "start_ns": start_ns,
            },
            send_out,
        ),
        daemon=True,
    )
    send_proc.start()
    sent = send_out.get()
    send_proc.join()
    senders_done.set()
    received = _collect_subscribers(out, sub_proc, preset)
    elapsed = time.monotonic() - t0
    server_cpu = _proc_cpu(server_pid) - cpu0
    return _report(
        preset,
        sent,
        received,
        channel_of,
        echo_rps,
        start_ns,
        server_cpu,
        elapsed,
        _proc_peak_rss_mib(server_pid),
    )


def _collect_subscribers(out, proc, preset: Preset) -> dict:
    """The subscribers stop by themselves once deliveries have been quiet for a second
    after the senders finished."""
    result = out.get(timeout=preset.seconds + 120)
    proc.join(10)
    return result


def _report(
    preset, sent, received, channel_of, echo_rps, start_ns, server_cpu, elapsed, peak_rss
) -> dict[str, Any]:
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
    delivery_lat: list[int] = []
    last_arrival = start_ns
    for got, channel in zip(received["received"], channel_of, strict=True):
        audit = stats.audit({channel: by_channel.get(channel, [])}, [(c, s) for c, s, _, _ in got])
        for key in totals:
            totals[key] += audit[key]
        seen: set[int] = set()
        for _c, seq, sched, arrival in got:
            if seq not in seen:
                seen.add(seq)
                delivery_lat.append((arrival - sched) // 1000)
                last_arrival = max(last_arrival, arrival)
    last_ack = max((r[1] for r in acked), default=start_ns)
    msgs_per_s = len(acked) / max(1e-9, (last_ack - start_ns) / 1e9)
    deliveries_per_s = totals["delivered"] / max(1e-9, (last_arrival - start_ns) / 1e9)
    return {
        "preset": asdict(preset),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "baseline": {"http_echo_rps": round(echo_rps)},
        "sent": len(records),
        "acknowledged": len(acked),
        "failed": failed,
        "delivery": totals,
        "delivery_rate": totals["delivered"] / totals["expected"] if totals["expected"] else 1.0,
        "ack_latency_ms": stats.latency_summary((r[1] - r[0]) // 1000 for r in acked),
        "delivery_latency_ms": stats.latency_summary(delivery_lat),
        "messages_per_s": round(msgs_per_s, 1),
        "deliveries_per_s": round(deliveries_per_s, 1),
        "send_ratio_to_echo": round(msgs_per_s / echo_rps, 4) if echo_rps else None,
        "server": {
            "cpu_seconds": round(server_cpu, 2),
            "peak_rss_mib": round(peak_rss, 1),
            "cpu_share": round(server_cpu / elapsed, 3) if elapsed else None,
        },
        "clients": {
            "sender_cpu_seconds": round(sent["cpu"], 2),
            "subscriber_cpu_seconds": round(received["cpu"], 2),
        },
    }


def table(result: dict[str, Any]) -> str:
    d, a, lat = result["delivery"], result["ack_latency_ms"], result["delivery_latency_ms"]

    def pct(s: dict) -> str:
        if not s.get("count"):
            return "-"
        return (
            f"p50 {s['p50']:.2f}  p90 {s['p90']:.2f}  p99 {s['p99']:.2f}  "
            f"p99.9 {s['p99.9']:.2f}  max {s['max']:.2f} ms"
        )

    rows = [
        ("preset", result["preset"]["name"]),
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
        ("ack latency", pct(a)),
        ("send-to-delivery latency", pct(lat)),
        (
            "messages/s, deliveries/s",
            f"{result['messages_per_s']:g}, {result['deliveries_per_s']:g}",
        ),
        (
            "same-run echo req/s, send ratio",
            f"{result['baseline']['http_echo_rps']}, {result['send_ratio_to_echo']}",
        ),
        (
            "server CPU s (share), peak RSS MiB",
            f"{result['server']['cpu_seconds']} "
            f"({result['server']['cpu_share']}), "
            f"{result['server']['peak_rss_mib']}",
        ),
        (
            "client CPU s (senders, subscribers)",
            f"{result['clients']['sender_cpu_seconds']}, "
            f"{result['clients']['subscriber_cpu_seconds']}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(name: str, json_path: str | None) -> int:
    preset = PRESETS[name]
    result = run(preset, progress=lambda msg: print(f"* {msg}", file=sys.stderr, flush=True))
    print(table(result))
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
    return 0
