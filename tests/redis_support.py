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
        from tests.own_server import own_redis, redis_url

        self._server = own_redis()
        self.port = self._server.port
        self.url = redis_url(self._server)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
