"""Test support: a server process of the test's own (``redis-server``, ``nats-server``)
on a free port, which the test may stop and start again on the same port and data;
never the shared one. A missing binary fails the test in CI (``CI`` set) and skips it
elsewhere."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import pytest

from parley.server import free_port


def binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI")
        pytest.skip(f"no {name} on this machine")
    return found


class OwnServer:
    """``argv(port)`` run on a port chosen once; :meth:`start` returns when it accepts."""

    def __init__(self, argv: Callable[[int], list[str]]) -> None:
        self._argv = argv
        self.port = free_port("127.0.0.1")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = self._argv(self.port)
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{argv[0]} did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def own_redis() -> OwnServer:
    """A ``redis-server`` without persistence; its URL is :func:`redis_url`."""
    exe = binary("redis-server")
    return OwnServer(
        lambda port: (
            [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", ""] + ["--appendonly", "no"]
        )
    )


def own_nats(store_dir: str) -> OwnServer:
    """A ``nats-server`` with JetStream keeping its streams in ``store_dir``."""
    exe = binary("nats-server")
    return OwnServer(
        lambda port: [exe, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store_dir]
    )


def redis_url(server: OwnServer) -> str:
    return f"redis://127.0.0.1:{server.port}/0"
