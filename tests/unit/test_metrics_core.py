"""The loop's own counters and histograms (parley.metrics): Prometheus's semantics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from parley.metrics import LoopHistogram, Metrics, cumulative, histogram


def test_buckets_are_cumulative_and_an_observation_on_a_bound_counts_in_it():
    h = LoopHistogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(value)
    assert h.buckets() == [("0.1", 2), ("1.0", 4), ("+Inf", 5)]
    assert h.sum == 8.65


def test_the_exposition_parses_with_the_names_the_rules_use():
    m = Metrics()
    m.accepted.inc()
    m.delivered.inc(3)
    m.stage["write"].observe(0.002)
    m.delivery_latency.observe(0.2)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(m.expose().decode())
        for s in family.samples
    }
    assert samples[("parley_messages_accepted_total", ())] == 1
    assert samples[("parley_deliveries_total", ())] == 3
    assert samples[("parley_stage_seconds_count", (("stage", "write"),))] == 1
    assert samples[("parley_stage_seconds_bucket", (("le", "0.001"), ("stage", "write")))] == 0
    assert samples[("parley_stage_seconds_bucket", (("le", "0.0025"), ("stage", "write")))] == 1
    assert samples[("parley_stage_seconds_count", (("stage", "push"),))] == 0
    latency = "parley_delivery_latency_seconds_bucket"
    assert samples[(latency, (("le", "0.1"),))] == 0
    assert samples[(latency, (("le", "0.25"),))] == 1
    assert samples[(latency, (("le", "+Inf"),))] == 1


def test_a_part_read_at_scrape_time_may_give_a_histogram_of_its_own_counts():
    """A :class:`Row` of kind ``histogram`` (what the SQLite store gives of its syncs):
    per-bucket counts made cumulative, with ``_count`` and ``_sum``."""
    m = Metrics()
    buckets = cumulative((0.001, 0.01), (4, 2, 1))
    assert buckets == [("0.001", 4), ("0.01", 6), ("+Inf", 7)]
    m.gauges.add(lambda: [histogram("parley_test_seconds", "A test.", [((), (buckets, 0.5))])])
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(m.expose().decode())
        for s in family.samples
    }
    assert samples[("parley_test_seconds_bucket", (("le", "0.01"),))] == 6
    assert samples[("parley_test_seconds_count", ())] == 7
    assert samples[("parley_test_seconds_sum", ())] == 0.5
