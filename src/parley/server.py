"""``parley serve``: every part in one process, on one event loop, the HTTP server too."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import gc
import logging
import os
import resource
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from parley import app, web
from parley.api.h1server import HttpServer, listen
from parley.api.http import HttpApp
from parley.config import Settings
from parley.errors import ConfigError
from parley.files.routes import UPLOAD_PREFIX, FileRoutes

log = logging.getLogger(__name__)

#: A drain ends once the Web API has had no request (health checks aside) for this many
#: seconds: under load requests come milliseconds apart until the load balancer's health
#: checks take the node out, and a node with none to serve need not wait.
QUIET = 0.5


def serve_command(data_dir: Path, port: int, gateway_port: int = 0) -> list[str]:
    """The command line that runs ``parley serve`` on ``data_dir`` in a child process."""
    return [
        sys.executable,
        "-m",
        "parley",
        "serve",
        "--port",
        str(port),
        "--gateway-port",
        str(gateway_port),
        "--data-dir",
        str(data_dir),
    ]


def tune_gc() -> None:
    """For a serving process, once it is up: what start-up built is frozen out of the
    collector's scans, and full collections become rare.

    A server's heap is mostly long-lived (the bus retention, the recent buffer, caches,
    connections) and makes little cyclic garbage, yet CPython's default thresholds walk
    all of it every few seconds under load: pauses of 10-90 ms that every message in
    flight waits through (``parley bench latency``: p99 69 -> 42 ms). Young collections
    still run, 50,000 allocations apart instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def raise_loop_priority(steps: int) -> int:
    """Lowers the calling thread's nice value by ``steps`` (the event loop's thread,
    once the server is up; Linux gives each thread a nice of its own, and a thread
    starts with its creator's), and returns the nice it now has; the old one where it
    may not (no CAP_SYS_NICE, nor a ``RLIMIT_NICE`` that allows it: logged) or ``steps``
    is 0.

    Why: every message waits on the loop, and on a busy machine the loop waits for a
    CPU. At 5,000 msg/s on two cores (``parley bench latency``) it was runnable but not
    running 37-39% of the time, preempted by the load's other processes and by the
    server's own writer and syncer threads, which wake on its hand-overs. Five steps
    took that to 23-25%, and send-to-delivery p50 from 4.8-6.6 ms to 3.3-4.8 ms, lower
    in each of six pairs of runs; three and seven steps did no better, ten starved the
    helpers the loop waits on and did worse. On the same machine with CPU to spare, ten
    pairs showed no clear difference either way. Threads the loop starts afterwards
    (the read pool's, on first use) share its priority."""
    tid = threading.get_native_id()
    nice = os.getpriority(os.PRIO_PROCESS, tid)
    if steps <= 0:
        return nice
    wanted = max(-20, nice - steps)
    try:
        os.setpriority(os.PRIO_PROCESS, tid, wanted)
    except PermissionError:
        log.info(
            "the event loop keeps nice %d: raising its priority needs CAP_SYS_NICE or a "
            "nice limit (RLIMIT_NICE, systemd's LimitNICE=); PARLEY_LOOP_PRIORITY=0 "
            "stops trying",
            nice,
        )
        return nice
    return wanted


#: Descriptors a serving process's table is grown to hold at start (or its soft
#: ``RLIMIT_NOFILE``, if lower): past the connections one node holds in this project's
#: targets (50,000).
FD_TABLE = 65_536


def reserve_fd_table(count: int = FD_TABLE) -> int:
    """Grows this process's file descriptor table to ``count`` slots (at most its soft
    open-files limit) now, before any thread starts; returns the slots reserved (0 if
    none could be).

    Linux grows the table by doubling when a new descriptor does not fit (at 256, 512,
    1,024, ... open files), and in a process with more than one thread each growth
    waits for an RCU grace period (``synchronize_rcu`` in ``expand_files``), 8-22 ms here,
    with the thread that opened the descriptor asleep: the event loop, in an
    ``accept`` or in the gateway's ``dup`` of a socket, while every message in flight
    waits. The table never shrinks, so growing it once, while the process is still
    single-threaded (no grace period to wait for), takes those stalls away for good; it
    costs 8 bytes of kernel memory a slot (512 KiB for 65,536). No descriptor is
    replaced: ``F_DUPFD`` takes the lowest free one at or above the slot asked for.
    """
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    top = count if soft == resource.RLIM_INFINITY else min(count, soft)
    if top < 1:
        return 0
    fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.close(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, top - 1))
    except OSError:
        return 0
    finally:
        os.close(fd)
    return top


