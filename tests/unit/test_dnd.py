"""Do Not Disturb's time rules (``parley.notify.dnd``): windows across midnight, time
zones and daylight saving time, snoozes, and when a DND ends."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from parley.notify.dnd import Dnd, Schedule, ended, ends, parse_clock, status, window, zone


def at(text: str, tz: str = "UTC") -> int:
    """Unix seconds of a local wall time ``YYYY-MM-DD HH:MM`` in ``tz``."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp())


NIGHT = Schedule(22 * 60, 8 * 60, "Europe/Paris")  # 22:00-08:00, past midnight


def test_a_window_past_midnight():
    # at 03:00 the window began yesterday at 22:00 and ends at 08:00
    start, end = window(NIGHT, at("2026-11-25 03:00", "Europe/Paris"))
    assert start == at("2026-11-24 22:00", "Europe/Paris")
    assert end == at("2026-11-25 08:00", "Europe/Paris")
    # at noon: the next one, tonight
    start, end = window(NIGHT, at("2026-11-25 12:00", "Europe/Paris"))
    assert (start, end) == (
        at("2026-11-25 22:00", "Europe/Paris"),
        at("2026-11-26 08:00", "Europe/Paris"),
    )
    assert status(Dnd(0, NIGHT), at("2026-11-25 23:59", "Europe/Paris")).in_dnd
    assert not status(Dnd(0, NIGHT), at("2026-11-25 08:00", "Europe/Paris")).in_dnd


def test_a_day_window_and_zones_with_odd_offsets():
    office = Schedule(9 * 60, 17 * 60, "Asia/Kolkata")  # UTC+05:30
    start, end = window(office, at("2026-11-25 20:00", "Asia/Kolkata"))
    assert start == at("2026-11-26 09:00", "Asia/Kolkata") and end - start == 8 * 3600
    chatham = Schedule(0, 6 * 60, "Pacific/Chatham")  # UTC+13:45 in November
    start, _ = window(chatham, at("2026-11-25 00:30", "Pacific/Chatham"))
    assert start == at("2026-11-25 00:00", "Pacific/Chatham")


def test_daylight_saving_time_changes():
    ny = Schedule(22 * 60, 8 * 60, "America/New_York")
    # the night the clocks go back (1 November 2026): the window is one hour longer
    start, end = window(ny, at("2026-10-31 23:00", "America/New_York"))
    assert end - start == 11 * 3600
    # the night they go forward (8 March 2026): one hour shorter
    start, end = window(ny, at("2026-03-07 23:00", "America/New_York"))
    assert end - start == 9 * 3600
    # a start inside the skipped hour (02:30 does not exist on 8 March) begins at 03:00
    skipped = Schedule(2 * 60 + 30, 4 * 60, "America/New_York")
    start, end = window(skipped, at("2026-03-08 01:00", "America/New_York"))
    assert start == at("2026-03-08 03:00", "America/New_York")
    assert end == at("2026-03-08 04:00", "America/New_York")


def test_snoozes_and_when_dnd_ends():
    now = at("2026-11-25 12:00")
    snoozed = Dnd(now + 1800)
    s = status(snoozed, now)
    assert s.in_dnd and s.snooze_enabled and s.snooze_remaining == 1800 and not s.dnd_enabled
    assert ends(snoozed, now) == now + 1800
    assert not status(Dnd(now - 1), now).in_dnd and ends(Dnd(), now) == now
    # a snooze that runs into the nightly window ends when the window does
    evening = at("2026-11-25 21:30", "Europe/Paris")
    both = Dnd(evening + 3600, NIGHT)
    assert ends(both, evening) == at("2026-11-26 08:00", "Europe/Paris")


def test_ending_dnd_by_hand_ends_the_snooze_and_tonights_window_only():
    night = at("2026-11-25 23:00", "Europe/Paris")
    both = Dnd(night + 600, NIGHT)
    off = ended(both, night)
    assert off.snooze_until == 0 and off.off_until == at("2026-11-26 08:00", "Europe/Paris")
    s = status(off, night)
    assert not s.in_dnd and not s.snooze_enabled and s.dnd_enabled
    # what dnd.info shows next is tomorrow night's window, which holds as scheduled
    assert s.next_dnd_start_ts == at("2026-11-26 22:00", "Europe/Paris")
    assert ends(off, night) == night
    assert status(off, at("2026-11-26 07:59", "Europe/Paris")).in_dnd is False
    assert status(off, at("2026-11-26 22:00", "Europe/Paris")).in_dnd is True
    # outside any window it ends the snooze alone, and leaves nothing behind
    noon = at("2026-11-25 12:00", "Europe/Paris")
    assert ended(Dnd(noon + 60, NIGHT), noon) == Dnd(0, NIGHT)
    assert ended(Dnd(), noon) == Dnd()


def test_empty_schedules_unknown_zones_and_clock_parsing():
    assert window(Schedule(600, 600, "UTC"), 0) is None
    assert window(Schedule(0, 60, "Nowhere/Atlantis"), 0) is None
    assert zone("../etc/passwd") is None and zone("") is None and zone("UTC") is not None
    assert parse_clock("22:30") == 1350 and parse_clock("0:05") == 5
    for bad in ("24:00", "12:60", "12", "ab:cd", "1:5", "", "-1:00"):
        assert parse_clock(bad) is None, bad


ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


@given(
    st.integers(0, 1439),
    st.integers(0, 1439),
    st.sampled_from(ZONES),
    st.integers(1_700_000_000, 1_900_000_000),
)
def test_the_window_holds_now_or_comes_next(start, end, tz, now):
    span = window(Schedule(start, end, tz), now)
    if start == end:
        assert span is None
        return
    assert span is not None
    begin, finish = span
    assert finish > now and begin < finish
    minutes = (end - start) % 1440
    assert abs((finish - begin) - minutes * 60) <= 3600  # a DST change moves it an hour
    assert begin - now < 86_400 + 3600  # never further than a day ahead
    assert status(Dnd(0, Schedule(start, end, tz)), now).in_dnd == (begin <= now)
