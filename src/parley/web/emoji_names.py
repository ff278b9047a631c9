"""The standard emoji by the names Slack gives them (``thumbsup``, ``+1``, ``tada``,
``white_check_mark``, ...), for the web client to draw ``:name:`` in messages and
reactions: built once, at start-up, from the ``emoji`` package's names and aliases
(GitHub's, which Slack's largely are), fully qualified forms only. Pure."""

from __future__ import annotations

import emoji


def standard() -> dict[str, str]:
    """Every name (without its colons) -> the emoji; a name two emoji share goes to the
    first Unicode lists."""
    names: dict[str, str] = {}
    qualified = emoji.STATUS["fully_qualified"]
    for glyph, data in emoji.EMOJI_DATA.items():
        if data.get("status") != qualified:
            continue
        for name in (*data.get("alias", ()), data["en"]):
            names.setdefault(name.strip(":").lower(), glyph)
    return names
