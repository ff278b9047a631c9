"""The benchmark's scenarios. A preset is data; :mod:`parley.bench.runner` runs it."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Preset:
    """One scenario.

    ``kind``: ``load`` (open-loop sends at ``rate`` for ``seconds``), ``fanout`` (the same,
    judged by deliveries/s against a same-run WebSocket broadcast), ``throughput`` (load
    steps at rising rates until p99 send-to-delivery reaches ``p99_limit_ms`` or anything
    is lost), ``reconnect`` (load while ``churn`` of the subscribers per second drop and
    resume), ``connections`` (idle connections until ``subscribers`` or a limit) or
    ``search`` (queries against a store of ``corpus`` messages, by ``senders`` clients).
    """

    name: str
    kind: str
    channels: int
    subscribers: int
    rate: float = 0.0  # messages/s, open loop
    seconds: float = 0.0
    route: str = "http"  # "http": chat.postMessage; "ws": the RTM send
    #: Sender users; each holds one connection on either route. Over HTTP it has one
    #: request in flight, so the senders carry at most about ``senders`` / (durable send
    #: latency) messages/s whatever the server could: with 32, 4,012 msg/s of 5,000 asked
    #: got through on 2026-12-05, with 128 all of them (same server, same half hour).
    #: Over the WebSocket a connection has up to 256 sends in flight (since 2026-12-07;
    #: before, one at a time, as over HTTP). Real load comes from many users.
    senders: int = 128
    max_users: int = 1000  # subscribers beyond this share users (several devices each)
    baseline_seconds: float = 2.0
    p99_limit_ms: float = 100.0
    start_rate: float = 1000.0
    step_seconds: float = 5.0
    churn: float = 0.0  # share of subscribers dropping per second (reconnect)
    #: search: a probe measures index lag during a load (``search_probe`` seconds apart);
    #: ``search`` kind: a store of ``corpus`` messages, queried by ``senders`` clients
    search_probe: float = 0.0
    corpus: int = 0
    #: push: a probe mentions an offline member every ``push_probe`` seconds during the
    #: load; then ``push_burst`` offline members get ten ``<!channel>`` pushes each
    push_probe: float = 0.0
    push_burst: int = 0
    #: a fault injected beside the load (``parley.bench.faults``): "" none, "push" the
    #: push providers failing for a quarter of the run
    fault: str = ""

    def with_overrides(self, **changes) -> Preset:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


#: The load the ``latency`` preset runs; ``search-lag`` and ``push`` run it with a probe.
_LATENCY = Preset("latency", "load", channels=100, subscribers=1000, rate=5000, seconds=20)

PRESETS = {
    "smoke": Preset(
        "smoke",
        "load",
        channels=4,
        subscribers=20,
        rate=200,
        seconds=3,
        senders=32,
        baseline_seconds=1.0,
    ),
    "throughput": Preset(
        "throughput", "throughput", channels=100, subscribers=100, step_seconds=5.0
    ),
    "latency": _LATENCY,
    "fanout": Preset(
        "fanout", "fanout", channels=1, subscribers=1000, rate=1000, seconds=0.5, senders=4
    ),
    "fanout10k": Preset(
        "fanout10k", "fanout", channels=1, subscribers=10_000, rate=400, seconds=0.25, senders=4
    ),
    "connections": Preset("connections", "connections", channels=1, subscribers=50_000),
    "search-lag": _LATENCY.with_overrides(name="search-lag", search_probe=0.1),
    "search": Preset(
        "search", "search", channels=100, subscribers=0, seconds=20, senders=8, corpus=1_000_000
    ),
    "push": _LATENCY.with_overrides(name="push", push_probe=0.1, push_burst=1000),
    "reconnect": Preset(
        "reconnect", "reconnect", channels=100, subscribers=1000, rate=1000, seconds=15, churn=0.05
    ),
}
