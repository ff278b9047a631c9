"""The local APNs and FCM servers (``parley.notify.fakes``) on an event loop of their own,
for tests that run a Parley server configured to push to them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.notify.fakes import Fake, FakeApns, FakeFcm


@dataclass
class LocalProviders:
    apns: FakeApns
    fcm: FakeFcm
    #: The settings that point a server at them.
    settings: dict[str, Any]


@contextlib.contextmanager
def local_providers(directory: Path) -> Iterator[LocalProviders]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="local-providers", daemon=True)
    thread.start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    apns, fcm = FakeApns(directory / "apns"), FakeFcm(directory / "fcm")
    run(apns.start())
    run(fcm.start())
    key, account, bundle = directory / "apns.p8", directory / "fcm.json", directory / "ca.pem"
    key.write_bytes(apns.key_pem)
    account.write_bytes(fcm.service_account())
    bundle.write_bytes(apns.ca_file.read_bytes() + fcm.ca_file.read_bytes())
    settings = {
        "apns_key_file": str(key),
        "apns_key_id": apns.key_id,
        "apns_team_id": apns.team_id,
        "apns_topic": apns.topic,
        "apns_url": apns.url,
        "fcm_credentials": str(account),
        "fcm_url": fcm.url,
        "push_ca_file": str(bundle),
    }
    try:
        yield LocalProviders(apns, fcm, settings)
    finally:
        run(apns.close())
        run(fcm.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


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


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
