"""The bench's pure arithmetic: the delivery audit, latency figures, throughput verdicts
and how subscribers map onto users and channels."""

from __future__ import annotations

import asyncio
import gc
import http.server
import multiprocessing as mp
import os
import threading
import time

import orjson

from parley.bench import clients, lateness, noise, procs, report, stats, syncs
from parley.bench.world import _user_count


def test_audit_counts_missing_duplicates_and_reordering():
    result = stats.audit(
        {"C1": [1, 2, 3, 4], "C2": [1]},
        [("C1", 1), ("C1", 3), ("C1", 2), ("C1", 3), ("C2", 1), ("C9", 7)],
    )
    assert result == {
        "expected": 5,
        "delivered": 4,
        "missing": 1,
        "duplicates": 1,
        "order_violations": 1,
    }


def test_latency_summary_distribution_and_timeline():
    summary = stats.latency_summary([1000] * 99 + [50_000])
    assert summary["count"] == 100 and summary["p50"] == 1.0
    assert abs(summary["max"] - 50.0) < 0.1  # HDR keeps 3 significant digits
    assert stats.latency_summary([]) == {"count": 0}

    dist = stats.distribution(range(1, 100_001))
    percentiles = [p for p, _ in dist]
    assert percentiles[0] == 50.0 and percentiles[-1] > 99.99
    assert percentiles == sorted(percentiles)
    assert [ms for _, ms in dist] == sorted(ms for _, ms in dist)
    assert stats.distribution([]) == []

    rows = stats.timeline([(0.1, 1000), (0.2, 3000), (1.5, 7000)], bucket_s=1.0)
    assert [(r["t"], r["count"]) for r in rows] == [(0.0, 2), (1.0, 1)]
    assert rows[1]["p50"] == rows[1]["max"] and abs(rows[1]["max"] - 7.0) < 0.01


def _run(records, received, channel_of):
    return report.audit_run(
        {"records": records, "cpu": 0}, {"received": received, "cpu": 0}, channel_of, 0
    )


