"""The query language of ``search.messages``, as Slack's users write it. Pure.

- ``word`` (every word must match, as a word or the start of one: ``deploy`` finds
  "deployed"), ``"exact phrase"``;
- ``-word`` and ``-"phrase"`` exclude messages that contain them;
- ``in:#channel``, ``in:<#C123>`` or ``in:<#C123|name>``, ``in:C123``: only those
  channels (several ``in:`` widen the set);
- ``from:@name``, ``from:<@U123>``, ``from:U123``, ``from:me``: only those senders;
- ``before:``, ``after:`` (both exclusive) and ``on:`` a day, written ``YYYY-MM-DD`` or
  ``today`` / ``yesterday``; ``during:`` a day, a month (``YYYY-MM``) or a year
  (``YYYY``). Days are UTC days;
- ``has:link``: messages with a link.

Anything else (``foo:bar``, stray quotes, punctuation) is text: a query never fails to
parse. Search words are what the engines tokenize alike: runs of letters and digits,
lower-cased; punctuation inside a word splits it (``e-mail`` is the phrase "e mail").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import msgspec

#: Bounds: a query is at most this long, with at most this many terms and filters.
MAX_QUERY = 1000
MAX_TERMS = 32

_TOKEN = re.compile(r'(-?)(?:(\w+):)?("([^"]*)"?|\S+)')
_WORD = re.compile(r"\w+")
_CHANNEL_REF = re.compile(r"^<#([A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_REF = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
_ID = re.compile(r"^[CGDUW][A-Z0-9]{5,}$")


class Query(msgspec.Struct, frozen=True):
    #: Each term is a tuple of words: one word, or a phrase's words in order.
    terms: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[tuple[str, ...], ...] = ()
    #: ``in:`` filters: channel ids (``C…``) or names (``#name`` without the ``#``),
    #: tagged ``("id", x)`` / ``("name", x)``.
    channels: tuple[tuple[str, str], ...] = ()
    #: ``from:`` filters: ``("id", U…)``, ``("name", x)`` or ``("me", "")``.
    users: tuple[tuple[str, str], ...] = ()
    #: Messages with ``after_us <= ts < before_us`` (microseconds); ``None``: open.
    after_us: int | None = None
    before_us: int | None = None
    has_link: bool = False

    @property
    def blank(self) -> bool:
        """Nothing to search for: no term and no filter (``no_query``). Filters alone,
        as ``in:#general from:me``, list what they select, newest first."""
        return self == _BLANK


_BLANK = Query()


