"""A user's notification preferences for push, as Slack's apps offer them. Pure.

- ``level``: ``all`` (every new message of the user's channels), ``mentions`` (the
  default: mentions of them, ``<!channel>``/``<!everyone>``, and their keywords) or
  ``nothing``.
- ``keywords``: words or phrases that notify like a mention (Slack's "my keywords"),
  matched case- and accent-insensitively on whole words.
- ``muted``: channels that notify only for a direct mention of the user.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import msgspec
import orjson

from parley.search.query import fold

LEVELS = ("all", "mentions", "nothing")
#: Keywords a user may set, and characters each.
MAX_KEYWORDS, MAX_KEYWORD = 50, 64
#: Channels a user may mute.
MAX_MUTED = 1000
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,30}$")


class Prefs(msgspec.Struct, frozen=True):
    level: str = "mentions"
    keywords: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()


DEFAULT = Prefs()


def encode_prefs(p: Prefs) -> tuple[str, str, str]:
    """``(level, keywords, muted)`` as stored."""
    return p.level, orjson.dumps(p.keywords).decode(), orjson.dumps(p.muted).decode()


def decode_prefs(level: str, words: str, channels: str) -> Prefs:
    return Prefs(level, tuple(orjson.loads(words)), tuple(orjson.loads(channels)))


def keywords(raw: list[str]) -> tuple[str, ...] | None:
    """``raw`` as stored keywords (folded, whitespace collapsed, deduplicated, in order),
    or ``None`` when one is empty of letters or digits, too long, or too many."""
    out: dict[str, None] = {}
    for item in raw:
        word = " ".join(fold(item).split())
        if not word or len(word) > MAX_KEYWORD or not any(c.isalnum() for c in word):
            return None
        out[word] = None
    return tuple(out) if len(out) <= MAX_KEYWORDS else None


def muted(raw: list[str]) -> tuple[str, ...] | None:
    """``raw`` as muted channel ids, or ``None`` when one is not a channel id."""
    if len(raw) > MAX_MUTED or not all(_CHANNEL.match(c) for c in raw):
        return None
    return tuple(dict.fromkeys(raw))


@functools.lru_cache(maxsize=4096)
def matcher(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern finding any of ``words`` as whole words in folded text."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def wants_every_message(p: Prefs) -> bool:
    """Whether ``p`` may ask for a push of a message that mentions nobody."""
    return p.level == "all" or (p.level == "mentions" and bool(p.keywords))


class Snapshot:
    """Everyone's preferences at one time, indexed for the question the push worker asks
    of every message: who may want it although it mentions nobody?"""

    def __init__(self, prefs: dict[str, Prefs]) -> None:
        self._prefs = prefs
        #: Users with the level ``all``.
        self._everything = frozenset(u for u, p in prefs.items() if p.level == "all")
        self._by_keyword: dict[str, set[str]] = {}
        for user, p in prefs.items():
            if p.level != "nothing":
                for word in p.keywords:
                    self._by_keyword.setdefault(word, set()).add(user)
        self._any = matcher(tuple(sorted(self._by_keyword)))
        #: Whether anyone may want a message that mentions nobody.
        self.anyone_wide = bool(self._everything or self._by_keyword)

    def of(self, users: Iterable[str]) -> dict[str, Prefs]:
        """The preferences of ``users`` who set any."""
        return {u: self._prefs[u] for u in users if u in self._prefs}

    def interested(self, text: str) -> set[str]:
        """Users who want every message, and those whose keywords ``text`` holds."""
        users = set(self._everything)
        if self._any is not None:
            for m in self._any.finditer(fold(text)):
                users |= self._by_keyword.get(" ".join(m.group().split()), set())
        return users