def free_port(host: str) -> int:
    """A port the OS considers free right now (for ``--port 0``)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    on_start: Callable[[app.Services], None] | None = None,
) -> None:
    """Runs until SIGINT/SIGTERM (or ``stop`` is set), then drains and closes cleanly.

    A drain: ``/readyz`` turns 503 (a load balancer stops sending work) and every HTTP
    answer from then on closes its connection (a balancer keeping connections open to
    the node is never cut off mid-request); WebSocket clients get ``goodbye`` and up to
    ``drain_seconds`` to move to another gateway while the Web API still serves; a node
    serving the Web API then goes on serving until requests have stopped coming for
    :data:`QUIET` seconds (its balancer's health checks have taken it out), within the
    same ``drain_seconds``; then the HTTP server stops and the store closes after the
    writes queued. ``on_ready(url)`` is called once the server accepts connections;
    ``on_start(services)`` (for embedding and tests) once its parts have started.
    """
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            msg = f"{settings.host}:{settings.port} is in use by another server"
            raise ConfigError(msg) from exc
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc
    if settings.port == 0:
        settings = settings.with_(port=sock.getsockname()[1])
    try:
        svc = await app.start(settings)
    except BaseException:
        sock.close()
        raise
    if on_start is not None:
        on_start(svc)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{settings.port}"
    serves_api = settings.role not in ("gateway", "worker")
    http = HttpApp(
        svc.api,
        fallback_host=f"{host}:{settings.port}",
        sessions=svc.sessions,
        installs=svc.installs.route if svc.installs is not None else None,
        static=web.load_static(web.gateway_source(settings.gateway_url, svc.gateway_port)),
        health_only=not serves_api,
        metrics=svc.metrics.expose,
        readiness=svc.readiness,
        secure_cookies=settings.secure_cookies,
        replies=svc.replies.respond if svc.replies is not None else None,
        files=FileRoutes(
            svc.files,
            svc.auth,
            svc.directory.emoji_image,
            svc.link_fetcher.image if svc.link_fetcher is not None else None,
            svc.limits,
            svc.directory.avatar,
        )
        if svc.files is not None
        else None,
    )
    # a request line and headers past max_header bytes get 431; a connection has
    # header_timeout seconds to send them (slow-loris), from when it connected or got its
    # last answer
    server = HttpServer(
        http,
        max_header=settings.max_header,
        max_body=settings.max_body,
        header_timeout=settings.header_timeout,
        upload=(UPLOAD_PREFIX, settings.max_file),
    )
    loop = asyncio.get_running_loop()
    draining: list[asyncio.Task] = []
    stopped = asyncio.Event()

    async def drain() -> None:
        http.draining = True
        server.wind_down()
        deadline = loop.time() + settings.drain_seconds
        await svc.gateway.close(settings.drain_seconds)
        if serves_api:
            while http.quiet_for() < QUIET and loop.time() < deadline:
                await asyncio.sleep(0.05)
        stopped.set()

    def start_drain() -> None:
        if not draining:
            draining.append(loop.create_task(drain()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        # not possible outside the main thread (tests run servers in threads)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, start_drain)
    watcher = None
    if stop is not None:

        async def _watch() -> None:
            await stop.wait()
            start_drain()

        watcher = asyncio.create_task(_watch())
    try:
        await server.start(sock)
        if on_ready is not None:
            on_ready(url)
        await stopped.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.close()
        sock.close()  # the server's already (a no-op then), unless it never started
        await svc.close()
        log.info("parley stopped")
