"""Do Not Disturb: a user's snooze and daily schedule, and what they mean at a given time.
Pure: every function takes ``now`` (Unix seconds).

- A **snooze** (``dnd.setSnooze``) holds notifications until ``snooze_until``.
- **Ending DND** by hand (``dnd.endDnd``) ends the snooze and the scheduled window that
  holds now (``off_until``: that window's end); the next window holds as scheduled.
- A **schedule** holds them every day from ``start`` to ``end`` (minutes after local
  midnight) in the user's time zone (an IANA name, ``Europe/Paris``); ``start > end``
  wraps past midnight (22:00-08:00), ``start == end`` is no schedule. Local times are
  resolved with the zone's rules, so a window follows daylight saving time (a start in a
  skipped hour begins when the clock jumps).

A user is in DND while snoozed or inside the schedule's window. Live delivery over the
WebSocket is never affected; pushes are held (``parley.notify``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

DAY_MINUTES = 24 * 60


class Schedule(msgspec.Struct, frozen=True):
    start: int  # minutes after local midnight, 0..1439
    end: int
    tz: str = "UTC"


class Dnd(msgspec.Struct, frozen=True):
    snooze_until: int = 0  # Unix seconds; 0: not snoozed
    schedule: Schedule | None = None
    off_until: int = 0  # Unix seconds: the window holding until then was ended by hand


class Status(msgspec.Struct, frozen=True):
    """What ``dnd.info`` reports."""

    dnd_enabled: bool  # a schedule is set
    next_dnd_start_ts: int  # the current or next scheduled window (0 without one)
    next_dnd_end_ts: int
    snooze_enabled: bool
    snooze_endtime: int
    snooze_remaining: int
    in_dnd: bool  # snoozed or inside the window now


def zone(name: str) -> ZoneInfo | None:
    """The time zone ``name``, or ``None`` if there is no such zone."""
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _at(day: dt.date, minutes: int, tz: ZoneInfo) -> int:
    """Unix seconds of ``minutes`` after midnight on ``day`` in ``tz`` (a wall time that
    does not exist, in a spring-forward gap, moves forward with the clock)."""
    local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=tz)
    seconds = int(local.timestamp())
    back = dt.datetime.fromtimestamp(seconds, tz)
    if (back.hour, back.minute) == (local.hour, local.minute):
        return seconds
    # in a gap: the wall time never shows; the window begins when the clock jumps, the
    # first minute whose wall time is past it (between the two readings of the gap)
    wall = local.replace(tzinfo=None)
    earliest = int(local.replace(fold=1).timestamp())
    for t in range(min(earliest, seconds), max(earliest, seconds) + 60, 60):
        if dt.datetime.fromtimestamp(t, tz).replace(tzinfo=None) >= wall:
            return t
    return seconds


def window(schedule: Schedule, now: int) -> tuple[int, int] | None:
    """The scheduled window ``[start, end)`` (Unix seconds) that contains ``now``, or
    else the next one; ``None`` when the schedule is empty or its zone unknown."""
    tz = zone(schedule.tz)
    if tz is None or schedule.start == schedule.end:
        return None
    today = dt.datetime.fromtimestamp(now, tz).date()
    wraps = schedule.start > schedule.end
    for offset in (-1, 0, 1):
        day = today + dt.timedelta(days=offset)
        start = _at(day, schedule.start, tz)
        end = _at(day + dt.timedelta(days=1) if wraps else day, schedule.end, tz)
        if now < end and start < end:
            return start, end
    return None  # not reached: tomorrow's window always ends after now


def status(dnd: Dnd, now: int) -> Status:
    span = window(dnd.schedule, now) if dnd.schedule else None
    if span is not None and span[0] <= now < dnd.off_until:  # ended by hand: the next
        span = window(dnd.schedule, span[1]) if dnd.schedule else None
    snoozing = dnd.snooze_until > now
    inside = span is not None and span[0] <= now < span[1]
    return Status(
        dnd_enabled=span is not None,
        next_dnd_start_ts=span[0] if span else 0,
        next_dnd_end_ts=span[1] if span else 0,
        snooze_enabled=snoozing,
        snooze_endtime=dnd.snooze_until if snoozing else 0,
        snooze_remaining=dnd.snooze_until - now if snoozing else 0,
        in_dnd=snoozing or inside,
    )


def ended(dnd: Dnd, now: int) -> Dnd:
    """``dnd`` with whatever holds at ``now`` ended (``dnd.endDnd``): no snooze, and the
    scheduled window ``now`` is in, if any, off until its end."""
    span = window(dnd.schedule, now) if dnd.schedule else None
    inside = span is not None and span[0] <= now < span[1]
    off = span[1] if span is not None and inside else dnd.off_until
    return Dnd(0, dnd.schedule, off if off > now else 0)


def ends(dnd: Dnd, now: int) -> int:
    """When the DND that holds at ``now`` ends (``now`` if there is none): the later of
    the snooze's end and the window's, following one into the other."""
    end = now
    while True:
        st = status(dnd, end)
        if not st.in_dnd:
            return end
        nxt = max(st.snooze_endtime, st.next_dnd_end_ts if st.next_dnd_start_ts <= end else 0)
        if nxt <= end:
            return end
        end = nxt


def parse_clock(text: str) -> int | None:
    """``"22:30"`` -> minutes after midnight, or ``None``."""
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        return None
    h, m = int(hours), int(minutes)
    return h * 60 + m if 0 <= h < 24 and 0 <= m < 60 else None
