"""What the bench reads about a process from /proc: CPU seconds, memory, and which
process listens on a port (for ``--url`` runs against a server the bench did not start)."""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Iterable
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def or_0(read: Callable[[int], float], pid: int) -> float:
    """``read(pid)`` (:func:`cpu_seconds`, :func:`peak_rss_mib`...), or 0 for a process
    that is gone."""
    try:
        return read(pid)
    except (OSError, IndexError, ValueError):
        return 0.0


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def machine_ticks() -> tuple[int, ...]:
    """The machine's CPU time so far, summed over its CPUs, in clock ticks: ``(user,
    nice, system, idle, iowait, irq, softirq, steal)`` (``/proc/stat``)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return tuple(int(x) for x in fields[1:9])


def busy_ticks(ticks: tuple[int, ...]) -> int:
    """Of :func:`machine_ticks`, the time the CPUs were busy: everything but idle and
    I/O wait."""
    return sum(ticks) - ticks[3] - ticks[4]


def machine_use(before: tuple[int, ...], after: tuple[int, ...], cpus: int) -> dict[str, float]:
    """What the whole machine did between two :func:`machine_ticks`, in cores of
    ``cpus``: ``busy`` (everything but idle and I/O wait: the server, the bench's own
    clients, anything else running) and ``steal`` (time the hypervisor gave to other
    machines while this one had work). On a machine shared with the load's clients, a
    ``busy`` near ``cpus`` means latency is queueing for a CPU, whatever the server's
    own share."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    if total <= 0:
        return {"busy_cores": 0.0, "steal_cores": 0.0, "cpus": cpus}
    return {
        "busy_cores": round(cpus * busy_ticks(tuple(delta)) / total, 2),
        "steal_cores": round(cpus * delta[7] / total, 2),
        "cpus": cpus,
    }


#: One process as :func:`process_ticks` saw it: its label, CPU ticks so far, and when it
#: started (clock ticks after boot: what tells a pid's process from a later one's).
Seen = dict[int, tuple[str, int, int]]


def process_ticks(*, children: bool = False, labelled: bool = True) -> Seen:
    """Every visible process's label (:func:`label`) and user + system CPU so far, in
    clock ticks, by pid: what :func:`busiest` compares. With ``children``, each also
    counts the CPU of its children that have ended and been waited for, so a process
    that lived between two looks is counted in its parent. Without ``labelled``, each
    goes by its command name alone, and a look costs half (about 1.2 ms here, against
    2.9): cheap enough to take four times a second."""
    last = 15 if children else 13
    seen: Seen = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            end = stat.rindex(b")")
            fields = stat[end + 2 :].split()
            ticks, started = sum(int(x) for x in fields[11:last]), int(fields[19])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        pid, comm = int(name), stat[stat.index(b"(") + 1 : end].decode(errors="replace")
        seen[pid] = (label(pid, comm) if labelled else comm, ticks, started)
    return seen


def label(pid: int, comm: str) -> str:
    """What to call a process in a report: its command name, and for a Parley process
    what it does (``parley serve api``, ``parley bench``)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return comm
    if not any(a == "parley" or a.endswith("/parley") for a in args):
        return comm
    if "serve" in args:
        role = args[args.index("--role") + 1] if "--role" in args[:-1] else "all"
        return f"parley serve {role}"
    return "parley bench" if "bench" in args else "parley"


def busiest(
    before: Seen,
    after: Seen,
    seconds: float,
    *,
    top: int = 10,
    floor: float = 0.01,
    leave_out: Container[int] = (),
) -> list[dict]:
    """The processes that used the most CPU between two :func:`process_ticks`, in cores
    (``{"name", "pid", "cores"}``, most first, at most ``top``, none under ``floor``, none
    of the pids ``leave_out``): where the machine's busy cores went. A process started in
    between (a pid new, or now another process's: a later start time) counts from
    nothing; one that ended is not seen (one ending, its command line gone, goes by its
    command name). A process is told by its pid and start time, not its name, which a
    kernel worker changes with its work."""
    if seconds <= 0:
        return []
    hz = os.sysconf("SC_CLK_TCK")
    used = []
    for pid, (name, ticks, started) in after.items():
        if pid in leave_out:
            continue
        was = before.get(pid)
        cores = (ticks - (was[1] if was and was[2] == started else 0)) / hz / seconds
        if cores >= floor:
            used.append({"name": name, "pid": pid, "cores": round(cores, 3)})
    used.sort(key=lambda p: -p["cores"])
    return used[:top]


def thread_sched(pid: int, tid: int | None = None) -> tuple[int, int] | None:
    """Nanoseconds thread ``tid`` of ``pid`` (by default its main thread: a Parley
    server's event loop) has spent so far on a CPU and runnable but waiting for one
    (``/proc/<pid>/task/<tid>/schedstat``); ``None`` where the kernel does not keep them
    or the thread is gone."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid or pid}/schedstat").read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


#: The threads of a process as :func:`threads_sched` saw them: name and
#: :func:`thread_sched`'s figures, by thread id.
Threads = dict[int, tuple[str, tuple[int, int]]]


def threads_sched(pid: int) -> Threads:
    """Every thread of ``pid`` but its main one, with its name (``comm``, cut to 15
    bytes: Parley names its helper threads, ``parley-ws-write``, ``parley-shard-sy``...)
    and :func:`thread_sched`'s figures; empty where they cannot be read."""
    seen: Threads = {}
    try:
        tids = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir() if t.name != str(pid)]
    except OSError:
        return seen
    for tid in tids:
        try:
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            continue  # gone meanwhile
        sched = thread_sched(pid, tid)
        if sched is not None:
            seen[tid] = (name, sched)
    return seen


