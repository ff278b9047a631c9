"""The HTTP layer's own cost: ``parley serve`` answering one route to the bench's HTTP
client (32 keep-alive connections, closed loop, 6 s), with the server's CPU per request.

    python docs/bench/http_layer.py [PATH ...]     (default: /api/auth.test /healthz)

``/api/auth.test`` with no token goes through ``Api.handle`` and is refused at once:
the HTTP server plus dispatch, no store. ``/healthz`` answers without a coroutine. To
compare two versions, run this from each checkout (``git worktree add``) in turns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import uvloop

from parley.bench.http import closed_loop
from parley.server import free_port, serve_command


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(path: str, seconds: float = 6.0) -> tuple[float, float]:
    """(requests/s, server CPU µs per request) for ``path``."""
    port = free_port("127.0.0.1")
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            serve_command(data, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            before = cpu_seconds(proc.pid)
            url = f"http://127.0.0.1:{port}"
            rps = uvloop.run(closed_loop(url, path, b"{}", connections=32, seconds=seconds))
            used = cpu_seconds(proc.pid) - before
        finally:
            proc.terminate()
            proc.wait()
    return rps, used / (rps * seconds) * 1e6


if __name__ == "__main__":
    for path in sys.argv[1:] or ["/api/auth.test", "/healthz"]:
        rps, us = measure(path)
        print(f"{path}: {rps:,.0f} req/s, {us:.1f} µs of server CPU per request")
