"""Fixtures the Redis-backed tests share (``tests.redis_support``)."""

from __future__ import annotations

import pytest

from tests.redis_support import drop_prefix, fresh_prefix, require_redis


@pytest.fixture(scope="module")
def needs_redis():
    """For modules whose every test needs Redis: ``pytestmark =
    pytest.mark.usefixtures("needs_redis")`` (skips, or fails in CI, without it)."""
    require_redis()


@pytest.fixture
def prefix():
    """A key prefix of this test's own; its keys are removed afterwards."""
    p = fresh_prefix()
    yield p
    drop_prefix(p)
