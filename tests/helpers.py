"""Test support: a real Parley server (in a thread or as a process) on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest
from picows import WSListener, WSMsgType, ws_connect
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from parley import admin
from parley.app import Services
from parley.config import Settings
from parley.server import free_port, serve, serve_command


def wait_healthy(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Waits until ``url`` answers ``/health``. Generous: a first start in a fresh clone
    compiles every module, on two shared cores. A child ``proc`` that exits first fails
    at once, with what it printed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"parley serve exited with {proc.returncode}:\n{out[-4000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Parley at {url}")
        time.sleep(0.05)


T = TypeVar("T")


@dataclass
class RunningServer:
    url: str
    settings: Settings
    #: The server's parts and the event loop they run on (:meth:`on_loop`).
    services: Services | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def on_loop(self, fn: Callable[[Services], T], timeout: float = 10.0) -> T:
        """``fn(services)`` run on the server's event loop (its parts are not
        thread-safe); its result."""

        async def call() -> T:
            return fn(self.services)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def client(self, token: str) -> WebClient:
        return WebClient(token=token, base_url=f"{self.url}/api/")

    def reload_apps(self) -> None:
        """Has the Events API's worker read the registered apps now (a node picks a new
        app up within 5 s; a test, at once)."""
        future = asyncio.run_coroutine_threadsafe(self.services.app_events.reload(), self.loop)
        assert future.result(10)

    def reload_unfurls(self) -> None:
        """Has the server read the apps' unfurl domains now (``parley app unfurl``; a
        node picks them up within 5 s; a test, at once)."""
        self.on_loop(lambda s: s.app_links.forget())

    def user(self, name: str, **kw) -> admin.Credentials:
        """A user for tests that are not about rate limits: its own message limit is high
        enough for bursts of test traffic (``rate_limit=None`` gets the defaults); not
        announced to the team (``team_join``) unless ``announce=True``, so a test's
        connections hear only what it is about."""
        kw.setdefault("rate_limit", TEST_RATE_LIMIT)
        kw.setdefault("announce", False)
        return admin.create_user(self.settings, name, **kw)


#: Messages/second for test users whose tests are about something else than limits.
TEST_RATE_LIMIT = 10_000


@contextlib.contextmanager
def server_in_thread(data_dir: Path, **overrides) -> Iterator[RunningServer]:
    """A full Parley (HTTP server, gateway, store, bus) on its own event loop in a thread."""
    overrides.setdefault("port", free_port("127.0.0.1"))
    overrides.setdefault("gateway_port", 0)
    # several shards, not the default one, so routing and the cross-shard reads (search,
    # history, resume) are exercised end to end; the default runs in the child-process
    # tests (CLI, crash, drain: ``server_process``) and the smoke bench
    overrides.setdefault("shards", 4)
    settings = Settings.load({}, data_dir=data_dir, **overrides)
    ready = threading.Event()
    holder: dict = {}
    failure: list[BaseException] = []

    def run() -> None:
        import uvloop

        async def main() -> None:
            holder["loop"] = asyncio.get_running_loop()
            holder["stop"] = stop = asyncio.Event()
            await serve(
                settings,
                on_ready=lambda _url: ready.set(),
                stop=stop,
                on_start=lambda svc: holder.__setitem__("services", svc),
            )

        try:
            uvloop.run(main())
        except BaseException as exc:  # reported to the test
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="parley-test-server", daemon=True)
    thread.start()
    ready.wait(30)
    if failure:
        raise failure[0]
    url = f"http://127.0.0.1:{settings.port}"
    wait_healthy(url)
    try:
        yield RunningServer(url, settings, holder.get("services"), holder["loop"])
    finally:
        loop = holder["loop"]
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30)


@contextlib.contextmanager
def server_process(
    data_dir: Path, port: int | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python -m parley serve`` as a child process; killed (SIGKILL) if still running."""
    port = port or free_port("127.0.0.1")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        serve_command(data_dir, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc=proc)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


async def next_frame(frames: asyncio.Queue, timeout: float, match: dict) -> dict:
    """The next frame in ``frames`` whose fields equal ``match`` (earlier ones dropped)."""
    while True:
        frame = await asyncio.wait_for(frames.get(), timeout)
        if all(frame.get(k) == v for k, v in match.items()):
            return frame


