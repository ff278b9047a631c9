"""Prometheus metrics (``GET /metrics`` on every role's port), one registry per server.

Two kinds, by cost:

- on the send and delivery paths, prometheus_client's own counters and histograms
  (about 0.7 µs an observation): messages accepted, the pipeline's stages
  (:data:`STAGES`), deliveries and their latency from commit to the gateway's hand-off
  (observed once per event, not per connection);
- everything a part already counts (connections, the push worker's outcomes, retries,
  dead letters, circuit breakers, the search index's lag) is read from the parts when
  Prometheus scrapes (:class:`Gauges`), at no cost between scrapes.

Names follow Prometheus's conventions (``parley_`` prefix, ``_total`` counters, base
units); ``docs/operations.md`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Seconds: from half a millisecond to ten seconds.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: The delivery pipeline's stages, as the seed names them: the send path's (``auth``:
#: the token, ``access``: the channel, ``rate_limit``, ``write``: to the commit,
#: ``publish``: the recent buffer and the event log), ``fanout`` (a gateway handing one
#: event to its connections) and ``push`` (one call to a push provider).
STAGES = ("auth", "access", "rate_limit", "write", "publish", "fanout", "push")
#: Breaker states as numbers: closed 0, half-open 1, open 2.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Row(NamedTuple):
    """One metric read from a part: ``samples`` are ``(label values, value)``."""

    name: str
    kind: str  # "gauge" or "counter"
    doc: str
    labels: Sequence[str]
    samples: Sequence[tuple[Sequence[str], float]]


def gauge(name: str, doc: str, samples: Sequence, labels: Sequence[str] = ()) -> Row:
    return Row(name, "gauge", doc, labels, samples)


def counter(name: str, doc: str, samples: Sequence, labels: Sequence[str] = ()) -> Row:
    return Row(name, "counter", doc, labels, samples)


class Gauges(Collector):
    """Figures read from the running parts at scrape time: each source is a function
    returning :class:`Row` s; a source that fails is left out of that scrape."""

    def __init__(self) -> None:
        self._sources: list[Callable[[], Iterable[Row]]] = []

    def add(self, source: Callable[[], Iterable[Row]]) -> None:
        self._sources.append(source)

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            try:
                rows = list(source())
            except Exception:  # a part shutting down: its figures skip this scrape
                continue
            for name, kind, doc, labels, samples in rows:
                family: Any = (
                    CounterMetricFamily(name, doc, labels=list(labels))
                    if kind == "counter"
                    else GaugeMetricFamily(name, doc, labels=list(labels))
                )
                for values, value in samples:
                    family.add_metric(list(values), value)
                yield family


class Metrics:
    """The server's metrics (see the module's contract)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.accepted = Counter(
            "parley_messages_accepted",
            "Messages committed (acknowledged).",
            registry=self.registry,
        )
        stage = Histogram(
            "parley_stage_seconds",
            "Time in each stage of the send path.",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        #: One child per stage, resolved once.
        self.stage = {name: stage.labels(name) for name in STAGES}
        self.delivered = Counter(
            "parley_deliveries",
            "Messages handed to WebSocket connections (one per connection).",
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "parley_delivery_latency_seconds",
            "From a message's commit to its hand-off to the gateway's connections.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.gauges = Gauges()
        self.registry.register(self.gauges)

    def expose(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        return generate_latest(self.registry)
