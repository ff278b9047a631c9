"""Faults a bench run injects beside its load, and what delivering through them took.

``--fault push``: the local APNs and FCM servers answer 500 to every push for a
quarter of the run (from a quarter in to half way), while a probe mentions an offline
member (an APNs and an FCM device) every ``interval`` seconds all along. Pushes fail,
the providers' circuit breakers open, pushes wait as durable retries. After the load
the bench waits until each probe push arrived or is a dead letter, replays the dead
letters (as ``parley dlq replay push --all`` does), and waits again. It reports how
many pushes arrived (each message's push counted once, by its identity), and what it
took: retries, breaker refusals and openings, dead letters and replays, read from the
server's ``/metrics`` and the provider's log.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import urllib.request
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from parley import admin
from parley.bench.http import Pool, decode
from parley.bench.push import offline_member
from parley.bench.world import Target, World, call
from parley.notify.fakes import Fake, LocalProviders

KINDS = ("push",)
#: After the load: how long to wait for the retries to drain, then for the replays.
DRAIN_SECONDS = 120.0


def metrics(url: str) -> dict[tuple[str, tuple], float]:
    """The server's ``/metrics`` samples by ``(name, sorted labels)``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _sample(figures: dict, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def _ts(payload: dict) -> str:
    return payload.get("ts") or payload.get("data", {}).get("ts", "")


class PushOutage:
    """See the module: started beside the load, finished after it."""

    def __init__(
        self,
        target: Target,
        world: World,
        providers: LocalProviders,
        seconds: float,
        interval: float = 0.1,
    ) -> None:
        self._target = target
        self._providers = providers
        self._fakes: dict[str, Fake] = {"apns": providers.apns, "fcm": providers.fcm}
        self._seconds = seconds
        self._interval = interval
        self._token = world.sender_tokens[0]
        name = f"bench-fault-{secrets.token_hex(3)}"
        self._channel = call(target.url, "conversations.create", self._token, name=name)["channel"][
            "id"
        ]
        self._member = offline_member(target, self._token, self._channel, f"{name}-offline")
        self._stop = threading.Event()
        self._posted: list[str] = []  # the ts of each probe message acknowledged
        self._threads: list[threading.Thread] = []
        self.window = (seconds * 0.25, seconds * 0.5)

    def start(self) -> None:
        for target, name in ((self._probe, "fault-probe"), (self._outage, "fault-outage")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _outage(self) -> None:
        began, ends = self.window
        if self._stop.wait(began):
            return
        for fake in self._fakes.values():
            fake.fail_always = 500
        self._stop.wait(ends - began)
        for fake in self._fakes.values():
            fake.fail_always = None

    def _probe(self) -> None:
        async def go() -> None:
            pool = Pool(self._target.url, 1)
            await pool.open()
            try:
                while not self._stop.is_set():
                    text = f"<@{self._member['user']}> fault probe"
                    body = orjson.dumps({"channel": self._channel, "text": text})
                    _, reply = await pool.post("/api/chat.postMessage", body, self._token)
                    answer = decode(reply)
                    if answer.get("ok"):
                        self._posted.append(answer["ts"])
                    await asyncio.sleep(self._interval)
            finally:
                pool.close()

        asyncio.run(go())

    def _arrived(self) -> dict[str, set[str]]:
        """Per provider, the probe messages whose push reached the member's device."""
        return {
            p: {_ts(payload) for t, payload, _ in list(f.received) if t == self._member[p]}
            for p, f in self._fakes.items()
        }

    def _wait(self, want: set[str], dead: int, limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            arrived = self._arrived()
            missing = sum(len(want - got) for got in arrived.values())
            if missing <= dead():
                return
            time.sleep(0.2)

    def finish(self, say) -> dict[str, Any]:
        """Stops the probe (the outage is over by then), waits for the pushes, replays
        the dead letters, waits again; the figures."""
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        for fake in self._fakes.values():
            fake.fail_always = None
        want = set(self._posted)
        settings = self._target.settings

        def dead_letters() -> int:
            return len(admin.dead_letters(settings, "push"))

        say(f"fault: waiting for {len(want) * 2} probe pushes to arrive or be dead letters")
        self._wait(want, dead_letters, DRAIN_SECONDS)
        before = {p: len(want & got) for p, got in self._arrived().items()}
        figures = metrics(self._target.url)
        letters = dead_letters()
        replayed = admin.replay(settings, "push", None) if letters else 0
        if replayed:
            say(f"fault: replaying {replayed} dead letters")
            self._wait(want, lambda: 0, DRAIN_SECONDS)
        after = {p: len(want & got) for p, got in self._arrived().items()}
        expected = len(want) * len(self._fakes)
        delivered = sum(after.values())
        return {
            "kind": "push",
            "outage_seconds": [round(x, 2) for x in self.window],
            "provider_500s": sum(f.answered.get(500, 0) for f in self._fakes.values()),
            "probe_messages": len(want),
            "pushes_expected": expected,
            "pushes_delivered_before_replay": sum(before.values()),
            "pushes_delivered": delivered,
            "push_delivery_pct": round(100 * delivered / expected, 4) if expected else None,
            "retries": int(_sample(figures, "parley_push_total", outcome="retried")),
            "breaker_refusals": int(_sample(figures, "parley_push_total", outcome="breaker_open")),
            "breakers_opened": {
                p: int(_sample(figures, "parley_breaker_opened_total", breaker=f"push:{p}"))
                for p in self._fakes
            },
            "dead_letters": letters,
            "replayed": replayed,
        }
