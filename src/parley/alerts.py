"""Alerts for installations without Alertmanager: the rules of
``deploy/prometheus/parley-rules.yml`` evaluated in the process, and PagerDuty's Events
API v2 to page.

- :func:`snapshot` reads the server's own metrics registry; :func:`evaluate` (pure)
  decides, from the snapshots of the last minutes, which conditions hold now: the same
  six as the Prometheus rules, over the same windows.
- :class:`AlertState` (pure) turns conditions into transitions: an alert fires once its
  condition held for its ``for`` duration (scaled by ``for_scale``) and resolves when it
  stops holding.
- :class:`PagerDuty` sends ``trigger``, ``acknowledge`` and ``resolve`` events, one
  ``dedup_key`` per alert and node (``parley/<node>/<alert>``), so PagerDuty keeps one
  incident per alert; 429 and 5xx are retried with backoff.
- :class:`AlertWatcher` runs it every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import httpx
import orjson
from prometheus_client import CollectorRegistry

from parley.resilience.retries import Backoff
from parley.tasks import cancel_all

log = logging.getLogger(__name__)

#: ``{(sample name, sorted labels): value}``.
Snapshot = dict[tuple[str, tuple[tuple[str, str], ...]], float]

#: name -> (summary, severity, ``for`` seconds), as in the Prometheus rules.
RULES: dict[str, tuple[str, str, float]] = {
    "ParleyDeliveryLatencyHigh": ("p99 send-to-delivery latency is over 500 ms", "critical", 300),
    "ParleyDeliveryRateLow": ("delivery rate is under 99.9%", "critical", 600),
    "ParleyQueueDepthHigh": (
        "more than 10,000 events wait to reach the event log",
        "critical",
        120,
    ),
    "ParleyCircuitBreakerOpen": ("a circuit breaker is open", "critical", 60),
    "ParleyDeadLettersGrowing": (
        "items are reaching the dead letters (parley dlq list)",
        "warning",
        0,
    ),
    "ParleyStoreSyncSlow": ("p99 of the store's disk syncs is over 100 ms", "warning", 600),
}
#: Window of each rule's rates, in seconds.
WINDOWS = {
    "ParleyDeliveryLatencyHigh": 300,
    "ParleyDeliveryRateLow": 600,
    "ParleyDeadLettersGrowing": 900,
    "ParleyStoreSyncSlow": 300,
}


def snapshot(registry: CollectorRegistry) -> Snapshot:
    """Every sample of ``registry`` now."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): float(s.value)
        for family in registry.collect()
        for s in family.samples
    }


def _sum(snap: Snapshot, name: str, **match: str) -> float:
    return sum(
        v
        for (n, labels), v in snap.items()
        if n == name and all(dict(labels).get(k) == want for k, want in match.items())
    )


def _p99(now: Snapshot, then: Snapshot, histogram: str) -> float | None:
    """The 0.99 quantile of ``histogram`` (a name, ``_bucket`` left off) between two
    snapshots (a bucket's upper bound), or ``None`` without observations."""
    buckets = []
    for (name, labels), v in now.items():
        if name == f"{histogram}_bucket":
            le = dict(labels)["le"]
            buckets.append(
                (float("inf") if le == "+Inf" else float(le), v - then.get((name, labels), 0))
            )
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    for bound, count in buckets:
        if count >= 0.99 * total:
            return bound
    return None


def _at(history: Sequence[tuple[float, Snapshot]], seconds: float) -> Snapshot:
    """The oldest snapshot no older than ``seconds`` before the newest."""
    newest = history[-1][0]
    for when, snap in history:
        if newest - when <= seconds:
            return snap
    return history[-1][1]


def evaluate(history: Sequence[tuple[float, Snapshot]]) -> dict[str, bool | None]:
    """Which conditions hold at the newest of ``history`` (``(time, snapshot)`` pairs,
    oldest first); ``None``: the condition neither holds nor clears now. A breaker
    half-open (probing, between two spells of open) is that: it does not page, and it
    does not resolve an outage that is paging, whose probes may fail and open it again;
    only all breakers closed resolve it."""
    now = history[-1][1]
    latency = _p99(
        now, _at(history, WINDOWS["ParleyDeliveryLatencyHigh"]), "parley_delivery_latency_seconds"
    )
    syncs = _p99(now, _at(history, WINDOWS["ParleyStoreSyncSlow"]), "parley_store_sync_seconds")
    before = _at(history, WINDOWS["ParleyDeliveryRateLow"])

    def grew(name: str, **match: str) -> float:
        return _sum(now, name, **match) - _sum(before, name, **match)

    accepted, dropped = grew("parley_messages_accepted_total"), grew("parley_publish_dropped_total")
    sent = grew("parley_push_total", outcome="sent")
    lost = grew("parley_push_total", outcome="failed") + grew(
        "parley_push_total", outcome="dead_letters"
    )
    rate_low = (accepted > 0 and 1 - dropped / accepted < 0.999) or (
        sent + lost > 0 and sent / (sent + lost) < 0.999
    )
    states = [v for (n, _), v in now.items() if n == "parley_breaker_state"]
    dead_then = _at(history, WINDOWS["ParleyDeadLettersGrowing"])
    dead = sum(  # every step's: pushes and messages the search engine refused
        _sum(now, name, outcome="dead_letters") - _sum(dead_then, name, outcome="dead_letters")
        for name in ("parley_push_total", "parley_index_total")
    )
    return {
        "ParleyDeliveryLatencyHigh": latency is not None and latency > 0.5,
        "ParleyDeliveryRateLow": bool(rate_low),
        "ParleyQueueDepthHigh": _sum(now, "parley_publish_queue") > 10_000,
        "ParleyCircuitBreakerOpen": (
            True if any(v == 2 for v in states) else None if any(v == 1 for v in states) else False
        ),
        "ParleyDeadLettersGrowing": dead > 0,
        "ParleyStoreSyncSlow": syncs is not None and syncs > 0.1,
    }


