"""What else the machine ran while the bench measured: the CPU of every process but the
server's and the bench's own, each quarter second of the run.

On a machine of two cores shared with the load's clients, a process that wakes for a
fifth of a second takes a core from the server or its clients, and the deliveries of
that moment are late by about as long. (Seen here: the machine's RabbitMQ, which
Parley does not use, now and then starts a whole Erlang runtime to check its port
mapper. In a run traced with ``perf sched``, its threads took 0.12 CPU seconds within
0.2 s, and that run's p99.9 was 83 ms, where runs without it gave 11-17 ms.) Without
these figures such a spike reads as the server's.

- :func:`other_cores`, the pure part: a window's CPU used by everything else, from the
  machine's busy time (``/proc/stat``: all but idle and I/O wait, in clock ticks) less
  the run time of the watched processes' threads (``/proc/PID/task/TID/schedstat``, in
  nanoseconds). Clock ticks make it coarse (a quiet window reads up to about 0.2 of
  a core here), so a window is called busy only at :data:`BURST_CORES` or more;
- :class:`Watch`, the thread that reads them every :data:`WINDOW_S` from the run's first
  scheduled send until :meth:`Watch.stop`, and at each busy window names the processes
  that used the most CPU since it last looked (with the CPU of their children that
  ended meanwhile, so a process that started and ended inside the window is named by
  its parent).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from parley.bench import procs

#: The length of a window (s): the timeline's own for a run of under 20 s.
WINDOW_S = 0.25
#: Other processes' cores from which a window is called busy: above what the readings'
#: coarseness makes of a quiet one (of 960 windows in twelve runs here, 99% read under
#: 0.22), and low enough to catch a fifth of a second's burst split over two windows.
BURST_CORES = 0.3
#: The busiest other processes named for a busy window.
NAMED = 3


def other_cores(busy_ticks: int, watched_ns: int, seconds: float, hz: int) -> float:
    """The cores everything but the watched processes used in a window of ``seconds``
    in which the machine was busy ``busy_ticks`` (clock ticks at ``hz``, summed over
    CPUs) and the watched threads ran ``watched_ns``; never below 0 (the two are read
    at slightly different moments, and ticks are coarse)."""
    if seconds <= 0:
        return 0.0
    return round(max(0.0, busy_ticks / hz - watched_ns / 1e9) / seconds, 2)


@dataclass
class RunTime:
    """The watched threads' total run time, each thread's as last read: a thread that
    ends keeps what it had run, so the total never goes back."""

    seen: dict[tuple[int, int], int] = field(default_factory=dict)

    def update(self, readings: dict[tuple[int, int], int]) -> int:
        """Takes ``(pid, tid) -> ns run so far``; returns the total of all ever seen."""
        for key, ns in readings.items():
            if ns > self.seen.get(key, -1):
                self.seen[key] = ns
        return sum(self.seen.values())


def summary(
    windows: list[tuple[float, float]], busy: list[dict[str, Any]], window_s: float = WINDOW_S
) -> dict[str, Any]:
    """The JSON figures: ``windows`` (``[t, cores]``, ``t`` from the first scheduled
    send) of ``window_s``, their mean and peak, and ``busy``, the windows of
    :data:`BURST_CORES` or more with the processes named for each."""
    peak = max(windows, key=lambda w: w[1], default=(0.0, 0.0))
    mean = sum(c for _, c in windows) / len(windows) if windows else 0.0
    return {
        "window_s": window_s,
        "burst_cores": BURST_CORES,
        "mean_cores": round(mean, 3),
        "peak_cores": peak[1],
        "peak_t": peak[0],
        "busy": busy,
        "windows": [list(w) for w in windows],
    }


@dataclass
class Readers:
    """Where :class:`Watch` reads (``/proc`` unless a test gives its own): the machine's
    busy ticks; the run time of each thread of some pids, by ``(pid, tid)``; every
    process's label and CPU ticks with its ended children's (:func:`procs.process_ticks`)."""

    busy_ticks: Callable[[], int] = lambda: procs.busy_ticks(procs.machine_ticks())
    run_ns: Callable[[Iterable[int]], dict[tuple[int, int], int]] = procs.threads_run_ns
    processes: Callable[[], procs.Seen] = lambda: procs.process_ticks(children=True, labelled=False)
    hz: int = field(default_factory=lambda: os.sysconf("SC_CLK_TCK"))


#: One look: monotonic ns, the machine's busy ticks, the watched threads' run ns, and
#: every process's CPU ticks (:func:`procs.process_ticks`).
Reading = tuple[int, int, int, procs.Seen]


class Watch:
    """Reads the other processes' CPU every ``window_s`` from ``start_ns`` (monotonic)
    on a thread of its own, while the bench waits for the run; :meth:`stop` ends it and
    returns :func:`summary`'s figures. ``pids``: the processes that are the run (the
    server's, the clients', the bench's own); everything else is noise."""

    def __init__(
        self,
        pids: Iterable[int],
        start_ns: int,
        *,
        window_s: float = WINDOW_S,
        read: Readers | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._pids = tuple(dict.fromkeys(pids))
        self._start_ns = start_ns
        self._window_s, self._window_ns = window_s, int(window_s * 1e9)
        self._read = read or Readers()
        self._clock = clock
        self._windows: list[tuple[float, float]] = []
        self._busy: list[dict[str, Any]] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-noise", daemon=True)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Ends the watch; :meth:`figures`."""
        self._halt.set()
        self._thread.join()
        return self.figures()

    def figures(self) -> dict[str, Any]:
        """:func:`summary` of the windows taken so far."""
        return summary(self._windows, self._busy, self._window_s)

    def _run(self) -> None:
        run_time = RunTime()
        due, last = self._start_ns, None
        while not self._halt.wait(max(0.0, (due - self._clock()) / 1e9)):
            now = self._clock()
            busy, ran = self._read.busy_ticks(), run_time.update(self._read.run_ns(self._pids))
            scan = self._read.processes()
            if last is not None:
                self.take(last, (now, busy, ran, scan))
            last = (now, busy, ran, scan)
            while due <= now:
                due += self._window_ns

    def take(self, before: Reading, after: Reading) -> None:
        """Records the window between two readings, and names the busiest others in it
        if it was busy."""
        seconds = (after[0] - before[0]) / 1e9
        cores = other_cores(after[1] - before[1], after[2] - before[2], seconds, self._read.hz)
        t = round((before[0] - self._start_ns) / 1e9, 2)
        self._windows.append((t, cores))
        if cores >= BURST_CORES:
            named = self.busiest_others(before[3], after[3])
            self._busy.append({"t": t, "cores": cores, "processes": named})

    def busiest_others(self, before: procs.Seen, after: procs.Seen) -> list[dict[str, Any]]:
        """The :data:`NAMED` processes not watched that used the most CPU between two
        looks, in CPU seconds, each by its :func:`procs.label`."""
        used = procs.busiest(before, after, 1.0, top=NAMED, leave_out=self._pids)
        return [
            {"name": procs.label(u["pid"], u["name"]), "pid": u["pid"], "cpu_s": u["cores"]}
            for u in used
        ]
