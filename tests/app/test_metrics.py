"""``GET /metrics``: Prometheus's text format, with the send path's and the gateway's
figures moving as messages go through (the push worker's in ``test_push_faults.py``)."""

from __future__ import annotations

import json
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` of the server's ``/metrics``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        assert r.headers["content-type"].startswith("text/plain")
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_the_messages(server):
    alice, bob = server.user("metrics-alice"), server.user("metrics-bob")
    web = server.client(alice.token)
    room = web.conversations_create(name="metrics")["channel"]["id"]
    web.conversations_invite(channel=room, users=bob.user_id)
    before = scrape(server.url)
    with connect(server.client(bob.token).rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        during = scrape(server.url)
        for i in range(5):
            web.chat_postMessage(channel=room, text=f"counted {i}")
        got = 0
        while got < 5:  # bob's connection received them all
            if json.loads(ws.recv(timeout=10)).get("type") == "message":
                got += 1
    after = scrape(server.url)
    accepted = "parley_messages_accepted_total"
    assert value(after, accepted) - value(before, accepted) >= 5
    for stage in ("auth", "access", "rate_limit", "write", "publish", "fanout"):
        count = "parley_stage_seconds_count"
        assert value(after, count, stage=stage) - value(before, count, stage=stage) >= 5
    assert value(after, "parley_deliveries_total") - value(before, "parley_deliveries_total") >= 5
    delivered = "parley_delivery_latency_seconds_count"
    assert value(after, delivered) - value(before, delivered) >= 5
    synced = "parley_store_sync_seconds_count"  # one at a time: each post a commit synced
    assert value(after, synced) - value(before, synced) >= 5
    assert value(after, "parley_store_sync_seconds_sum") > value(
        before, "parley_store_sync_seconds_sum"
    )
    assert value(after, "parley_store_sync_seconds_bucket", le="+Inf") == value(after, synced)
    assert value(during, "parley_connections") >= 1
    readers = {dict(labels)["reader"] for name, labels in after if name == "parley_consumer_lag"}
    assert {"gateway", "indexer"} <= readers
    assert all(v >= 0 for (name, _), v in after.items() if name == "parley_consumer_lag")
    assert 0 <= value(after, "parley_search_index_lag_seconds") < 30
    assert value(after, "parley_publish_queue") == 0  # the in-process bus queues nothing
    for step in ("index", "push"):  # every step's waiting retries and dead letters
        assert ("parley_retries_pending", (("step", step),)) in after
        assert ("parley_dead_letters", (("step", step),)) in after
    assert ("parley_publish_retries_total", ()) in after
    assert after[("parley_bus_reopened_total", ())] == 0  # the in-process bus never reopens
    breakers = {dict(labels)["breaker"] for name, labels in after if name == "parley_breaker_state"}
    assert {"search", "shard:0", "shard:1", "shard:2", "shard:3"} <= breakers
