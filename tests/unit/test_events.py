"""Bus events (``parley.pipeline.events``): what a kept event costs in memory."""

from __future__ import annotations

import tracemalloc

import orjson

from parley.pipeline import events
from parley.storage.models import Message


def _message(i: int) -> Message:
    return Message(
        id=1000 + i,
        channel="C0123456789",
        team="T0123456789",
        seq=i,
        ts=1_796_534_171_000_000 + i,
        user="U0123456789",
        bot_id=None,
        text=f"message {i}",
    )


def test_a_kept_event_holds_about_its_payloads_size_not_the_encoders_buffer():
    """The bus and the recent buffer keep up to ``2 * partitions * bus_retention`` events;
    each must hold its payload's size, not the (4 KiB or more) buffer orjson wrote it in."""
    posts = [_message(i) for i in range(500)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [events.message_posted(m) for m in posts]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    payload = sum(len(e.payload) for e in kept)
    assert payload / len(kept) < 400
    # each event: its payload, the Event struct and a few small strings; far under 4 KiB
    assert held / len(kept) < payload / len(kept) + 400
    assert orjson.loads(kept[7].payload)["text"] == "message 7"


def test_encode_is_orjsons_encoding():
    body = {"type": "message", "text": "héllo \u2028", "seq": 3, "nested": {"a": [1, None]}}
    assert events.encode(body) == orjson.dumps(body)