class AlertState:
    """Pending, firing and resolved, per alert (pure; told the time)."""

    def __init__(self, for_scale: float = 1.0) -> None:
        self._scale = for_scale
        self._since: dict[str, float] = {}
        self.firing: set[str] = set()

    def step(self, holds: Mapping[str, bool | None], now: float) -> list[tuple[str, str]]:
        """The transitions at ``now``: ``(alert, "trigger" | "resolve")``; an alert whose
        condition is ``None`` stays as it was (firing, pending or neither)."""
        out = []
        for alert, ok in holds.items():
            if ok is None:
                continue
            if not ok:
                self._since.pop(alert, None)
                if alert in self.firing:
                    self.firing.discard(alert)
                    out.append((alert, "resolve"))
                continue
            since = self._since.setdefault(alert, now)
            if alert not in self.firing and now - since >= RULES[alert][2] * self._scale:
                self.firing.add(alert)
                out.append((alert, "trigger"))
        return out


def dedup_key(node: str, alert: str) -> str:
    return f"parley/{node}/{alert}"


def pagerduty_event(
    action: str, routing_key: str, key: str, alert: str, node: str, now: float
) -> dict:
    """An Events API v2 event (``payload`` only with ``trigger``, as PagerDuty wants)."""
    event: dict = {"routing_key": routing_key, "event_action": action, "dedup_key": key}
    if action == "trigger":
        summary, severity, _ = RULES[alert]
        event["payload"] = {
            "summary": f"{alert}: {summary}",
            "source": node,
            "severity": severity,
            "timestamp": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
            "component": "parley",
            "class": alert,
        }
    return event


class PagerDuty:
    """PagerDuty's Events API v2 (``POST <url>/v2/enqueue``)."""

    def __init__(
        self,
        routing_key: str,
        url: str = "https://events.pagerduty.com",
        verify: ssl.SSLContext | bool = True,
        backoff: Backoff | None = None,
    ) -> None:
        self._key = routing_key
        self._url = url.rstrip("/") + "/v2/enqueue"
        self._client = httpx.AsyncClient(http2=True, verify=verify, timeout=10.0)
        self._backoff = backoff or Backoff(attempts=4, base=0.5)

    async def send(self, action: str, alert: str, node: str, now: float) -> bool:
        """Sends one event; whether PagerDuty took it (202)."""
        body = orjson.dumps(
            pagerduty_event(action, self._key, dedup_key(node, alert), alert, node, now)
        )
        headers = {"content-type": "application/json"}
        for attempt in range(1, self._backoff.attempts + 1):
            try:
                r = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                why = repr(exc)
            else:
                if r.status_code == 202:
                    return True
                if r.status_code != 429 and r.status_code < 500:
                    log.error("pagerduty refused %s %s: %s", action, alert, r.text[:300])
                    return False
                why = str(r.status_code)
            if attempt < self._backoff.attempts:
                await asyncio.sleep(self._backoff.wait(attempt))
        log.error("pagerduty: %s %s not sent: %s", action, alert, why)
        return False

    async def close(self) -> None:
        await self._client.aclose()


class AlertWatcher:
    """Every ``interval`` seconds: a snapshot of ``registry``, the conditions, and the
    transitions sent to PagerDuty."""

    def __init__(
        self,
        registry: CollectorRegistry,
        pagerduty: PagerDuty,
        node: str,
        *,
        interval: float = 15.0,
        for_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._pagerduty = pagerduty
        self._node = node
        self._interval = interval
        self._clock = clock
        self.state = AlertState(for_scale)
        self._history: deque[tuple[float, Snapshot]] = deque()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alerts")

    async def check(self) -> list[tuple[str, str]]:
        """One evaluation; the transitions it sent."""
        now = self._clock()
        self._history.append((now, snapshot(self._registry)))
        while self._history and now - self._history[0][0] > max(WINDOWS.values()) + 60:
            self._history.popleft()
        changes = self.state.step(evaluate(self._history), now)
        for alert, action in changes:
            await self._pagerduty.send(action, alert, self._node, now)
        return changes

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("alerts: evaluation failed")
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_all([self._task])
        await self._pagerduty.close()
