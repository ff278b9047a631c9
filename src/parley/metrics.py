"""Prometheus metrics (``GET /metrics`` on every role's port), one registry per server.

Two kinds, by cost:

- on the send and delivery paths, counters and histograms of our own
  (:class:`LoopCounter`, :class:`LoopHistogram`): messages accepted, the pipeline's
  stages (:data:`STAGES`), deliveries and their latency from commit to the gateway's
  hand-off (observed once per event, not per connection). They are observed on the
  event loop's thread only, so they take no lock: an observation is a bisect and two
  additions (~0.2 µs), where prometheus_client's, which lock for threads, cost ~0.7 µs
  and, nine to a message, showed as 4-5% of the loop's time in py-spy;
- everything a part already counts (connections, the push worker's outcomes, retries,
  dead letters, circuit breakers, the search index's lag) is read from the parts when
  Prometheus scrapes (:class:`Gauges`), at no cost between scrapes.

Names follow Prometheus's conventions (``parley_`` prefix, ``_total`` counters, base
units); ``docs/operations.md`` lists them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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
    """One metric read from a part: ``samples`` are ``(label values, value)``; a
    histogram's value is ``(cumulative buckets, sum)`` (:func:`cumulative`)."""

    name: str
    kind: str  # "gauge", "counter" or "histogram"
    doc: str
    labels: Sequence[str]
    samples: Sequence[tuple[Sequence[str], float]]


def gauge(name: str, doc: str, samples: Sequence, labels: Sequence[str] = ()) -> Row:
    return Row(name, "gauge", doc, labels, samples)


def counter(name: str, doc: str, samples: Sequence, labels: Sequence[str] = ()) -> Row:
    return Row(name, "counter", doc, labels, samples)


def histogram(name: str, doc: str, samples: Sequence, labels: Sequence[str] = ()) -> Row:
    return Row(name, "histogram", doc, labels, samples)


def cumulative(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """Prometheus's buckets, ``(le, observations <= le)``, from the counts of each bucket
    (``counts[i]``: at most ``bounds[i]`` and more than the bound before; the last one
    past every bound, ``+Inf``)."""
    out, total = [], 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        total += count
        out.append((floatToGoString(bound), total))
    return out


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
                if kind == "histogram":
                    family: Any = HistogramMetricFamily(name, doc, labels=list(labels))
                    for values, (buckets, total) in samples:
                        family.add_metric(list(values), buckets, total)
                    yield family
                    continue
                family = (
                    CounterMetricFamily(name, doc, labels=list(labels))
                    if kind == "counter"
                    else GaugeMetricFamily(name, doc, labels=list(labels))
                )
                for values, value in samples:
                    family.add_metric(list(values), value)
                yield family


class LoopCounter:
    """A counter for one thread (the event loop's): no lock."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class LoopHistogram:
    """A histogram for one thread (the event loop's): no lock. ``bounds`` ascending,
    each an upper bound (``le``) of its bucket; past the last, ``+Inf``."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float] = _BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative, as Prometheus exposes them: ``(le, observations <= le)``."""
        return cumulative(self.bounds, self.counts)


class Instruments(Collector):
    """The loop's counters and histograms, made here and exposed with the registry's
    other metrics when Prometheus scrapes."""

    def __init__(self) -> None:
        self._counters: list[tuple[str, str, LoopCounter]] = []
        #: ``(name, doc, label name or "", {label value or "": histogram})``
        self._histograms: list[tuple[str, str, str, dict[str, LoopHistogram]]] = []

    def counter(self, name: str, doc: str) -> LoopCounter:
        instrument = LoopCounter()
        self._counters.append((name, doc, instrument))
        return instrument

    def histogram(self, name: str, doc: str) -> LoopHistogram:
        instrument = LoopHistogram()
        self._histograms.append((name, doc, "", {"": instrument}))
        return instrument

    def histograms(
        self, name: str, doc: str, label: str, values: Sequence[str]
    ) -> dict[str, LoopHistogram]:
        """One histogram per value of ``label``, by value."""
        children = {value: LoopHistogram() for value in values}
        self._histograms.append((name, doc, label, children))
        return children

    def collect(self) -> Iterator[Metric]:
        for name, doc, counter in self._counters:
            yield CounterMetricFamily(name, doc, value=counter.value)
        for name, doc, label, children in self._histograms:
            family = HistogramMetricFamily(name, doc, labels=[label] if label else [])
            for value, hist in children.items():
                family.add_metric([value] if label else [], hist.buckets(), hist.sum)
            yield family


class Metrics:
    """The server's metrics (see the module's contract)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        instruments = Instruments()
        self.accepted = instruments.counter(
            "parley_messages_accepted", "Messages committed (acknowledged)."
        )
        #: One histogram per stage.
        self.stage = instruments.histograms(
            "parley_stage_seconds", "Time in each stage of the send path.", "stage", STAGES
        )
        self.delivered = instruments.counter(
            "parley_deliveries", "Messages handed to WebSocket connections (one per connection)."
        )
        self.delivery_latency = instruments.histogram(
            "parley_delivery_latency_seconds",
            "From a message's commit to its hand-off to the gateway's connections.",
        )
        self.registry.register(instruments)
        self.gauges = Gauges()
        self.registry.register(self.gauges)

    def expose(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        return generate_latest(self.registry)
