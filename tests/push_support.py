"""Waiting for what the local APNs and FCM servers (``parley.notify.fakes``) received."""

from __future__ import annotations

import time

from parley.notify.fakes import Fake


def pushes(fake: Fake, token: str, after: int = 0) -> list[dict]:
    """The payloads ``fake`` delivered to ``token``, from the ``after``-th push on."""
    return [p for t, p, _ in list(fake.received[after:]) if t == token]


def wait_pushes(
    fake: Fake, token: str, count: int, timeout: float = 5.0, after: int = 0
) -> list[dict]:
    """Waits until ``fake`` delivered ``count`` pushes to ``token`` (from the
    ``after``-th push on); those pushes."""
    deadline = time.monotonic() + timeout
    while len(got := pushes(fake, token, after)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(got)} of {count} pushes to {token[:12]}… arrived")
        time.sleep(0.01)
    return got
