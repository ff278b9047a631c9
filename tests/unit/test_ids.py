"""Snowflake ids, Slack-style ids and message timestamps: pure, on an injected clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.api.methods.ims import mpim_id, mpim_name
from parley.ids import (
    EPOCH_MS,
    MAX_SEQUENCE,
    Kind,
    Snowflake,
    decode_id,
    encode_id,
    format_ts,
    next_channel_ts,
    parse_ts,
    snowflake_parts,
)


class StepClock:
    """Returns the given readings in turn, then repeats the last."""

    def __init__(self, readings: list[int]) -> None:
        self.readings = list(readings)

    def __call__(self) -> int:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_snowflake_packs_time_worker_and_sequence():
    gen = Snowflake(7, clock=lambda: EPOCH_MS + 1234)
    first, second = gen.next(), gen.next()
    assert snowflake_parts(first) == (EPOCH_MS + 1234, 7, 0)
    assert snowflake_parts(second) == (EPOCH_MS + 1234, 7, 1)
    assert first.bit_length() <= 64


@given(st.lists(st.integers(EPOCH_MS, EPOCH_MS + 10_000), min_size=1, max_size=300))
def test_snowflake_never_repeats_or_goes_back_whatever_the_clock_does(readings):
    gen = Snowflake(1, clock=StepClock(readings))
    ids = [gen.next() for _ in range(len(readings) + 50)]
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False))


def test_snowflake_survives_more_than_4096_ids_in_one_millisecond():
    gen = Snowflake(3, clock=lambda: EPOCH_MS + 5)
    ids = [gen.next() for _ in range(3 * (MAX_SEQUENCE + 1))]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert snowflake_parts(ids[-1])[0] == EPOCH_MS + 5 + 2  # borrowed two milliseconds


def test_two_workers_never_collide():
    a = Snowflake(1, clock=lambda: EPOCH_MS)
    b = Snowflake(2, clock=lambda: EPOCH_MS)
    assert not {a.next() for _ in range(1000)} & {b.next() for _ in range(1000)}


@pytest.mark.parametrize("worker", [-1, 1024])
def test_worker_id_is_bounded(worker):
    with pytest.raises(ValueError):
        Snowflake(worker)


@given(st.sampled_from(list(Kind)), st.integers(0, 2**64 - 1))
def test_slack_ids_round_trip(kind, value):
    text = encode_id(kind, value)
    assert text[0] == kind.value and text[1:].isalnum() and text.upper() == text
    assert decode_id(kind, text) == value


@pytest.mark.parametrize("text", ["", "C", "U0123", "c0123", "C01I3", "C0123!", "C" + "Z" * 14])
def test_decode_id_rejects_what_is_not_an_id_of_that_kind(text):
    assert decode_id(Kind.CHANNEL, text) is None


@given(st.text(max_size=20))
def test_decode_id_never_raises(text):
    decode_id(Kind.USER, text)


@given(st.integers(0, 10**18 - 1))  # 12 digits of seconds: year 33658
def test_ts_round_trips(us):
    text = format_ts(us)
    seconds, frac = text.split(".")
    assert len(frac) == 6
    assert parse_ts(text) == us


def test_ts_formats_like_slack():
    assert format_ts(1_640_995_200_123_456) == "1640995200.123456"
    assert parse_ts("1640995200.123") == 1_640_995_200_123_000
    assert parse_ts("1640995200") == 1_640_995_200_000_000


@pytest.mark.parametrize("text", ["", "abc", "-1.5", "1.1234567", "1e9", "1.2.3", " ."])
def test_parse_ts_rejects_malformed(text):
    assert parse_ts(text) is None


def test_next_channel_ts_is_strictly_after_the_last():
    assert next_channel_ts(100, 50) == 100
    assert next_channel_ts(100, 100) == 101
    assert next_channel_ts(90, 100) == 101  # clock stepped back


def test_a_group_direct_message_is_named_and_found_by_its_members():
    ident = mpim_id("T1", ["U3", "U1", "U2"])
    assert ident.startswith("G") and ident == mpim_id("T1", ["U2", "U3", "U1", "U1"])
    assert ident not in (mpim_id("T2", ["U1", "U2", "U3"]), mpim_id("T1", ["U1", "U2"]))
    assert mpim_name(["ann", "ben", "cy"], 1) == "mpdm-ann--ben--cy-1"
    long = mpim_name(["x" * 80] * 9, 12)
    assert len(long) == 240 and long.endswith("x-12")
