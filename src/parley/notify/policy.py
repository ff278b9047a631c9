"""Who gets a push for a message, and what it says. Pure.

A member of the channel who is offline (no live connection on any gateway) is pushed a
new message when it concerns them, by their preferences (:mod:`parley.notify.prefs`):

- it mentions them (``<@U…>``), or a user group they are in (``<!subteam^S…>``):
  reason ``mention``, whatever else (even in a muted channel); only the level
  ``nothing`` silences it;
- it is a direct message to them: reason ``dm``, unless they muted it or their level is
  ``nothing``;
- in a channel they did not mute: it mentions the whole channel (``<!channel>``,
  ``<!everyone>``): ``channel``; it holds one of their keywords: ``keyword``; their level
  is ``all``: ``message``.

``<!here>`` is for the members who are active, so it pushes nobody, as in Slack. The
sender is never pushed their own message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from parley.notify.prefs import DEFAULT, Prefs, matcher
from parley.search.query import fold

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_BROADCAST = re.compile(r"<!(channel|everyone)(?:\|[^>]*)?>")
_MARKUP = re.compile(r"<([@#!])([^|>]*)(?:\|([^>]*))?>|<(https?://[^|>]*)(?:\|([^>]*))?>")

#: Characters of a push's text preview at most.
PREVIEW = 120


def mentioned(text: str) -> frozenset[str]:
    """The user ids ``text`` mentions."""
    return frozenset(_USER_MENTION.findall(text))


def subteams(text: str) -> frozenset[str]:
    """The user groups ``text`` mentions (``<!subteam^S…>``)."""
    return frozenset(_SUBTEAM.findall(text))


def broadcast(text: str) -> bool:
    """Whether ``text`` mentions the whole channel."""
    return _BROADCAST.search(text) is not None


def recipients(
    text: str,
    sender: str,
    offline_members: Iterable[str],
    prefs: Mapping[str, Prefs] | None = None,
    channel: str = "",
    direct: bool = False,
    grouped: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """The offline members to push, each with why (``mention``, ``dm``, ``channel``,
    ``keyword`` or ``message``), by their ``prefs`` (absent: the defaults); ``direct``:
    ``channel`` is a direct message; ``grouped``: the members of the user groups it
    mentions (:func:`subteams`), mentioned as if by name."""
    prefs = prefs or {}
    named, everyone = mentioned(text) | grouped, broadcast(text)
    folded: str | None = None
    out: dict[str, str] = {}
    for user in offline_members:
        p = prefs.get(user, DEFAULT)
        if user == sender or p.level == "nothing":
            continue
        if user in named:
            out[user] = "mention"
        elif channel in p.muted:
            continue
        elif direct:
            out[user] = "dm"
        elif everyone:
            out[user] = "channel"
        elif p.keywords and (found := matcher(p.keywords)) is not None:
            folded = fold(text) if folded is None else folded
            if found.search(folded):
                out[user] = "keyword"
            elif p.level == "all":
                out[user] = "message"
        elif p.level == "all":
            out[user] = "message"
    return out


def _plain(m: re.Match) -> str:
    if m.group(4):  # a link: its label, else the address
        return m.group(5) or m.group(4)
    sigil, target, label = m.group(1), m.group(2), m.group(3)
    if label:
        if sigil in "@#":
            return f"{sigil}{label}"
        return label if label.startswith("@") else f"@{label}"
    if sigil == "!" and target.startswith("subteam^"):
        return "@group"  # its handle is not in the text
    return f"@{target}" if sigil in "@!" else f"#{target}"


def preview(text: str, limit: int = PREVIEW) -> str:
    """``text`` for a lock screen: markup made readable, whitespace collapsed, cut to at
    most ``limit`` characters without splitting a character from its combining marks or
    a surrogate, with an ellipsis when cut."""
    plain = " ".join(_MARKUP.sub(_plain, text).split())
    if len(plain) <= limit:
        return plain
    cut = limit - 1
    while cut > 0 and unicodedata.combining(plain[cut]):
        cut -= 1  # keep a base character with its marks
    while cut > 0 and plain[cut - 1] == "\u200d":
        cut -= 1  # do not end inside a joined emoji sequence
    return plain[:cut].rstrip() + "…"
