"""``link_names`` (``chat.postMessage``, ``chat.update``): the names written in a
message's text as Slack's markup, as Slack does for an app that asks: ``@name`` of a
person as ``<@U…>``, of a user group as ``<!subteam^S…|@handle>``, ``@here``,
``@channel`` and ``@everyone`` as ``<!here>`` and so on, ``#name`` of a channel the
poster can see as ``<#C…|name>``. Outside code and outside markup already there; a name
that names nothing stays as written. Pure: the caller resolves the names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: What stays as written: code (```blocks``` and `spans`) and Slack's markup (<…>).
_KEEP = re.compile(r"```.*?```|`[^`\n]*`|<[^>\n]*>", re.S)
#: A name after ``@`` or ``#``, not inside a word, an address or a URL.
_NAME = re.compile(r"(?<![\w@#/.:+-])([@#])([\w][\w.'-]*)")
#: The names that mention a whole channel.
SPECIAL = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}
_TRAILING = ".'-"


def names(text: str) -> tuple[set[str], set[str]]:
    """The ``@`` and ``#`` names ``text`` writes outside code and markup, lower case,
    each also without the punctuation that may end a sentence after it."""
    people: set[str] = set()
    channels: set[str] = set()
    for part in _plain(text):
        for sigil, name in _NAME.findall(part):
            found = people if sigil == "@" else channels
            found.update({name.lower(), name.rstrip(_TRAILING).lower()} - {""})
    return people, channels


def linked(
    text: str,
    people: Mapping[str, str],
    groups: Mapping[str, str],
    channels: Mapping[str, str],
) -> str:
    """``text`` with each name that names something as its markup: ``people`` maps a
    person's name to their id, ``groups`` a user group's handle to its id, ``channels``
    a channel's name to its id (each key lower case)."""

    def one(match: re.Match[str]) -> str:
        sigil, name = match.group(1), match.group(2)
        for candidate in dict.fromkeys((name, name.rstrip(_TRAILING))):
            rest = name[len(candidate) :]
            key = candidate.lower()
            if sigil == "#" and key in channels:
                return f"<#{channels[key]}|{key}>{rest}"
            if sigil == "@" and key in SPECIAL:
                return SPECIAL[key] + rest
            if sigil == "@" and key in people:
                return f"<@{people[key]}>{rest}"
            if sigil == "@" and key in groups:
                return f"<!subteam^{groups[key]}|@{key}>{rest}"
        return match.group(0)

    out: list[str] = []
    at = 0
    for kept in _KEEP.finditer(text):
        out.append(_NAME.sub(one, text[at : kept.start()]))
        out.append(kept.group(0))
        at = kept.end()
    out.append(_NAME.sub(one, text[at:]))
    return "".join(out)


def _plain(text: str) -> list[str]:
    return _KEEP.split(text)
