"""Blocks and attachments: what is accepted, stored form, and Slack's error codes."""

from __future__ import annotations

import orjson
import pytest

from parley import content
from parley.errors import ApiError, Code


def code(blocks=None, attachments=None) -> str:
    with pytest.raises(ApiError) as err:
        content.parse(blocks, attachments)
    return err.value.code


SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}


def test_arrays_or_their_json_text_are_stored_as_one_object():
    stored = content.parse([SECTION], None)
    assert orjson.loads(stored) == {"blocks": [SECTION]}
    assert content.parse(orjson.dumps([SECTION]).decode(), '[{"color": "good"}]') == (
        orjson.dumps({"blocks": [SECTION], "attachments": [{"color": "good"}]}).decode()
    )
    assert content.fields(stored) == {"blocks": [SECTION]}
    assert content.parse(None, None) is None and content.parse("", "") is None
    assert content.parse([], []) is None  # empty arrays: no content
    assert content.patch(None, "") is None  # chat.update without them: keep
    change = content.patch([], None)  # an empty array removes that field only
    both = content.parse([SECTION], [{"color": "good"}])
    assert content.fields(content.merge(both, change)) == {"attachments": [{"color": "good"}]}
    assert content.merge(both, None) == both
    assert content.merge(content.parse([SECTION], None), change) is None
    assert content.has_content(both) and not content.has_content(change)


def test_bounds_and_slacks_error_codes():
    assert code(blocks="{not json") == "invalid_blocks_format"
    assert code(blocks={"type": "section"}) == "invalid_blocks_format"
    assert code(blocks=[{"text": "no type"}]) == "invalid_blocks"
    assert code(blocks=["section"]) == "invalid_blocks"
    assert code(blocks=[SECTION] * 51) == "invalid_blocks"
    assert content.parse([SECTION] * 50, None)
    big = [{"type": "section", "text": {"type": "plain_text", "text": "x" * 3000}}] * 30
    assert code(blocks=big) == "msg_blocks_too_long"
    assert code(attachments=[{}] * 101) == "too_many_attachments"
    assert code(attachments="[1, 2]") == "invalid_attachments"
    assert code(attachments=[{"text": "y" * 70_000}]) == "invalid_attachments"
    deep: object = {}
    for _ in range(300):  # parses, but no JSON encoder takes it back
        deep = {"type": "x", "d": [deep]}
    assert code(blocks=[deep]) == "invalid_blocks"


def test_a_bots_name_and_icon_are_kept_beside_the_content_and_are_not_content():
    stored = content.customize(content.parse([SECTION], None), " Deploy Bot ", ":rocket:", None)
    assert orjson.loads(stored) == {
        "blocks": [SECTION],
        "username": "Deploy Bot",
        "icons": {"emoji": ":rocket:"},
    }
    by_url = content.customize(None, None, None, "https://example.com/i.png")
    assert orjson.loads(by_url) == {"icons": {"image_48": "https://example.com/i.png"}}
    assert not content.has_content(by_url) and content.has_content(stored)
    assert content.has_content('{"files": [{"id": "F1"}], "username": "x"}')  # a share
    assert content.customize("x", None, "", "") == "x"  # nothing given: unchanged
    # a later edit of the blocks keeps the name
    edited = content.merge(stored, content.patch([], None))
    assert orjson.loads(edited) == {"username": "Deploy Bot", "icons": {"emoji": ":rocket:"}}
    for bad in (
        {"username": "x" * 81},
        {"icon_emoji": "rocket"},
        {"icon_emoji": ":<b>:"},
        {"icon_url": "javascript:alert(1)"},
    ):
        args = {"username": None, "icon_emoji": None, "icon_url": None, **bad}
        with pytest.raises(ApiError) as err:
            content.customize(None, **args)
        assert err.value.code == Code.INVALID_ARGUMENTS


def test_a_deleted_file_leaves_its_tombstone_and_the_other_files_stay():
    rich = orjson.dumps(
        {"files": [{"id": "F1", "name": "a.txt"}, {"id": "F2", "name": "b.png"}], "upload": True}
    ).decode()
    change = content.tombstone_file(rich, "F1")
    merged = content.fields(content.merge(rich, change))
    assert merged == {
        "files": [{"id": "F1", "mode": "tombstone"}, {"id": "F2", "name": "b.png"}],
        "upload": True,
    }
    assert content.tombstone_file(content.merge(rich, change), "F1") is None  # already
    assert content.tombstone_file(rich, "F9") is None  # not this message's
    assert content.tombstone_file(None, "F1") is None
