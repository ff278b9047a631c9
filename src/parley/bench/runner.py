"""Runs a preset: a server (its own, or ``--url``), the workspace, the same-run baselines,
then the load from client processes of their own, and the report.

Every client runs in a separate process so that the load generator is not the
bottleneck it measures; the parent only orchestrates, shows progress and does the
arithmetic afterwards.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop
from tqdm import tqdm

from parley import admin
from parley.bench import (
    clients,
    faults,
    lateness,
    noise,
    procs,
    push,
    report,
    search,
    stats,
    syncs,
)
from parley.bench.baseline import serve_broadcast, serve_echo
from parley.bench.corpus import queries
from parley.bench.http import closed_loop
from parley.bench.presets import PRESETS, Preset
from parley.bench.world import Target, World, attach, call, own_server, populate
from parley.notify import fakes
from parley.server import free_port

IDLE_PER_PROCESS = 6000  # idle connections per client process (fds are 20,000 a process)
IDLE_PER_USER = 10  # idle connections per user, well under the gateway's per-user cap


def run(
    preset: Preset,
    *,
    url: str | None = None,
    data_dir: str | None = None,
    say=None,
    progress: bool = False,
) -> dict[str, Any]:
    """Runs ``preset`` against a fresh embedded server (or the server at ``url``, whose
    data dir is ``data_dir``); returns every figure."""
    say = say or (lambda _msg: None)
    if preset.kind == "search":
        if url:
            raise ValueError("the search preset builds its own store: run it without --url")
        with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
            corpus = search.build_corpus(Path(tmp), preset.corpus, preset.channels, say)
            with own_server(Path(tmp)) as target:
                return _search(preset, target, corpus, say)
    if preset.push_probe or preset.push_burst or preset.fault == "push":
        if url:
            raise ValueError("push runs configure their own server: run them without --url")
        with (
            tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp,
            fakes.running(Path(tmp) / "providers") as providers,
            own_server(Path(tmp) / "data", providers.settings) as target,
        ):
            return _run(preset, target, say, progress, providers)
    if url:
        if not data_dir:
            raise ValueError("--url needs --data-dir: the bench creates its users there")
        return _run(preset, attach(url, Path(data_dir)), say, progress)
    with (
        tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp,
        own_server(Path(tmp)) as target,
    ):
        return _run(preset, target, say, progress)


def _run(
    preset: Preset,
    target: Target,
    say,
    progress: bool,
    providers: fakes.LocalProviders | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "preset": asdict(preset),
        "route": preset.route,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    if preset.kind == "connections":
        result.update(_connections(target, preset, say))
        result["server"] = _server_figures(target, 0.0, 0.0)
        return result
    world = populate(target, preset, say)
    say("measuring the same-run HTTP baseline (uvloop + httptools echo)")
    echo = _baseline_echo(preset.baseline_seconds)
    result["baseline"] = {"http_echo_rps": round(echo)}
    if preset.kind == "fanout":
        frames = int(preset.rate * preset.seconds)
        say(f"measuring the same-run broadcast: {frames} frames to {preset.subscribers} sockets")
        result["baseline"]["ws_broadcast_fps"] = round(
            _baseline_broadcast(preset.subscribers, frames)
        )
    if preset.kind == "throughput":
        result.update(_throughput(target, world, preset, say, progress))
    else:
        say(
            f"running {preset.name}: {preset.rate:g} msg/s for {preset.seconds:g} s over "
            f"{preset.route}, {preset.subscribers} subscribers on {preset.channels} channels"
        )
        probe = _start_probe(target, world, preset)
        push_probe = _start_push_probe(target, world, preset, providers)
        outage = None
        if preset.fault == "push" and providers is not None:
            outage = faults.PushOutage(target, world, providers, preset.seconds)
            say(
                f"fault: the push providers answer 500 from {outage.window[0]:g} s to "
                f"{outage.window[1]:g} s"
            )
            outage.start()
        raw = _load(target, world, preset, preset.rate, preset.seconds, progress)
        if outage is not None:
            result["fault"] = outage.finish(say)
        if probe is not None:
            result["index_lag_ms"] = stats.latency_summary(probe())
        if push_probe is not None:
            lags = push_probe()
            result["push_lag_ms"] = {p: stats.latency_summary(v) for p, v in lags.items()}
        if preset.push_burst and providers is not None:
            owner_token = world.sender_tokens[world.targets[0][0]]
            result["push_burst"] = push.burst(
                target, owner_token, providers, preset.push_burst, 10, say
            )
        result.update(
            report.audit_run(raw["sent"], raw["received"], world.channel_of, raw["start_ns"])
        )
        result["server"] = _server_figures(target, raw["cpu"], raw["elapsed"])
        result["clients"] = raw["clients"]
        result["machine_use"] = raw["machine_use"]
        result["processes"] = raw["processes"]
        result["machine_noise"] = raw["noise"]
        result["client_lateness"] = raw["lateness"]
        if raw["loop_thread"] is not None:
            result["server_loop_thread"] = raw["loop_thread"]
            result["server_threads"] = raw["threads"]
        if raw["store_syncs"] is not None:
            result["store_syncs"] = raw["store_syncs"]
        if raw["received"].get("catchup_us"):
            result["catchup_ms"] = stats.latency_summary(raw["received"]["catchup_us"])
            result["reconnects"] = len(raw["received"]["catchup_us"])
    if "messages_per_s" in result:
        result["send_ratio_to_echo"] = round(result["messages_per_s"] / echo, 4) if echo else None
    fps = result["baseline"].get("ws_broadcast_fps")
    if fps:
        result["fanout_ratio_to_broadcast"] = round(result["deliveries_per_s"] / fps, 4)
    return result


def _probe_channel(target: Target, world: World, what: str) -> tuple[str, str]:
    """A channel of its own for a probe, and the token that posts there: no subscriber
    follows it, so the probe's messages never delay the load's quiet end."""
    token = world.sender_tokens[0]
    name = f"bench-{what}-probe-{secrets.token_hex(3)}"
    return token, call(target.url, "conversations.create", token, name=name)["channel"]["id"]


def _start_probe(target: Target, world: World, preset: Preset):
    """Starts the index-lag probe beside a load (``search_probe``); returns the function
    that stops it and returns its lags, or ``None``."""
    if not preset.search_probe:
        return None
    stop, lags = threading.Event(), []
    token, channel = _probe_channel(target, world, "search")

    def probe() -> None:
        lags.extend(search.lag_probe(target.url, token, channel, stop, preset.search_probe))

    thread = threading.Thread(target=probe, name="search-probe", daemon=True)
    thread.start()

    def finish() -> list[int]:
        stop.set()
        thread.join(60)
        return lags

    return finish


def _start_push_probe(
    target: Target, world: World, preset: Preset, providers: fakes.LocalProviders | None
):
    """Starts the push probe beside a load (``push_probe``); returns the function that
    stops it and returns its lags per provider, or ``None``."""
    if not preset.push_probe or providers is None:
        return None
    token, channel = _probe_channel(target, world, "push")
    member = push.offline_member(target, token, channel, f"bench-offline-{secrets.token_hex(3)}")
    stop, lags = threading.Event(), {}

    def probe() -> None:
        lags.update(
            push.lag_probe(target.url, token, channel, member, providers, stop, preset.push_probe)
        )

    thread = threading.Thread(target=probe, name="push-probe", daemon=True)
    thread.start()

    def finish() -> dict[str, list[int]]:
        stop.set()
        thread.join(60)
        return lags

    return finish


def _search(preset: Preset, target: Target, corpus: dict, say) -> dict[str, Any]:
    texts = queries(corpus["words"], 2000)
    say(f"querying {corpus['messages']:,} messages with {preset.senders} clients")
    search.query_load(target.url, corpus["token"], texts[:50], 2.0, preset.senders)  # warm
    cpu0 = target.cpu_seconds()
    started = time.monotonic()
    figures = search.query_load(target.url, corpus["token"], texts, preset.seconds, preset.senders)
    return {
        "preset": asdict(preset),
        "route": "http",
        "search": {
            **figures,
            "messages": corpus["messages"],
            "index_build_seconds": corpus["index_build_seconds"],
        },
        "server": _server_figures(
            target,
            target.cpu_seconds() - cpu0,
            time.monotonic() - started,
        ),
    }


def _server_figures(target: Target, cpu: float, elapsed: float) -> dict[str, Any] | None:
    if not target.measured:
        return None
    figures = {
        "cpu_seconds": round(cpu, 2),
        "cpu_share": round(cpu / elapsed, 3) if elapsed else None,
        "peak_rss_mib": round(target.peak_rss_mib(), 1),
    }
    if target.pid is None:  # a fleet: the figures are its processes' sums
        figures["processes"] = len(target.fleet)
    return figures


# -- baselines --------------------------------------------------------------------------


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


def _baseline_broadcast(connections: int, frames: int) -> float:
    """Frames/s the bare broadcast delivers to ``connections`` sockets, as counted by the
    same subscriber client the scenario uses (first to last arrival)."""
    port = free_port("127.0.0.1")
    ready, go = mp.Event(), mp.Event()
    server = mp.Process(target=serve_broadcast, args=(port, ready, go, frames), daemon=True)
    server.start()
    ready.wait(10)
    try:
        spec = {
            "urls": [f"ws://127.0.0.1:{port}/"] * connections,
            "until_ns": time.monotonic_ns() + 300 * 10**9,
            "quiet_seconds": 1.0,
        }
        out, sub_ready, done = mp.Queue(), mp.Event(), mp.Event()
        counter = mp.Value("q", 0, lock=False)
        subs = mp.Process(
            target=clients.run_subscribers, args=(spec, sub_ready, done, out, counter), daemon=True
        )
        subs.start()
        if not sub_ready.wait(120):
            raise RuntimeError("broadcast subscribers did not connect")
        go.set()
        done.set()
        received = out.get(timeout=600)["received"]
        subs.join(10)
    finally:
        server.kill()
        server.join()
    arrivals = [arrival for got in received for _c, _s, _sched, arrival, _stored in got]
    if len(arrivals) < 2:
        return 0.0
    return len(arrivals) / ((max(arrivals) - min(arrivals)) / 1e9)


# -- load -------------------------------------------------------------------------------


def _load(
    target: Target, world: World, preset: Preset, rate: float, seconds: float, progress: bool
) -> dict[str, Any]:
    """One open-loop run: subscribers connect, senders send ``rate`` msg/s for ``seconds``,
    subscribers stop once deliveries have been quiet for a second."""
    out, ready, senders_done = mp.Queue(), mp.Event(), mp.Event()
    delivered, acked = mp.Value("q", 0, lock=False), mp.Value("q", 0, lock=False)
    sub_spec = {
        "api_url": target.url,
        "tokens": world.sub_tokens,
        "channels": world.channel_of,
        "until_ns": time.monotonic_ns() + int((seconds + 180) * 1e9),
        "quiet_seconds": 1.0,
        "churn": preset.churn,
    }
    sub_proc = mp.Process(
        target=clients.run_subscribers,
        args=(sub_spec, ready, senders_done, out, delivered),
        daemon=True,
    )
    sub_proc.start()
    if not ready.wait(180):
        raise RuntimeError("subscribers did not connect")
    # one server's syncs: behind a fleet's balancer each read may reach another node
    syncs0 = None if target.fleet else syncs.read(target.url)
    cpu0, t0 = target.cpu_seconds(), time.monotonic()
    ticks0 = procs.machine_ticks()
    seen0, seen_at = procs.process_ticks(), time.monotonic()
    start_ns = time.monotonic_ns() + int(1.0e9)  # senders connect first
    # the loop thread is measured while messages are sent: from the first scheduled send
    # to the last reply (a wait_for poll's 0.25 s late at most), not over the drain after
    loop_window: list = []

    def follow_loop() -> None:
        if target.pid and not loop_window and time.monotonic_ns() >= start_ns:
            pid = target.pid
            loop_window.append(
                (procs.thread_sched(pid), procs.threads_sched(pid), time.monotonic())
            )

    total = int(rate * seconds)
    send_out = mp.Queue()
    send_proc = mp.Process(
        target=clients.run_senders,
        args=(
            {
                "api_url": target.url,
                "route": preset.route,
                "tokens": world.sender_tokens,
                "targets": world.targets,
                "rate": rate,
                "seconds": seconds,
                "start_ns": start_ns,
            },
            send_out,
            acked,
        ),
        daemon=True,
    )
    send_proc.start()
    watched = (*target.measured, *_front(target), sub_proc.pid, send_proc.pid, os.getpid())
    watch = noise.Watch([p for p in watched if p], start_ns).start()
    per_message = len(world.sub_tokens) / max(1, len(world.channels))
    bar = tqdm(
        total=int(total * per_message),
        unit="dlv",
        unit_scale=True,
        disable=not progress,
        file=sys.stderr,
        desc=f"{rate:g} msg/s",
    )

    def wait_for(queue, limit: float):
        deadline = time.monotonic() + limit
        while True:
            follow_loop()
            bar.n = delivered.value
            bar.set_postfix_str(f"acked {acked.value}/{total}", refresh=True)
            try:
                return queue.get(timeout=0.25)
            except Exception:
                if time.monotonic() > deadline:
                    raise

    try:
        sent = wait_for(send_out, seconds + 300)
        machine_noise = watch.stop()
        store_syncs = syncs.summary(syncs0, syncs0 and syncs.read(target.url))
        # every process's CPU up to the last reply, while the clients still run
        busiest = procs.busiest(seen0, procs.process_ticks(), time.monotonic() - seen_at)
        loop_use, threads_use = None, []
        if loop_window and target.pid:
            loop0, threads0, began = loop_window[0]
            loop1, threads1 = procs.thread_sched(target.pid), procs.threads_sched(target.pid)
            spent = time.monotonic() - began
            loop_use = procs.thread_use(loop0, loop1, spent)
            threads_use = procs.threads_use(threads0, threads1, spent)
        send_proc.join()
        senders_done.set()
        received = wait_for(out, seconds + 300)
        sub_proc.join(10)
    finally:
        bar.close()
    elapsed = time.monotonic() - t0
    return {
        "sent": sent,
        "received": received,
        "start_ns": start_ns,
        "cpu": target.cpu_seconds() - cpu0,
        "elapsed": elapsed,
        "loop_thread": loop_use,
        "threads": threads_use,
        "store_syncs": store_syncs,
        "clients": {
            "sender_cpu_seconds": round(sent["cpu"], 2),
            "subscriber_cpu_seconds": round(received["cpu"], 2),
        },
        "machine_use": procs.machine_use(ticks0, procs.machine_ticks(), os.cpu_count() or 1),
        "processes": busiest,
        "noise": machine_noise,
        "lateness": {
            "subscribers": lateness.summary(received["late"], start_ns),
            "senders": lateness.summary(sent["late"], start_ns),
        },
    }


def _front(target: Target) -> tuple[int, ...]:
    """The load balancer in front of a fleet (the process listening on the URL's port),
    which is part of the run, not noise; nothing for a single server."""
    if not target.fleet:
        return ()
    pid = procs.pid_listening(urlsplit(target.url).port or 80)
    return (pid,) if pid is not None else ()


def _throughput(target: Target, world: World, preset: Preset, say, progress: bool) -> dict:
    """Steps of ``step_seconds`` at rising rates (x1.5 from ``start_rate``) until one
    fails, then two bisections between the last that held and the first that failed."""
    steps: list[dict[str, Any]] = []

    def step(rate: float) -> bool:
        say(f"step: {rate:g} msg/s for {preset.step_seconds:g} s over {preset.route}")
        raw = _load(target, world, preset, rate, preset.step_seconds, progress)
        figures = report.audit_run(raw["sent"], raw["received"], world.channel_of, raw["start_ns"])
        holds = report.passes(figures, preset.p99_limit_ms)
        keep = ("sent", "acknowledged", "failed", "delivery", "delivery_latency_ms")
        steps.append(
            {"rate": rate, "holds": holds, "messages_per_s": figures["messages_per_s"]}
            | {k: figures[k] for k in keep}
            | {"server_cpu_share": round(raw["cpu"] / raw["elapsed"], 3)}
            | {"machine_busy_cores": raw["machine_use"]["busy_cores"]}
            | {"other_processes_peak_cores": raw["noise"]["peak_cores"]}
            | {"server_loop_thread": raw["loop_thread"], "server_threads": raw["threads"]}
            | {"store_syncs": raw["store_syncs"]}
        )
        steps[-1]["_figures"] = figures
        return holds

    good, bad, rate = 0.0, None, preset.start_rate
    while bad is None and rate <= 60_000:
        if step(rate):
            good, rate = rate, round(rate * 1.5)
        else:
            bad = rate
    for _ in range(2 if bad else 0):
        mid = round((good + bad) / 2)
        if step(mid):
            good = mid
        else:
            bad = mid
    best = max((s for s in steps if s["holds"]), key=lambda s: s["rate"], default=None)
    out: dict[str, Any] = {"max_sustained_rate": good, "steps": steps}
    if best is not None:  # the full figures of the best step that held
        out.update(best["_figures"])
    for s in steps:
        del s["_figures"]
    return out


# -- idle connections -------------------------------------------------------------------


def _connections(target: Target, preset: Preset, say) -> dict[str, Any]:
    """Opens idle connections, :data:`IDLE_PER_PROCESS` per client process, until
    ``preset.subscribers`` or the first failure; memory per connection is the server's
    RSS growth divided by the connections held."""
    count = max(1, -(-preset.subscribers // IDLE_PER_USER))
    users = [
        admin.create_user(target.settings, f"idle{os.getpid()}-{u}", bot=True, rate_limit=100)
        for u in range(count)
    ]
    tokens = [users[k % len(users)].token for k in range(preset.subscribers)]
    time.sleep(1.0)
    rss_before = procs.rss_mib(target.pid) if target.pid else 0.0
    release = mp.Event()
    children, held, stopped_by = [], 0, None
    try:
        for start in range(0, len(tokens), IDLE_PER_PROCESS):
            chunk = tokens[start : start + IDLE_PER_PROCESS]
            out = mp.Queue()
            child = mp.Process(
                target=clients.run_idle,
                args=({"api_url": target.url, "tokens": chunk}, out, release),
                daemon=True,
            )
            child.start()
            children.append(child)
            reply = out.get(timeout=600)
            held += reply["opened"]
            say(f"{held} idle connections open")
            if reply["error"]:
                stopped_by = reply["error"]
                break
        time.sleep(2.0)
        rss_after = procs.rss_mib(target.pid) if target.pid else 0.0
    finally:
        release.set()
        for child in children:
            child.join(30)
    return {
        "connections": {
            "asked": preset.subscribers,
            "held": held,
            "stopped_by": stopped_by,
            "server_fd_limit": procs.fd_limit(target.pid) if target.pid else None,
            "rss_before_mib": round(rss_before, 1),
            "rss_after_mib": round(rss_after, 1),
            "kib_per_connection": round((rss_after - rss_before) * 1024 / held, 2)
            if held
            else None,
        }
    }


# -- command line -----------------------------------------------------------------------


def main(args) -> int:
    """``parley bench``: runs the preset, prints the table, writes ``--json``/``--plot``."""
    preset = PRESETS[args.preset].with_overrides(
        route=args.route,
        rate=args.rate,
        seconds=args.seconds,
        subscribers=args.subscribers,
        corpus=args.corpus,
        push_burst=args.burst,
        fault=args.fault,
    )
    result = run(
        preset,
        url=args.url,
        data_dir=args.data_dir,
        say=lambda msg: print(f"* {msg}", file=sys.stderr, flush=True),
        progress=sys.stderr.isatty() and not args.no_progress,
    )
    print(report.table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.plot:
        from parley.bench.plot import plot

        plot(result, args.plot)
    return 0
