"""When a reminder is due, from what a person writes (``reminders.add``'s ``time``, and
the end of ``/remind me to stretch in 10 minutes``). Pure: the clock and the person's
UTC offset are given.

Understood, case aside (``TIME`` is ``3pm``, ``3:30 pm``, ``15:30``, ``noon``,
``midnight``; a day's reminder without one is at 9:00):

- a Unix time (seconds, up to five years ahead), or a number of seconds up to a day;
- ``in 10 minutes``, ``in an hour``, ``in 2 days`` (seconds, minutes, hours, days,
  weeks);
- ``at TIME`` (today, or tomorrow once it has passed), ``today at TIME``,
  ``tomorrow [at TIME]``, ``on monday [at TIME]`` (the next one), ``TIME tomorrow``;
- ``every day``, ``every weekday``, ``every week``, ``every monday [and friday]``,
  ``every month``, ``every year``, each ``[at TIME]``: a recurring reminder, with
  Slack's ``recurrence`` (``frequency``, and ``weekdays`` for weekly ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

#: Slack's day names, Monday first (``datetime.weekday()``'s order).
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_UNIT = r"(?P<unit>sec(?:ond)?s?|min(?:ute)?s?|h(?:ou)?rs?|days?|weeks?)"
_NUMBER = r"(?P<n>\d+|an?|one)"
_TIME = r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?|(?P<word>noon|midnight)"
_DAY = r"(?:" + "|".join(d for d in DAYS) + r")s?"
#: Where a written time starts in a longer text (``/remind``'s).
STARTS = re.compile(r"\b(?:in|at|on|today|tomorrow|every|next)\b", re.IGNORECASE)
FIVE_YEARS = 5 * 365 * 86400


@dataclass(frozen=True)
class When:
    """A due time (Unix seconds) and, for a recurring reminder, Slack's ``recurrence``."""

    at: int
    recurrence: dict = field(default_factory=dict)


def _clock(match: re.Match | None) -> tuple[int, int] | None:
    """``(hour, minute)`` of a matched ``TIME``; ``None`` when it is none."""
    if match is None:
        return None
    if match.group("word"):
        return (12, 0) if match.group("word") == "noon" else (0, 0)
    hour, minute = int(match.group("h")), int(match.group("m") or 0)
    ampm = (match.group("ampm") or "").replace(".", "")
    if minute > 59 or hour > 23 or (ampm and not 1 <= hour <= 12):
        return None
    if ampm == "pm" and hour != 12:
        hour += 12
    if ampm == "am" and hour == 12:
        hour = 0
    return hour, minute


def _time_of(text: str) -> tuple[int, int] | None:
    return _clock(re.fullmatch(_TIME, text.strip()))


def _next(local: datetime, hm: tuple[int, int], days: set[int] | None = None) -> datetime:
    """The first moment after ``local`` at ``hm`` on one of ``days`` (any day: None)."""
    candidate = local.replace(hour=hm[0], minute=hm[1], second=0, microsecond=0)
    for _ in range(8):
        if candidate > local and (days is None or candidate.weekday() in days):
            return candidate
        candidate += timedelta(days=1)
    return candidate


