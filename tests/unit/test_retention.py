"""The pure core of message retention (:mod:`parley.retention`): policies by
workspace, a conversation's own span over its workspace's, and the cutoff."""

from __future__ import annotations

import random

from parley.retention import DAY_US, Spans, cutoff, file_days, spans
from parley.storage.models import RetentionPolicy as P


def test_a_conversations_own_span_wins_over_its_workspaces():
    policies = [P("T1", "", 30), P("T1", "CKEEP", 365), P("T2", "CONLY", 7)]
    for order in (policies, list(reversed(policies))):
        by_team = spans(order)
        assert by_team == {
            "T1": Spans(30, {"CKEEP": 365}),
            "T2": Spans(None, {"CONLY": 7}),
        }
    assert by_team["T1"].days("CKEEP") == 365 and by_team["T1"].days("CANY") == 30
    assert by_team["T2"].days("CONLY") == 7 and by_team["T2"].days("CANY") is None
    assert spans([]) == {}


def test_the_order_policies_come_in_does_not_matter():
    policies = [
        P(f"T{t}", f"C{c}" if c else "", 1 + (t * 7 + c) % 90) for t in range(5) for c in range(4)
    ]
    expected = spans(policies)
    for seed in range(20):
        shuffled = policies[:]
        random.Random(seed).shuffle(shuffled)
        assert spans(shuffled) == expected


def test_the_cutoff_is_the_span_before_now():
    now = 1_800_000_000_000_000
    assert cutoff(now, 1) == now - DAY_US
    assert cutoff(now, 30) == now - 30 * 86_400 * 1_000_000


def test_a_file_is_kept_as_long_as_the_longest_span_it_is_shown_under():
    span = Spans(30, {"CKEEP": 365, "CSHORT": 7})
    forever = Spans(None, {"CSHORT": 7})
    assert file_days(span, []) == 30  # shared nowhere: the workspace's
    assert file_days(span, ["CANY"]) == 30
    assert file_days(span, ["CSHORT"]) == 7
    assert file_days(span, ["CSHORT", "CKEEP"]) == 365
    assert file_days(forever, ["CSHORT"]) == 7
    assert file_days(forever, ["CSHORT", "CANY"]) is None  # CANY keeps its messages
    assert file_days(forever, []) is None