class WsClient:
    """A minimal RTM client for tests: opens ``url`` and queues every frame it receives."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue = asyncio.Queue()
        self.transport = None

    @classmethod
    async def open(cls, url: str, **connect) -> WsClient:
        """Connects to ``url``; ``connect`` goes to picows's ``ws_connect`` (for example
        a ``socket_factory``)."""
        client = cls()

        class Listener(WSListener):
            def on_ws_frame(self, transport, frame) -> None:
                if frame.msg_type == WSMsgType.TEXT:
                    client.frames.put_nowait(json.loads(frame.get_payload_as_bytes()))

        client.transport, _ = await ws_connect(Listener, url, **connect)
        return client

    def send(self, obj: dict) -> None:
        self.transport.send(WSMsgType.TEXT, json.dumps(obj).encode())

    async def next(self, timeout: float = 10.0, **match) -> dict:
        """The next frame whose fields equal ``match`` (earlier ones are discarded)."""
        return await next_frame(self.frames, timeout, match)

    async def until(self, timeout: float = 10.0, **match) -> list[dict]:
        """Every frame up to and including the first that matches ``match``."""
        seen = []
        while True:
            frame = await asyncio.wait_for(self.frames.get(), timeout)
            seen.append(frame)
            if all(frame.get(k) == v for k, v in match.items()):
                return seen

    def close(self) -> None:
        self.transport.disconnect()


class RawClient(WSListener):
    """Sends whatever a test wants; records text frames, pongs and the server's close."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue = asyncio.Queue()
        self.pongs: asyncio.Queue = asyncio.Queue()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport = None

    @classmethod
    async def open(cls, url: str) -> RawClient:
        transport, client = await ws_connect(cls, url)
        client.transport = transport
        await client.next(type="hello")
        return client

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.frames.put_nowait(json.loads(frame.get_payload_as_bytes()))
        elif frame.msg_type == WSMsgType.PONG:
            self.pongs.put_nowait(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            if not self.closed.done():
                self.closed.set_result((frame.get_close_code(), frame.get_close_message()))
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport) -> None:
        if not self.closed.done():
            self.closed.set_result((None, None))

    def send_json(self, obj: dict) -> None:
        self.transport.send(WSMsgType.TEXT, json.dumps(obj).encode())

    async def next(self, timeout: float = 10.0, **match) -> dict:
        return await next_frame(self.frames, timeout, match)

    async def close_info(self, timeout: float = 10.0) -> tuple[int, str]:
        """The server's close code and reason (``None``s if it dropped without one)."""
        code, reason = await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        return (int(code) if code is not None else None), (
            reason.decode() if isinstance(reason, bytes) else reason
        )

    def close(self) -> None:
        if not self.transport.is_disconnected:
            self.transport.disconnect()


def error_of(call: Callable[..., object], *args, **kwargs) -> str:
    """The Slack error code ``call(*args, **kwargs)`` is refused with (it must be)."""
    with pytest.raises(SlackApiError) as err:
        call(*args, **kwargs)
    return err.value.response["error"]


@contextlib.contextmanager
def bolt_over_http(app, port: int) -> Iterator[None]:
    """Bolt's own HTTP server for ``app`` (``/slack/events`` on ``port``) on a thread, for
    the block; it may take a moment to listen (wait with :func:`succeeds`)."""
    from slack_bolt.app.app import SlackAppDevelopmentServer

    dev = SlackAppDevelopmentServer(
        port, "/slack/events", app, oauth_flow=app.oauth_flow, http_server_logger_enabled=False
    )
    threading.Thread(target=dev.start, daemon=True).start()
    try:
        yield
    finally:
        dev._server.shutdown()


@contextlib.contextmanager
def bolt_over_socket_mode(app, app_token: str) -> Iterator:
    """``app`` over Socket Mode (Bolt's own handler) for the block, connected before the
    block starts (within 10 s); yields the handler."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token=app_token)
    handler.connect()
    try:
        deadline = time.monotonic() + 10
        while not handler.client.is_connected():
            assert time.monotonic() < deadline, "the app's Socket Mode connection did not open"
            time.sleep(0.02)
        yield handler
    finally:
        handler.close()


def succeeds(call: Callable[[], object]) -> bool:
    """Whether ``call()`` returns rather than raises (for :func:`wait_for` on a server
    that may not listen yet)."""
    try:
        call()
    except Exception:
        return False
    return True


class HttpReceiver:
    """An app's URL on a thread: answers each POST with ``status`` and ``body`` and keeps
    what came, ``(headers, raw body)``."""

    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = "text/plain"):
        self.got: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/slack/commands"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()


def frame_of(ws, kind: str, timeout: float = 10.0) -> dict:
    """The next frame of ``type`` ``kind`` on a ``websockets`` sync connection (earlier
    ones are skipped); ``TimeoutError`` when none comes within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame.get("type") == kind:
            return frame


def fetch(
    url: str,
    token: str | None = None,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
):
    """``(status, headers, body)`` of a plain HTTP request (an error status too), with
    ``token`` as a bearer token and ``headers`` besides."""
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    sent.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def parley_cli(server: RunningServer, *args: str) -> list[dict]:
    """``parley ARGS --data-dir <the server's>`` in a process of its own (as an
    operator runs it beside the server): the JSON lines it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "parley", *args, "--data-dir", str(server.settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]