def fold(word: str) -> str:
    """A word as the engines compare it: lower-cased, accents removed (``Über`` ->
    ``uber``), as FTS5's ``remove_diacritics`` and MariaDB's ``unicode_ci`` do."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> tuple[str, ...]:
    """The search words of ``text``, folded (:func:`fold`), in order."""
    return tuple(fold(w) for w in _WORD.findall(text))


def _day(value: str, today: dt.date) -> dt.date | None:
    if value == "today":
        return today
    if value == "yesterday":
        return today - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _us(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1_000_000


def _during(value: str, today: dt.date) -> tuple[int, int] | None:
    """``[start, end)`` of a day, ``YYYY-MM`` month or ``YYYY`` year."""
    if re.fullmatch(r"\d{4}", value):
        year = int(value)
        if 1 <= year < 9999:
            return _us(dt.date(year, 1, 1)), _us(dt.date(year + 1, 1, 1))
        return None
    if re.fullmatch(r"\d{4}-\d{2}", value):
        year, month = int(value[:4]), int(value[5:])
        if 1 <= month <= 12 and 1 <= year < 9999:
            nxt = dt.date(year + month // 12, month % 12 + 1, 1)
            return _us(dt.date(year, month, 1)), _us(nxt)
        return None
    day = _day(value, today)
    if day is None or day.year >= 9999:
        return None
    return _us(day), _us(day + dt.timedelta(days=1))


def parse(text: str, today: dt.date) -> Query:
    """The query ``text`` means; ``today`` (UTC) resolves ``today`` and ``yesterday``."""
    terms: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    channels: list[tuple[str, str]] = []
    users: list[tuple[str, str]] = []
    after: int | None = None
    before: int | None = None
    has_link = False
    for m in _TOKEN.finditer(text[:MAX_QUERY]):
        neg, key, body, quoted = m.group(1), m.group(2), m.group(3), m.group(4)
        key = key.lower() if key else None
        value = body if quoted is None else quoted
        if key is not None and not neg and quoted is None and _filter(key, value):
            if key == "in":
                channels.append(_channel(value))
            elif key == "from":
                users.append(_user(value))
            elif key == "has":
                has_link = True
            else:
                span = _span(key, value, today)
                if span[0] is not None:
                    after = span[0] if after is None else max(after, span[0])
                if span[1] is not None:
                    before = span[1] if before is None else min(before, span[1])
            continue
        raw = m.group(0)[len(neg) :] if quoted is None else quoted
        if key is not None and quoted is not None:
            raw = f"{key} {quoted}"
        found = words(raw)
        if not found:
            continue
        # a bare word is one term per word ("e-mail" is the phrase "e mail")
        (excluded if neg else terms).append(found)
    return Query(
        terms=tuple(terms[:MAX_TERMS]),
        excluded=tuple(excluded[:MAX_TERMS]),
        channels=tuple(dict.fromkeys(channels))[:MAX_TERMS],
        users=tuple(dict.fromkeys(users))[:MAX_TERMS],
        after_us=after,
        before_us=before,
        has_link=has_link,
    )


def _filter(key: str, value: str) -> bool:
    """Whether ``key:value`` is a filter Parley knows (else it is text)."""
    if key == "in":
        return bool(_CHANNEL_REF.match(value) or value.startswith("#") or _ID.match(value))
    if key == "from":
        return bool(
            _USER_REF.match(value) or value.startswith("@") or _ID.match(value) or value == "me"
        )
    if key == "has":
        return value.lower() == "link"
    if key in ("before", "after", "on", "during"):
        return _span(key, value, dt.date(2000, 1, 1)) != (None, None)
    return False


def _channel(value: str) -> tuple[str, str]:
    ref = _CHANNEL_REF.match(value)
    if ref:
        return ("id", ref.group(1))
    if value.startswith("#"):
        return ("name", value[1:].lower())
    return ("id", value)


def _user(value: str) -> tuple[str, str]:
    ref = _USER_REF.match(value)
    if ref:
        return ("id", ref.group(1))
    if value == "me":
        return ("me", "")
    if value.startswith("@"):
        return ("name", value[1:].lower())
    return ("id", value)


def _span(key: str, value: str, today: dt.date) -> tuple[int | None, int | None]:
    """``(after_us, before_us)`` of a date filter; ``(None, None)`` when not a date."""
    if key == "during" or key == "on":
        span = _during(value, today) if key == "during" else None
        if key == "on":
            day = _day(value, today)
            span = (_us(day), _us(day + dt.timedelta(days=1))) if day and day.year < 9999 else None
        return span if span else (None, None)
    day = _day(value, today)
    if day is None or day.year >= 9999:
        return (None, None)
    if key == "after":
        return (_us(day + dt.timedelta(days=1)), None)
    return (None, _us(day))  # before


def matches(query: Query, text: str) -> bool:
    """Whether ``text`` holds every term (a word, or a word's start for the last word
    of a term... see :func:`contains`) and none of the excluded ones: the check a
    result's *current* text passes before it is shown (an index may lag an edit)."""
    have = words(text)
    return all(contains(have, t) for t in query.terms) and not any(
        contains(have, t, prefix=False) for t in query.excluded
    )


def contains(have: tuple[str, ...], term: tuple[str, ...], *, prefix: bool = True) -> bool:
    """Whether the words ``have`` contain ``term``'s words in a row; with ``prefix`` a
    one-word term also matches a word it starts (``deploy`` -> "deployed")."""
    n = len(term)
    if n == 1 and prefix:
        return any(w.startswith(term[0]) for w in have)
    return any(have[i : i + n] == term for i in range(len(have) - n + 1))


_URL = re.compile(r"(?:https?://|<https?://|www\.)", re.IGNORECASE)


def has_link(text: str) -> bool:
    return bool(_URL.search(text))


#: Slack's highlight markers (private-use characters) around each matched word.
HIGHLIGHT_START, HIGHLIGHT_END = "\ue000", "\ue001"


def highlight(query: Query, text: str) -> str:
    """``text`` with each word that a term matches wrapped in the highlight markers:
    a word a one-word term starts, or any word of a phrase."""
    singles = tuple(t[0] for t in query.terms if len(t) == 1)
    phrase_words = {w for t in query.terms if len(t) > 1 for w in t}

    def mark(m: re.Match) -> str:
        word = fold(m.group(0))
        if word in phrase_words or (singles and word.startswith(singles)):
            return f"{HIGHLIGHT_START}{m.group(0)}{HIGHLIGHT_END}"
        return m.group(0)

    return _WORD.sub(mark, text)