def threads_use(
    before: Threads, after: Threads, seconds: float, *, floor: float = 0.01
) -> list[dict]:
    """:func:`thread_use` of each thread in both :func:`threads_sched` that ran at least
    ``floor`` of ``seconds``, most running first: ``{"name", "tid", "running",
    "waiting"}``. A thread started or ended in between is left out."""
    used = []
    for tid, (name, end) in after.items():
        start = before.get(tid)
        use = thread_use(start[1], end, seconds) if start and start[0] == name else None
        if use is not None and use["running"] >= floor:
            used.append({"name": name, "tid": tid, **use})
    used.sort(key=lambda t: -t["running"])
    return used


def threads_run_ns(pids: Iterable[int]) -> dict[tuple[int, int], int]:
    """Nanoseconds each thread of ``pids`` has run so far, by ``(pid, tid)``; a process
    or thread that cannot be read (gone) is left out."""
    ran: dict[tuple[int, int], int] = {}
    for pid in pids:
        try:
            tids = [t.name for t in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            continue
        for tid in tids:
            sched = thread_sched(pid, int(tid))
            if sched is not None:
                ran[(pid, int(tid))] = sched[0]
    return ran


def thread_use(
    before: tuple[int, int] | None, after: tuple[int, int] | None, seconds: float
) -> dict[str, float] | None:
    """What a thread did between two :func:`thread_sched`, as shares of ``seconds``:
    ``running`` and ``waiting`` (runnable, for a CPU). Their sum near 1 means the thread
    had no idle moment: everything that waits on it queues, and ``waiting`` is the part
    of that spent queueing for a CPU (the load's clients share the machine)."""
    if before is None or after is None or seconds <= 0:
        return None
    return {
        "running": round((after[0] - before[0]) / 1e9 / seconds, 3),
        "waiting": round((after[1] - before[1]) / 1e9 / seconds, 3),
    }


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def rss_mib(pid: int) -> float:
    """Resident memory now."""
    return _status_kib(pid, "VmRSS:") / 1024


def peak_rss_mib(pid: int) -> float:
    """The most resident memory ``pid`` has had."""
    return _status_kib(pid, "VmHWM:") / 1024


def fd_limit(pid: int) -> int | None:
    """``pid``'s soft limit on open files (each connection is one), if readable."""
    try:
        lines = Path(f"/proc/{pid}/limits").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("Max open files"):
            value = line.split()[3]
            return int(value) if value.isdigit() else None
    return None


def is_parley_server(pid: int) -> bool:
    """Whether ``pid`` runs ``parley serve`` (``python -m parley serve`` or the ``parley``
    script), as opposed to, say, the load balancer in front of a fleet."""
    return label(pid, "").startswith("parley serve ")


def parley_servers() -> tuple[int, ...]:
    """Every process on this machine that runs ``parley serve``, by pid."""
    pids = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
    return tuple(pid for pid in pids if is_parley_server(pid))


def pid_listening(port: int) -> int | None:
    """The process with a TCP socket listening on ``port`` (any address), if visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None
