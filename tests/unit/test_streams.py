"""Streamed messages' pure core (:mod:`parley.streams`): chunks checked and applied in
order, tasks updated by id, and a stream's life."""

from __future__ import annotations

import orjson
import pytest

from parley import streams
from parley.errors import ApiError
from parley.streams import LIFETIME_US, Stream, Task


def code_of(call, *args) -> str:
    with pytest.raises(ApiError) as err:
        call(*args)
    return err.value.code


def test_chunks_apply_in_order_tasks_by_id():
    items = streams.chunks(
        "Hi",
        [
            {"type": "plan_update", "title": "Plan"},
            {"type": "task_update", "id": "a", "title": "Look", "status": "in_progress"},
            {"type": "markdown_text", "text": " there"},
            {"type": "task_update", "id": "b", "title": "Write"},
            {"type": "task_update", "id": "a", "status": "complete", "details": "found"},
            {"type": "task_update", "id": "a", "status": "complete", "details": " 3"},
            {"type": "blocks", "blocks": [{"type": "divider"}]},
        ],
    )
    got = streams.applied("", Stream("streaming", 1), items)
    assert got.text == "Hi there"
    assert got.stream.plan == "Plan"
    assert got.stream.tasks == (
        Task("a", "Look", "complete", details="found 3"),  # title kept, details appended
        Task("b", "Write", "pending"),
    )
    assert got.blocks == ({"type": "divider"},)


def test_the_patch_keeps_the_messages_blocks_and_adds_the_new_after():
    got = streams.applied("", Stream("streaming", 1), [])
    fields = {"blocks": [{"type": "section"}]}
    patch = orjson.loads(streams.patch(fields, got, [{"type": "divider"}]))
    assert patch["blocks"] == [{"type": "section"}, {"type": "divider"}]
    assert patch["stream"] == {"state": "streaming", "started": 1}
    assert "blocks" not in orjson.loads(streams.patch(fields, got))  # left as it is
    full = {"blocks": [{"type": "divider"}] * 50}
    assert code_of(streams.patch, full, got, [{"type": "divider"}]) == "invalid_blocks"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_chunks"),
        ({"type": "markdown_text"}, "invalid_chunks"),  # not an array
        ([{"type": "video"}], "invalid_chunks"),
        ([{"type": "markdown_text", "text": ""}], "invalid_chunks"),
        ([{"type": "task_update", "title": "no id"}], "invalid_chunks"),
        ([{"type": "task_update", "id": "a", "status": "asleep"}], "invalid_chunks"),
        ([{"type": "task_update", "id": "a", "sources": ["x"]}], "invalid_chunks"),
        ([{"type": "blocks", "blocks": [{"text": "no type"}]}], "invalid_chunks"),
        ([{"type": "markdown_text", "text": "x" * 12_001}], "msg_too_long"),
        ([{"type": "plan_update", "title": "p"}] * 101, "invalid_chunks"),
    ],
)
def test_bad_chunks_are_refused(raw, code):
    assert code_of(streams.chunks, None, raw) == code


def test_a_stream_takes_appends_while_streaming_and_young():
    live = {"stream": {"state": "streaming", "started": 1_000}}
    assert streams.live(live, 1_000 + LIFETIME_US).started == 1_000
    for fields, now in (
        (live, 1_000 + LIFETIME_US + 1),  # outlived
        ({"stream": {"state": "stopped", "started": 1_000}}, 2_000),
        ({}, 2_000),  # never streamed
        ({"stream": "garbage"}, 2_000),
    ):
        assert code_of(streams.live, fields, now) == "message_not_in_streaming_state"


def test_a_stream_holds_a_bounded_number_of_tasks():
    stream = Stream("streaming", 1)
    many = [{"type": "task_update", "id": str(i)} for i in range(streams.MAX_TASKS)]
    stream = streams.applied("", stream, streams.chunks(None, many)).stream
    again = streams.chunks(None, [{"type": "task_update", "id": "0", "status": "complete"}])
    assert streams.applied("", stream, again).stream.tasks[0].status == "complete"
    one_more = streams.chunks(None, [{"type": "task_update", "id": "new"}])
    assert code_of(streams.applied, "", stream, one_more) == "invalid_chunks"