def test_audit_run_and_the_throughput_verdict():
    ms = 1_000_000
    records = [(i * ms, i * ms + ms, None, "C1", i + 1) for i in range(3)]
    records.append((3 * ms, 4 * ms, "ratelimited", "C1", 0))
    # each stored 0.5 ms after it was due, read 1.5 ms after that
    got = [
        ("C1", s, (s - 1) * ms, (s - 1) * ms + 2 * ms, (s - 1) * ms + ms // 2) for s in (1, 2, 3)
    ]
    figures = _run(records, [got, got[:2]], ["C1", "C1"])
    assert figures["sent"] == 4 and figures["acknowledged"] == 3
    assert figures["failed"] == {"ratelimited": 1}
    assert figures["delivery"]["expected"] == 6 and figures["delivery"]["missing"] == 1
    assert figures["delivery_latency_ms"]["p50"] == 2.0
    split = figures["delivery_split_ms"]
    assert split["to_store"]["p50"] == 0.5 and split["to_store"]["count"] == 5
    assert split["after_store"]["p50"] == 1.5 and split["after_store"]["count"] == 5
    printed = report.table({"preset": {"name": "smoke"}, "route": "ws", **figures})
    assert "until the store wrote it" in printed and "p50 1.50" in printed
    unknown = _run(records[:3], [[(*row[:4], 0) for row in got]], ["C1"])  # no ts: no split
    assert unknown["delivery_split_ms"]["to_store"] == {"count": 0}
    assert unknown["delivery_latency_ms"]["count"] == 3
    assert not report.passes(figures, 100)  # a failure and a miss

    clean = _run(records[:3], [got], ["C1"])
    assert report.passes(clean, 100)
    assert not report.passes(clean, 1.5)  # p99 over the limit


def test_a_message_ts_is_read_in_nanoseconds_since_the_epoch():
    assert clients._ts_ns("1765052400.123456") == 1_765_052_400_123_456_000
    assert clients._ts_ns("1765052400.5") == 1_765_052_400_500_000_000
    assert clients._ts_ns("1765052400") == 1_765_052_400_000_000_000
    assert clients._ts_ns("") == clients._ts_ns("abc.def") == clients._ts_ns("1.2.3") == 0


def test_a_subscriber_decodes_when_each_message_was_due_stored_and_read():
    now_wall, now_mono = time.time_ns(), time.monotonic_ns()
    stored_wall_us = now_wall // 1000 - 3_000  # stored 3 ms ago, by the wall clock
    ts = f"{stored_wall_us // 1_000_000}.{stored_wall_us % 1_000_000:06d}"
    event = {"type": "message", "channel": "C1", "seq": 7, "ts": ts, "text": "123 bench"}
    joined = {**event, "subtype": "channel_join", "seq": 8}
    untimed = {"type": "message", "channel": "C1", "seq": 9, "text": "hi"}
    raw = [(orjson.dumps(e), now_mono) for e in (event, joined, untimed)]
    (first, last) = clients._decode(raw)
    assert first[:4] == ("C1", 7, 123, now_mono)
    assert abs((now_mono - first[4]) - 3_000_000) < 50_000_000  # the clocks read apart
    assert last == ("C1", 9, now_mono, now_mono, 0)  # no schedule in the text, no ts


def test_subscribers_share_users_only_in_whole_channel_cycles():
    assert _user_count(500, 1000, 100) == 500
    users = _user_count(10_000, 1000, 3)
    assert users <= 1000 and users % 3 == 0
    # connection k uses user k % users; both must land on the same channel
    assert all((k % users) % 3 == k % 3 for k in range(10_000))


def _collector_state(out) -> None:
    clients.without_pauses()
    garbage = [[]]
    garbage[0].append(garbage)  # a cycle, left for a collection that must not come
    del garbage
    out.put((gc.isenabled(), gc.get_freeze_count() > 0, gc.get_count()[0] > 0))


def test_a_load_process_never_pauses_to_collect():
    """The senders and subscribers freeze what they inherit and collect nothing while
    they run: a collection's pause would read as server latency."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_collector_state, args=(out,))
    child.start()
    enabled, frozen, pending = out.get(timeout=30)
    child.join(30)
    assert (enabled, frozen, pending) == (False, True, True)


def test_the_busiest_processes_are_those_that_used_the_most_cpu_meanwhile():
    hz = os.sysconf("SC_CLK_TCK")
    before = {
        1: ("nats-server", 5 * hz, 100),
        2: ("haproxy", 0, 100),
        3: ("parley serve api", hz, 100),
        5: ("kworker/0:1-events", 9 * hz, 1),
    }
    after = {
        1: ("nats-server", 7 * hz, 100),  # 2 s of CPU in 4 s: half a core
        2: ("haproxy", hz // 10, 100),  # under the floor
        3: ("bash", 2 * hz, 900),  # the pid is another process now: counted from nothing
        4: ("parley bench", hz, 950),  # started meanwhile
        5: ("kworker/0:1-mm_percpu_wq", 10 * hz, 1),  # the same worker, renamed by its work
    }
    assert procs.busiest(before, after, 4.0, floor=0.05) == [
        {"name": "nats-server", "pid": 1, "cores": 0.5},
        {"name": "bash", "pid": 3, "cores": 0.5},
        {"name": "parley bench", "pid": 4, "cores": 0.25},
        {"name": "kworker/0:1-mm_percpu_wq", "pid": 5, "cores": 0.25},
    ]
    assert procs.busiest(before, after, 4.0, top=1)[0]["cores"] == 0.5
    assert [p["pid"] for p in procs.busiest(before, after, 4.0, floor=0.05, leave_out={1, 3})] == [
        4,
        5,
    ]
    assert procs.busiest(before, after, 0.0) == []
    here = procs.process_ticks()  # this machine's own, as the bench reads them
    assert here[os.getpid()][1] >= 0 and procs.label(os.getpid(), "python") == "python"


def test_machine_use_counts_every_cpu_but_idle_and_io_wait():
    # user nice system idle iowait irq softirq steal, summed over 2 CPUs: 400 ticks
    before = (100, 0, 50, 1000, 10, 0, 5, 0)
    after = (250, 0, 120, 1100, 30, 0, 45, 20)
    use = procs.machine_use(before, after, cpus=2)
    assert use == {"busy_cores": 1.4, "steal_cores": 0.1, "cpus": 2}
    assert procs.busy_ticks(after) - procs.busy_ticks(before) == 280
    assert procs.machine_use(after, after, cpus=2)["busy_cores"] == 0.0
    now = procs.machine_ticks()  # this machine's own, as the bench reads it
    assert len(now) == 8 and all(t >= 0 for t in now)


def test_a_threads_use_is_its_running_and_runnable_time_as_shares_of_the_run():
    before, after = (1_000_000_000, 500_000_000), (8_600_000_000, 2_500_000_000)
    assert procs.thread_use(before, after, 10.0) == {"running": 0.76, "waiting": 0.2}
    assert procs.thread_use(None, after, 10.0) is None
    assert procs.thread_use(before, after, 0.0) is None
    began = procs.thread_sched(os.getpid())  # this process's main thread, as read
    assert began is not None
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # run a little
        pass
    use = procs.thread_use(began, procs.thread_sched(os.getpid()), 1.0)
    assert use is not None and use["running"] > 0.0 and use["waiting"] >= 0.0
    assert procs.thread_sched(2**22 + 12345) is None  # no such process


def test_each_helper_threads_use_is_reported_by_name_busiest_first():
    before = {11: ("writer", (0, 0)), 12: ("syncer", (0, 0)), 13: ("idle", (0, 0))}
    after = {
        11: ("writer", (4_000_000_000, 4_100_000_000)),
        12: ("syncer", (1_400_000_000, 3_800_000_000)),
        13: ("idle", (50_000_000, 0)),  # under the floor
        14: ("new", (9_000_000_000, 0)),  # started meanwhile: left out
    }
    assert procs.threads_use(before, after, 10.0, floor=0.01) == [
        {"name": "writer", "tid": 11, "running": 0.4, "waiting": 0.41},
        {"name": "syncer", "tid": 12, "running": 0.14, "waiting": 0.38},
    ]
    worker = threading.Thread(target=time.sleep, args=(2,), name="helper", daemon=True)
    worker.start()  # this process's own threads, as read
    seen = procs.threads_sched(os.getpid())
    assert os.getpid() not in seen and worker.native_id in seen
    assert procs.threads_sched(2**22 + 12345) == {}


def test_other_processes_cpu_is_the_machines_busy_time_less_the_watched_threads():
    # 2 CPUs at 100 ticks/s for 0.25 s: 30 busy ticks, of which the run's threads ran 0.2 s
    assert noise.other_cores(30, 200_000_000, 0.25, 100) == 0.4
    assert noise.other_cores(10, 200_000_000, 0.25, 100) == 0.0  # coarse ticks: never < 0
    assert noise.other_cores(30, 0, 0.0, 100) == 0.0
    ran = noise.RunTime()
    assert ran.update({(1, 1): 100, (1, 2): 50}) == 150
    assert ran.update({(1, 1): 300}) == 350  # thread 2 ended: it keeps what it ran


def test_a_busy_window_names_the_processes_that_took_the_cpu():
    hz = 100
    watch = noise.Watch([10, 11], start_ns=0, read=noise.Readers(hz=hz))
    before = {
        10: ("parley serve all", 0, 5),
        20: ("kworker/0:1-events", 5, 1),
        30: ("sh", 0, 7),
    }
    after = {
        10: ("parley serve all", 40, 5),  # watched: never named
        20: ("kworker/0:1-mm_percpu_wq", 6, 1),  # the same worker, renamed by its work
        30: ("sh", 12, 7),  # its child started and ended in the window: counted in it
        40: ("beam.smp", 3, 9),  # started in the window
    }
    quarter = 250_000_000
    watch.take((0, 0, 0, before), (quarter, 30, 100_000_000, after))  # 0.8 cores: busy
    watch.take((quarter, 30, 100_000_000, after), (2 * quarter, 40, 300_000_000, after))
    figures = watch.figures()
    assert figures["windows"] == [[0.0, 0.8], [0.25, 0.0]]
    assert figures["peak_cores"] == 0.8 and figures["peak_t"] == 0.0
    assert figures["mean_cores"] == 0.4
    assert figures["busy"] == [
        {
            "t": 0.0,
            "cores": 0.8,
            "processes": [
                {"name": "sh", "pid": 30, "cpu_s": 0.12},
                {"name": "beam.smp", "pid": 40, "cpu_s": 0.03},
                {"name": "kworker/0:1-mm_percpu_wq", "pid": 20, "cpu_s": 0.01},
            ],
        }
    ]


def test_the_watch_reads_this_machine_each_window_until_stopped():
    watch = noise.Watch([os.getpid()], time.monotonic_ns(), window_s=0.05).start()
    time.sleep(0.3)
    figures = watch.stop()
    assert figures["window_s"] == 0.05 and len(figures["windows"]) >= 1
    assert all(t >= 0 and cores >= 0 for t, cores in figures["windows"])
    ran = procs.threads_run_ns([os.getpid()])  # every thread of this process, as read
    assert ran[(os.getpid(), os.getpid())] > 0
    assert procs.threads_run_ns([2**22 + 12345]) == {}
    seen = procs.process_ticks(children=True, labelled=False)
    assert seen[os.getpid()][0] == procs.process_ticks()[os.getpid()][0]  # not a Parley one


def test_a_client_process_records_each_wake_up_that_came_late():
    stop = asyncio.Event()
    readings = [0, 5_000_000, 5_000_000, 30_000_000]  # on time, then 20 ms past due
    cpu = [0, 1_000_000, 4_000_000]  # running 3 ms of the late one's 25: waiting

    def clock() -> int:
        now = readings.pop(0)
        if not readings:
            stop.set()
        return now

    late: list[tuple[int, float, float]] = []
    asyncio.run(lateness.watch(stop, late, clock=clock, ran=lambda: cpu.pop(0)))
    assert late == [(10_000_000, 20.0, 3.0)]
    busy = (2_010_000_000, 6.5, 9.0)  # ran 9 ms of 11.5: busy, not waiting
    figures = lateness.summary(late + [busy], start_ns=10_000_000)
    assert figures == {
        "count": 2,
        "waiting": 1,
        "max_ms": 20.0,
        "late": [[0.0, 20.0, 3.0], [2.0, 6.5, 9.0]],
    }
    assert lateness.summary([], 0) == {"count": 0, "waiting": 0, "max_ms": 0.0, "late": []}


def test_the_syncs_of_a_run_are_the_histograms_difference_bounded_by_its_buckets():
    inf = float("inf")
    before = ({0.001: 10, 0.025: 10, 0.05: 10, inf: 10}, 0.004)
    # 1,000 more: 990 under 1 ms, 8 under 25 ms, 1 under 50 ms, 1 past every bound
    after = ({0.001: 1000, 0.025: 1008, 0.05: 1009, inf: 1010}, 1.004)
    s = syncs.summary(before, after)
    assert s == {
        "count": 1000,
        "mean_ms": 1.0,
        "p50_at_most_ms": 1.0,
        "p99_at_most_ms": 1.0,
        "p99.9_at_most_ms": 50.0,
        "max_at_most_ms": None,  # past the last bound
        "last_bound_ms": 50.0,
        "over_25_ms": 2,
    }
    assert syncs.summary(before, before) is None  # no sync meanwhile
    assert syncs.summary(None, after) is None  # a server without the histogram
    step = {"rate": 1000.0, "holds": False, "messages_per_s": 999.5, "failed": {}}
    step |= {"delivery": {"missing": 0}, "delivery_latency_ms": {"p99": 362.0}}
    result = {"preset": {"name": "throughput"}, "route": "ws", "max_sustained_rate": 750}
    printed = report.table(result | {"steps": [step | {"store_syncs": s}]})
    assert "fails: 999.5 msg/s, p99 362.00 ms, missing 0, failed 0, slowest sync > 50 ms" in printed
    printed = report.table(result | {"steps": [step | {"store_syncs": None}]})  # MariaDB
    assert "failed 0\n" in printed
    rows = report.table(result | {"store_syncs": s})
    assert "1000 syncs, mean 1 ms; p50 <= 1, p99 <= 1, p99.9 <= 50, slowest > 50 ms" in rows


def test_the_syncs_are_read_from_a_servers_metrics_and_nothing_from_anything_else():
    pages = {
        "/a/metrics": (
            b"# TYPE parley_store_sync_seconds histogram\n"
            b'parley_store_sync_seconds_bucket{le="0.001"} 7.0\n'
            b'parley_store_sync_seconds_bucket{le="+Inf"} 9.0\n'
            b"parley_store_sync_seconds_count 9.0\nparley_store_sync_seconds_sum 0.02\n"
        ),
        "/b/metrics": b"<html>a balancer's page</html>\n{{{",
        "/c/metrics": b"parley_connections 3.0\n",  # a server with MariaDB shards
    }

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert syncs.read(f"{url}/a") == ({0.001: 7.0, float("inf"): 9.0}, 0.02)
        assert syncs.read(f"{url}/b") is None
        assert syncs.read(f"{url}/c") is None
        assert syncs.read(f"{url}/none") is None  # 404
    finally:
        server.shutdown()
        server.server_close()
