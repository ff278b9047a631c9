"""Identifiers: 64-bit Snowflake IDs, Slack-style object ids and message timestamps.

Pure code: the clock is injected, nothing here does I/O.

Snowflake layout (most significant first): 41 bits of milliseconds since
:data:`EPOCH_MS`, 10 bits of worker id, 12 bits of per-millisecond sequence.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from enum import StrEnum

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_INDEX = {c: i for i, c in enumerate(_CROCKFORD)}


def wall_ms() -> int:
    """The system clock in milliseconds (the default clock for :class:`Snowflake`)."""
    return time.time_ns() // 1_000_000


def wall_us() -> int:
    """The system clock in microseconds (the default clock for message timestamps)."""
    return time.time_ns() // 1_000


class Snowflake:
    """Thread-safe generator of unique, increasing 64-bit ids for one worker.

    ``next()`` never returns the same value twice and never a smaller one, even when
    ``clock`` steps backwards or more than 4096 ids are asked for in one millisecond:
    the generator then keeps counting from the last millisecond it used, borrowing
    from the future until the clock catches up.
    """

    def __init__(self, worker_id: int, clock: Callable[[], int] = wall_ms) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker_id must be in [0, {MAX_WORKER}], got {worker_id}")
        self._worker = worker_id
        self._clock = clock
        self._last_ms = -1
        self._seq = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            now = self._clock() - EPOCH_MS
            if now > self._last_ms:
                self._last_ms, self._seq = now, 0
            elif self._seq < MAX_SEQUENCE:
                self._seq += 1
            else:
                self._last_ms, self._seq = self._last_ms + 1, 0
            return (
                (self._last_ms << (WORKER_BITS + SEQUENCE_BITS))
                | (self._worker << SEQUENCE_BITS)
                | self._seq
            )


def snowflake_parts(value: int) -> tuple[int, int, int]:
    """Split a snowflake into ``(unix_ms, worker_id, sequence)``."""
    return (
        (value >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS,
        (value >> SEQUENCE_BITS) & MAX_WORKER,
        value & MAX_SEQUENCE,
    )


class Kind(StrEnum):
    """The one-letter prefix of a Slack object id."""

    TEAM = "T"
    USER = "U"
    BOT = "B"
    CHANNEL = "C"
    IM = "D"
    #: A group direct message (Slack's ``mpim``), as Slack's own ids of them begin.
    MPIM = "G"
    FILE = "F"
    VIEW = "V"
    SUBTEAM = "S"


def encode_id(kind: Kind, value: int) -> str:
    """``encode_id(Kind.CHANNEL, n)`` -> ``"C"`` + Crockford base32 of ``n`` (upper case)."""
    return kind.value + base32(value)


def base32(value: int) -> str:
    """``value`` (non-negative) in Crockford base32, upper case: the digits of an id."""
    if value < 0:
        raise ValueError("ids are non-negative")
    digits = []
    while True:
        value, rem = divmod(value, 32)
        digits.append(_CROCKFORD[rem])
        if not value:
            break
    return "".join(reversed(digits))


def decode_id(kind: Kind, text: str) -> int | None:
    """Inverse of :func:`encode_id`; ``None`` when ``text`` is not an id of ``kind``."""
    if len(text) < 2 or len(text) > 14 or text[0] != kind.value:
        return None
    value = 0
    for ch in text[1:]:
        digit = _CROCKFORD_INDEX.get(ch)
        if digit is None:
            return None
        value = value * 32 + digit
    return value if value < (1 << 64) else None


_TS_RE = re.compile(r"^(\d{1,12})(?:\.(\d{1,6}))?$")


def format_ts(us: int) -> str:
    """Microseconds since the Unix epoch -> Slack's ``"1640995200.123456"``."""
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def parse_ts(text: str) -> int | None:
    """Slack ts (``"1640995200.123456"``, ``"1640995200"``) -> microseconds, or ``None``."""
    m = _TS_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    frac = (m.group(2) or "").ljust(6, "0")
    return int(m.group(1)) * 1_000_000 + int(frac)


def next_channel_ts(now_us: int, last_us: int) -> int:
    """The ts for a channel's next message: the clock, but strictly after the last one.

    Keeps ``ts`` unique in the channel and increasing in commit order even when the
    clock steps back or two messages land in the same microsecond.
    """
    return now_us if now_us > last_us else last_us + 1
