"""Who gets a push for a message, and what it says. Pure.

A member of the channel who is offline (no live connection on any gateway) is pushed a
new message when it concerns them: it mentions them (``<@U…>``), or it mentions the
whole channel (``<!channel>``, ``<!everyone>``). ``<!here>`` is for the members who are
active, so it pushes nobody, as in Slack. The sender is never pushed their own message.
(Direct messages and per-user keywords come with those features.)
"""

from __future__ import annotations

import re
import unicodedata

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_BROADCAST = re.compile(r"<!(channel|everyone)(?:\|[^>]*)?>")
_MARKUP = re.compile(r"<([@#!])([^|>]*)(?:\|([^>]*))?>|<(https?://[^|>]*)(?:\|([^>]*))?>")

#: Characters of a push's text preview at most.
PREVIEW = 120


def mentioned(text: str) -> frozenset[str]:
    """The user ids ``text`` mentions."""
    return frozenset(_USER_MENTION.findall(text))


def broadcast(text: str) -> bool:
    """Whether ``text`` mentions the whole channel."""
    return _BROADCAST.search(text) is not None


def recipients(text: str, sender: str, offline_members: frozenset[str]) -> dict[str, str]:
    """The offline members to push, each with why (``mention`` or ``channel``)."""
    out: dict[str, str] = {}
    if broadcast(text):
        out = dict.fromkeys(offline_members, "channel")
    for user in mentioned(text) & offline_members:
        out[user] = "mention"
    out.pop(sender, None)
    return out


def _plain(m: re.Match) -> str:
    if m.group(4):  # a link: its label, else the address
        return m.group(5) or m.group(4)
    sigil, target, label = m.group(1), m.group(2), m.group(3)
    if label:
        return f"{sigil}{label}" if sigil in "@#" else f"@{label}"
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
