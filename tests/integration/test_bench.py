"""`parley bench smoke` proves the instrument works and delivery is complete; the other
presets run end to end at a small scale, so none of them breaks unseen."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path


def _run(tmp_path, preset: str, *args: str, env: dict | None = None) -> tuple[dict, str]:
    """Runs ``parley bench preset *args``; its ``--json`` and what it printed."""
    out = tmp_path / f"{preset}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "parley", "bench", preset, *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def _bench(tmp_path, preset: str, *args: str) -> dict:
    """Runs ``parley bench preset *args`` and returns its ``--json``."""
    return _run(tmp_path, preset, *args)[0]


def test_smoke_delivers_everything_in_order(tmp_path):
    result, printed = _run(tmp_path, "smoke")
    assert "send-to-delivery latency" in printed
    assert result["sent"] == result["acknowledged"] > 0 and result["failed"] == {}
    delivery = result["delivery"]
    assert delivery["expected"] == result["acknowledged"] * 5  # 20 subscribers, 4 channels
    assert delivery["missing"] == 0
    assert delivery["duplicates"] == 0
    assert delivery["order_violations"] == 0
    assert result["delivery_latency_ms"]["count"] == delivery["delivered"]
    split = result["delivery_split_ms"]  # every delivery, split where the store wrote it
    assert split["to_store"]["count"] == split["after_store"]["count"] == delivery["delivered"]
    assert "from the write to the read" in printed
    for thread in result["server_threads"]:  # those busy for 1% of the run or more
        assert thread["name"] and thread["running"] >= 0.01 and thread["waiting"] >= 0
    assert result["baseline"]["http_echo_rps"] > 0
    names = [p["name"] for p in result["processes"]]  # where the busy cores went
    assert "parley serve all" in names
    assert "busiest processes (cores)" in printed
    noise = result["machine_noise"]  # what else ran, each quarter second of the sending
    assert noise["windows"] and all(cores >= 0 for _, cores in noise["windows"])
    assert noise["peak_cores"] >= noise["mean_cores"] >= 0
    assert "other processes' CPU while sending" in printed
    for who in ("subscribers", "senders"):  # how late the bench's own processes ran
        late = result["client_lateness"][who]
        assert late["count"] == len(late["late"]) >= late["waiting"] and late["max_ms"] >= 0
    assert "bench clients late to run" in printed
    synced = result["store_syncs"]  # the server's WAL syncs while the clients sent
    assert synced["count"] > 0 and synced["mean_ms"] > 0
    assert synced["p50_at_most_ms"] <= synced["p99_at_most_ms"] <= synced["max_at_most_ms"]
    assert "store's WAL syncs while sending" in printed


def test_push_measures_lag_and_a_burst_through_the_local_providers(tmp_path):
    args = ["--rate", "100", "--seconds", "2", "--subscribers", "20", "--burst", "20"]
    result, printed = _run(tmp_path, "push", *args)
    assert "push lag, apns" in printed and "push burst" in printed
    assert result["delivery"]["missing"] == 0
    for platform in ("apns", "fcm"):
        assert result["push_lag_ms"][platform]["count"] > 0
    burst = result["push_burst"]
    assert burst["delivered"] == burst["expected"] == 20 * 10
    assert burst["latency_ms"]["count"] == 200


def test_smoke_over_the_websocket_send_with_a_plot(tmp_path):
    png = tmp_path / "smoke.png"
    result = _bench(tmp_path, "smoke", "--route", "ws", "--plot", str(png))
    assert result["route"] == "ws"
    assert result["sent"] == result["acknowledged"] > 0 and result["failed"] == {}
    delivery = result["delivery"]
    assert delivery["expected"] == result["acknowledged"] * 5
    assert delivery["missing"] == delivery["duplicates"] == delivery["order_violations"] == 0
    assert result["timeline"] and result["distribution"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reconnect_under_a_push_outage_delivers_everything_and_says_what_it_took(tmp_path):
    """``--fault push``: the providers answer 500 for a quarter of the run. Delivery
    stays above the seed's 99.95% (here: all of it), every probe push arrives, and the
    report says what it took. The breakers half-open after 2 s here (30 by default)."""
    args = ["--rate", "200", "--seconds", "8", "--subscribers", "100", "--fault", "push"]
    env = {**os.environ, "PARLEY_BREAKER_OPEN_SECONDS": "2"}
    result, printed = _run(tmp_path, "reconnect", *args, env=env)
    assert "it took: retries" in printed
    delivery = result["delivery"]
    assert delivery["delivered"] / delivery["expected"] >= 0.9995
    assert delivery["missing"] == delivery["duplicates"] == delivery["order_violations"] == 0
    fault = result["fault"]
    assert fault["provider_500s"] > 0 and fault["retries"] > 0  # the outage was felt
    assert sum(fault["breakers_opened"].values()) >= 1
    assert fault["pushes_delivered"] == fault["pushes_expected"] > 0
    assert result["reconnects"] > 0


def test_search_queries_a_store_of_the_corpus_it_wrote(tmp_path):
    """``parley bench search`` writes its corpus, builds the index and queries it (it
    once failed at its first query: a helper had moved to ``parley.bench.corpus``)."""
    figures = _bench(tmp_path, "search", "--corpus", "2000", "--seconds", "1")["search"]
    assert figures["messages"] == 2000
    assert figures["queries"] > 0 and figures["queries_per_s"] > 0
    assert figures["latency_ms"]["count"] == figures["queries"]


def test_fanout_reports_its_deliveries_against_the_same_run_broadcast(tmp_path):
    result = _bench(tmp_path, "fanout", "--subscribers", "50", "--rate", "200", "--seconds", "0.5")
    delivery = result["delivery"]
    assert delivery["expected"] == result["acknowledged"] * 50 > 0
    assert delivery["missing"] == delivery["duplicates"] == delivery["order_violations"] == 0
    assert result["baseline"]["ws_broadcast_fps"] > 0
    assert result["fanout_ratio_to_broadcast"] > 0


def test_connections_holds_what_it_asks_and_measures_each(tmp_path):
    held = _bench(tmp_path, "connections", "--subscribers", "300")["connections"]
    assert held["asked"] == held["held"] == 300 and held["stopped_by"] is None
    assert held["kib_per_connection"] > 0


def test_search_lag_measures_index_lag_under_a_load(tmp_path):
    args = ["--rate", "200", "--seconds", "2", "--subscribers", "20"]
    result = _bench(tmp_path, "search-lag", *args)
    assert result["delivery"]["missing"] == 0
    assert result["index_lag_ms"]["count"] > 0


def test_url_runs_measure_a_parley_server_but_never_the_balancer_in_front_of_one(tmp_path):
    """``--url`` measures the process listening on the URL's port when it is a Parley
    server. Behind HAProxy (a fleet) the listener is the balancer, whose CPU and memory
    are not the servers': the bench sums this machine's Parley servers instead."""
    from parley.bench import procs
    from parley.bench.world import attach, own_server

    with own_server(tmp_path / "data") as target:
        assert target.pid is not None and procs.is_parley_server(target.pid)
        assert attach(target.url, tmp_path / "data").pid == target.pid

    class Healthy(http.server.BaseHTTPRequestHandler):  # a balancer's health answer
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    balancer = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=balancer.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{balancer.server_address[1]}"
        assert procs.pid_listening(balancer.server_address[1]) == os.getpid()
        with own_server(tmp_path / "node") as node:  # a fleet's node behind it
            fleet = attach(url, tmp_path / "data")
            assert fleet.pid is None and node.pid in fleet.fleet
            assert os.getpid() not in fleet.fleet
            assert fleet.cpu_seconds() >= procs.cpu_seconds(node.pid) > 0
    finally:
        balancer.shutdown()
    assert not procs.is_parley_server(2**22 + 12345)  # no such process


def _script(name: str, *args: str) -> str:
    """Runs ``docs/bench/<name>`` (the measures ``docs/benchmarks.md`` quotes); its output."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parents[2] / "docs" / "bench" / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_floor_script_prints_the_cpu_of_a_bare_send():
    with_store = _script("floor.py", "--messages", "2000", "--channels", "10")
    without = _script("floor.py", "--messages", "2000", "--no-store")
    assert "us of CPU a message (10 channels, commits of 14)" in with_store
    assert "us of CPU a message (100 channels, without the store)" in without
    # a figure each, not a comparison of them: speed is judged by the bench, not by tests
    assert float(with_store.split()[0]) > 0 and float(without.split()[0]) > 0


def test_the_pipeline_script_posts_at_each_entry_and_prints_the_loops_cpu():
    for via in ("sender", "api", "http"):
        printed = _script(
            "pipeline.py", "--via", via, "--channels", "4", "--posters", "8", "--per", "20"
        )
        assert printed.endswith(f"us of the event loop's CPU a message (via {via})\n")
        assert float(printed.split()[0]) > 0


def test_the_burst_script_times_one_connections_sends():
    printed = _script("burst.py", "--sends", "20", "--rounds", "2").splitlines()
    assert len(printed) == 2
    for line in printed:
        assert line.startswith("20 sends on one connection: ") and line.endswith(" msg/s")
