"""Test support for the Redis-backed parts, against the real Redis on 127.0.0.1:6379.

Redis is a required service in CI (``CI`` set): unreachable, :func:`require_redis`
fails there; elsewhere it skips with the reason. Every test works under a fresh key
prefix (:func:`fresh_prefix`) and removes its keys afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis

URL = os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI at {URL}: {exc}")
        pytest.skip(f"no Redis at {URL}: {exc}")


def fresh_prefix() -> str:
    return f"parley-test:{uuid.uuid4().hex}:"


def drop_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


class OwnRedis:
    """A ``redis-server`` of this test's own on a free port (no persistence), which the
    test may stop and start again on the same port; never the shared one."""

    def __init__(self) -> None:
        import shutil

        from parley.server import free_port

        exe = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        )
        if exe is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is required in CI")
            pytest.skip("no redis-server on this machine")
        self.exe = exe
        self.port = free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> None:
        import socket
        import subprocess
        import time

        self.proc = subprocess.Popen(
            [self.exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
