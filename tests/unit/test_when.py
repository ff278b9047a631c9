"""Reading when a reminder is due (:mod:`parley.pipeline.when`), on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parley.pipeline.when import When, following, parse, split

NOW = int(datetime(2026, 12, 7, 14, 0, tzinfo=UTC).timestamp())  # a Monday, 14:00 UTC


def at(text: str, offset: int = 0) -> tuple[str, dict] | None:
    found = parse(text, NOW, offset)
    if found is None:
        return None
    return datetime.fromtimestamp(found.at, UTC).strftime("%a %d %H:%M"), found.recurrence


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("in 10 minutes", "Mon 07 14:10"),
        ("in an hour", "Mon 07 15:00"),
        ("In 2 Days", "Wed 09 14:00"),
        ("in 1 week", "Mon 14 14:00"),
        ("in 30 secs", "Mon 07 14:00"),
        ("at 3pm", "Mon 07 15:00"),
        ("at 9am", "Tue 08 09:00"),  # passed today: tomorrow
        ("at 15:30", "Mon 07 15:30"),
        ("at 12 am", "Tue 08 00:00"),
        ("at noon", "Tue 08 12:00"),
        ("today at 3pm", "Mon 07 15:00"),
        ("tomorrow", "Tue 08 09:00"),
        ("tomorrow at 5:30pm", "Tue 08 17:30"),
        ("3pm tomorrow", "Tue 08 15:00"),
        ("at 5 pm tomorrow", "Tue 08 17:00"),
        ("on friday", "Fri 11 09:00"),
        ("monday", "Mon 14 09:00"),
        ("on monday at 10am", "Mon 14 10:00"),
        ("600", "Mon 07 14:10"),
    ],
)
def test_one_time(text, due):
    assert at(text) == (due, {})


@pytest.mark.parametrize(
    "text", ["today at 9am", "at 25pm", "at 13pm", "in 0 minutes", "whenever", "every fortnight"]
)
def test_what_is_not_a_time(text):
    assert at(text) is None


def test_a_unix_time_must_be_ahead_and_within_five_years():
    assert parse(str(NOW + 100_000), NOW) == When(NOW + 100_000)
    assert parse(str(NOW - 100_000), NOW) is None
    assert parse(str(NOW + 6 * 365 * 86400), NOW) is None


def test_recurring():
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    assert at("every day") == ("Tue 08 09:00", {"frequency": "daily"})
    assert at("every weekday at 8am") == (
        "Tue 08 08:00",
        {"frequency": "weekly", "weekdays": weekdays},
    )
    assert at("every monday and friday at 10") == (
        "Fri 11 10:00",
        {"frequency": "weekly", "weekdays": ["monday", "friday"]},
    )
    assert at("at 5pm every day") == ("Mon 07 17:00", {"frequency": "daily"})
    assert at("every month")[1] == {"frequency": "monthly"}


def test_a_time_of_day_is_the_persons():
    # 3pm an hour east of UTC is 14:00 UTC: now, so tomorrow's
    assert at("at 3pm", 60) == ("Tue 08 14:00", {})
    assert at("at 3pm", -60) == ("Mon 07 16:00", {})


def test_remind_reads_what_then_when():
    assert split("to stretch in 10 minutes", NOW) == ("stretch", When(NOW + 600))
    what, when = split("call mom at 5pm every day", NOW)
    assert what == "call mom" and when.recurrence == {"frequency": "daily"}
    assert split("stand up", NOW) is None
    assert split("in 10 minutes", NOW) is None  # nothing to be reminded of


def test_the_next_time_of_a_recurring_one_keeps_its_time_of_day():
    fri = parse("every monday and friday at 10", NOW)
    nxt = following(fri)
    assert datetime.fromtimestamp(nxt, UTC).strftime("%a %d %H:%M") == "Mon 14 10:00"
    jan31 = int(datetime(2027, 1, 31, 9, tzinfo=UTC).timestamp())
    feb = following(When(jan31, {"frequency": "monthly"}))
    assert datetime.fromtimestamp(feb, UTC).strftime("%m-%d %H:%M") == "02-28 09:00"
    assert following(When(NOW)) is None