def parse(text: str, now: int, offset_minutes: int = 0) -> When | None:
    """When ``text`` says, from ``now`` (Unix seconds) for a person ``offset_minutes``
    east of UTC; ``None`` when it is not a time understood (see the module)."""
    t = " ".join(text.strip().lower().split())
    if re.fullmatch(r"\d+", t):
        value = int(t)
        if 0 < value <= 86400:
            return When(now + value)
        return When(value) if now < value <= now + FIVE_YEARS else None
    zone = timezone(timedelta(minutes=offset_minutes))
    local = datetime.fromtimestamp(now, UTC).astimezone(zone)
    if m := re.fullmatch(rf"in {_NUMBER} {_UNIT}", t):
        n = 1 if m.group("n") in ("a", "an", "one") else int(m.group("n"))
        word = m.group("unit")
        unit = "minute" if word.startswith("min") else next(u for u in _UNITS if word[0] == u[0])
        seconds = n * _UNITS[unit]
        return When(now + seconds) if 0 < seconds <= FIVE_YEARS else None
    if m := re.fullmatch(r"(at .+?) ((?:every|on|next|today|tomorrow)\b.*)", t):  # at 5pm every day
        t = f"{m.group(2)} {m.group(1)}"
    at = None
    for pattern in (
        r"(?P<rest>.*?)\s*(?:\bat\s+)(?P<time>.+)",  # ... at 5pm
        r"(?P<time>.+?)\s+(?P<rest>today|tomorrow)",  # 5pm tomorrow
    ):
        if m := re.fullmatch(pattern, t):
            at = _time_of(m.group("time"))
            if at is None:
                return None
            t = m.group("rest")
            break
    if t in ("", "today"):
        if at is None:
            return None
        due = _next(local, at)
        if t == "today" and due.date() != local.date():
            return None
        return When(int(due.timestamp()))
    if t == "tomorrow":
        hm = at or (9, 0)
        day = (local + timedelta(days=1)).replace(hour=hm[0], minute=hm[1], second=0, microsecond=0)
        return When(int(day.timestamp()))
    if m := re.fullmatch(rf"(?:on |next )?(?P<day>{_DAY})", t):
        wanted = DAYS.index(
            m.group("day").rstrip("s") if m.group("day") not in DAYS else m.group("day")
        )
        return When(int(_next(local, at or (9, 0), {wanted}).timestamp()))
    if m := re.fullmatch(r"every (?P<what>.+)", t):
        return _every(m.group("what"), local, at or (9, 0))
    return None


def _every(what: str, local: datetime, hm: tuple[int, int]) -> When | None:
    if what in ("day", "morning"):
        return When(int(_next(local, hm).timestamp()), {"frequency": "daily"})
    if what == "weekday":
        days = {0, 1, 2, 3, 4}
        return When(
            int(_next(local, hm, days).timestamp()),
            {"frequency": "weekly", "weekdays": [DAYS[d] for d in sorted(days)]},
        )
    if what == "week":
        day = local.weekday()
        return When(
            int(_next(local, hm, {day}).timestamp()),
            {"frequency": "weekly", "weekdays": [DAYS[day]]},
        )
    if what in ("month", "year"):
        frequency = "monthly" if what == "month" else "yearly"
        return When(int(_next(local, hm).timestamp()), {"frequency": frequency})
    named = [w.rstrip("s") if w not in DAYS else w for w in re.split(r"\s*(?:,|\band\b)\s*", what)]
    if named and all(n in DAYS for n in named):
        days = {DAYS.index(n) for n in named}
        return When(
            int(_next(local, hm, days).timestamp()),
            {"frequency": "weekly", "weekdays": [DAYS[d] for d in sorted(days)]},
        )
    return None


def split(text: str, now: int, offset_minutes: int = 0) -> tuple[str, When] | None:
    """``/remind``'s ``to stretch in 10 minutes``: what to be reminded of (a leading
    ``to`` dropped) and when, the longest ending of ``text`` that is a time; ``None``
    when no ending is."""
    for m in STARTS.finditer(text):
        when = parse(text[m.start() :], now, offset_minutes)
        what = text[: m.start()].strip()
        if when is not None and what:
            return re.sub(r"^(?:to|that)\s+", "", what, flags=re.IGNORECASE), when
    return None


def following(when: When, offset_minutes: int = 0) -> int | None:
    """The time after ``when.at`` a recurring reminder is due again (``None``: it does
    not recur), at the same local time of day."""
    frequency = when.recurrence.get("frequency")
    if not frequency:
        return None
    zone = timezone(timedelta(minutes=offset_minutes))
    local = datetime.fromtimestamp(when.at, UTC).astimezone(zone)
    hm = (local.hour, local.minute)
    if frequency == "daily":
        return int(_next(local, hm).timestamp())
    if frequency == "weekly":
        days = {DAYS.index(d) for d in when.recurrence.get("weekdays") or [DAYS[local.weekday()]]}
        return int(_next(local, hm, days).timestamp())
    if frequency == "monthly":
        month = local.month % 12 + 1
        year = local.year + (local.month == 12)
        for day in range(local.day, 0, -1):  # the 31st: the month's last day
            try:
                return int(local.replace(year=year, month=month, day=day).timestamp())
            except ValueError:
                continue
    if frequency == "yearly":
        try:
            return int(local.replace(year=local.year + 1).timestamp())
        except ValueError:  # the 29th of February
            return int(local.replace(year=local.year + 1, day=28).timestamp())
    return None
