"""``parley serve``: every part in one process, on the event loop, behind Granian."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.server.embed import Server

from parley import app, web
from parley.api.http import HttpApp
from parley.config import Settings
from parley.errors import ConfigError
from parley.pipeline.ratelimit import MemoryRateStore

log = logging.getLogger(__name__)


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


def free_port(host: str) -> int:
    """A port the OS considers free right now (for ``--port 0``)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _accepting(host: str, port: int) -> bool:
    """Whether something already accepts connections on ``host:port``."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        socket.create_connection((target, port), timeout=0.5).close()
    except OSError:
        return False
    return True


async def _when_accepting(host: str, port: int, url: str, on_ready: Callable[[str], None]) -> None:
    """Calls ``on_ready(url)`` once a TCP connection to ``host:port`` succeeds.

    Granian's start-up hooks run before its worker listens (on Linux each worker binds
    its own SO_REUSEPORT socket), so a hook is too early to tell anyone the URL works.
    """
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        on_ready(url)
        return


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    on_start: Callable[[app.Services], None] | None = None,
) -> None:
    """Runs until SIGINT/SIGTERM (or ``stop`` is set), then drains and closes cleanly.

    A drain: ``/readyz`` turns 503 (a load balancer stops sending work), WebSocket
    clients get ``goodbye`` and up to ``drain_seconds`` to move to another gateway while
    the Web API still serves, then the HTTP server stops and the store closes after the
    writes queued. ``on_ready(url)`` is called once the server accepts connections;
    ``on_start(services)`` (for embedding and tests) once its parts have started.
    """
    if settings.port == 0:
        settings = settings.with_(port=free_port(settings.host))
    elif _accepting(settings.host, settings.port):
        # Granian binds with SO_REUSEPORT: without this check a second server on the
        # port would start, and the kernel would split the connections between the two
        raise ConfigError(f"{settings.host}:{settings.port} is in use by another server")
    svc = await app.start(settings)
    if on_start is not None:
        on_start(svc)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{settings.port}"
    http = HttpApp(
        svc.api,
        max_body=settings.max_body,
        fallback_host=f"{host}:{settings.port}",
        sessions=web.Sessions(svc.directory, svc.auth, MemoryRateStore()),
        static=web.load_static(web.gateway_source(settings.gateway_url, svc.gateway_port)),
        health_only=settings.role in ("gateway", "worker"),
        metrics=svc.metrics.expose,
        readiness=svc.readiness,
        secure_cookies=settings.secure_cookies,
    )
    server = Server(
        http,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        log_enabled=False,
        backlog=2048,
        # a request line and headers past max_header bytes get 431; a client has
        # header_timeout seconds to send them (slow-loris)
        http1_settings=HTTP1Settings(
            max_buffer_size=settings.max_header,
            header_read_timeout=int(settings.header_timeout * 1000),
        ),
    )
    ready_task = None
    if on_ready is not None:
        ready_task = asyncio.create_task(
            _when_accepting(settings.host, settings.port, url, on_ready)
        )
    loop = asyncio.get_running_loop()
    draining: list[asyncio.Task] = []

    async def drain() -> None:
        http.draining = True
        await svc.gateway.close(settings.drain_seconds)
        server.stop()

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
        await server.serve()
    finally:
        for task in (watcher, ready_task):
            if task is not None:
                task.cancel()
        await svc.close()
        log.info("parley stopped")
