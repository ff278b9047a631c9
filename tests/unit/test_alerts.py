"""The in-process alert rules (``parley.alerts``): each condition from snapshots of the
metrics, ``for`` durations, and PagerDuty's event shape. Pure."""

from __future__ import annotations

from parley.alerts import RULES, AlertState, evaluate, pagerduty_event


def latency(fast: int, slow: int) -> dict:
    return {
        ("parley_delivery_latency_seconds_bucket", (("le", "0.1"),)): float(fast),
        ("parley_delivery_latency_seconds_bucket", (("le", "1.0"),)): float(fast + slow),
        ("parley_delivery_latency_seconds_bucket", (("le", "+Inf"),)): float(fast + slow),
    }


def syncs(fast: int, slow: int) -> dict:
    """The store's syncs: ``fast`` under 5 ms, ``slow`` between 250 ms and 500 ms."""
    return {
        ("parley_store_sync_seconds_bucket", (("le", "0.005"),)): float(fast),
        ("parley_store_sync_seconds_bucket", (("le", "0.25"),)): float(fast),
        ("parley_store_sync_seconds_bucket", (("le", "0.5"),)): float(fast + slow),
        ("parley_store_sync_seconds_bucket", (("le", "+Inf"),)): float(fast + slow),
    }


def held(now: dict, then: dict | None = None, seconds: float = 300) -> dict[str, bool | None]:
    history = [(0.0, then or {}), (seconds, now)]
    return evaluate(history)


def test_each_condition():
    assert not any(held({}).values())
    assert held(latency(980, 20), latency(0, 0))["ParleyDeliveryLatencyHigh"]
    assert not held(latency(1000, 5), latency(0, 0))["ParleyDeliveryLatencyHigh"]
    accepted = ("parley_messages_accepted_total", ())
    dropped = ("parley_publish_dropped_total", ())
    assert held({accepted: 1000, dropped: 2}, {accepted: 0, dropped: 0}, 600)[
        "ParleyDeliveryRateLow"
    ]
    assert not held({accepted: 1000, dropped: 0}, {accepted: 0, dropped: 0}, 600)[
        "ParleyDeliveryRateLow"
    ]
    sent = ("parley_push_total", (("outcome", "sent"),))
    dead = ("parley_push_total", (("outcome", "dead_letters"),))
    pushes = held({sent: 100, dead: 1}, {sent: 0, dead: 0}, 600)
    assert pushes["ParleyDeliveryRateLow"] and pushes["ParleyDeadLettersGrowing"]
    refused = ("parley_index_total", (("outcome", "dead_letters"),))
    assert held({refused: 1}, {refused: 0}, 900)["ParleyDeadLettersGrowing"]  # any step's
    assert not held({refused: 1}, {refused: 1}, 900)["ParleyDeadLettersGrowing"]
    assert held({("parley_publish_queue", ()): 10_001})["ParleyQueueDepthHigh"]
    open_ = {("parley_breaker_state", (("breaker", "push:fcm"),)): 2.0}
    half = {("parley_breaker_state", (("breaker", "push:fcm"),)): 1.0}
    assert (
        held(open_)["ParleyCircuitBreakerOpen"] and held(half)["ParleyCircuitBreakerOpen"] is None
    )
    assert held({**open_, ("parley_breaker_state", (("breaker", "push:apns"),)): 1.0})[
        "ParleyCircuitBreakerOpen"
    ]  # one open is enough
    assert held(syncs(980, 20), syncs(0, 0))["ParleyStoreSyncSlow"]
    assert not held(syncs(995, 5), syncs(0, 0))["ParleyStoreSyncSlow"]
    assert not held(syncs(980, 20), syncs(980, 20))["ParleyStoreSyncSlow"]  # none since


def test_alerts_fire_after_their_for_duration_and_resolve_once():
    state = AlertState()
    holds = dict.fromkeys(RULES, False)
    assert state.step({**holds, "ParleyCircuitBreakerOpen": True}, 0) == []
    assert state.step({**holds, "ParleyCircuitBreakerOpen": True}, 59) == []
    fired = state.step({**holds, "ParleyCircuitBreakerOpen": True}, 60)
    assert fired == [("ParleyCircuitBreakerOpen", "trigger")]
    assert state.step({**holds, "ParleyCircuitBreakerOpen": True}, 90) == []  # once
    # half-open, probing between two spells of open: the incident goes on
    assert state.step({**holds, "ParleyCircuitBreakerOpen": None}, 100) == []
    assert state.step({**holds, "ParleyCircuitBreakerOpen": True}, 110) == []
    assert state.step(holds, 120) == [("ParleyCircuitBreakerOpen", "resolve")]
    assert state.step(holds, 150) == []
    assert state.step({**holds, "ParleyCircuitBreakerOpen": None}, 160) == []  # no page
    instant = AlertState(for_scale=0)
    now = instant.step({**holds, "ParleyDeliveryRateLow": True}, 0)
    assert now == [("ParleyDeliveryRateLow", "trigger")]


def test_pagerduty_events():
    trigger = pagerduty_event(
        "trigger", "k" * 32, "parley/all-0/X", "ParleyQueueDepthHigh", "all-0", 0
    )
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "parley/all-0/X"
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["source"] == "all-0"
    assert trigger["payload"]["summary"].startswith("ParleyQueueDepthHigh: ")
    resolve = pagerduty_event("resolve", "k" * 32, "parley/all-0/X", "ParleyQueueDepthHigh", "a", 0)
    assert "payload" not in resolve
