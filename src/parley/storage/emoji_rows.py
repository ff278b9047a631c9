"""SQL both directory backends share for a workspace's own emoji (``emoji``). Pure:
builds text and rows, runs nothing; ``{p}`` is the backend's placeholder."""

from __future__ import annotations

from collections.abc import Sequence

from parley.storage.models import CustomEmoji

#: The columns of a :class:`CustomEmoji`, in its fields' order (the image apart).
EMOJI_COLUMNS = "team_id, name, alias_for, mimetype, created_by, created"
#: The workspace's emoji, by name.
LIST_QUERY = f"SELECT {EMOJI_COLUMNS} FROM emoji WHERE team_id = {{p}} ORDER BY name"
#: One emoji's image (``mimetype, data, alias_for``).
IMAGE_QUERY = "SELECT mimetype, data, alias_for FROM emoji WHERE team_id = {p} AND name = {p}"
#: Adds one (its name unique in the workspace: the backend's integrity error otherwise).
ADD = f"INSERT INTO emoji ({EMOJI_COLUMNS}, data) VALUES (" + ", ".join(["{p}"] * 7) + ")"
#: The names an emoji's removal removes: its own, and its aliases'.
GOING_QUERY = "SELECT name FROM emoji WHERE team_id = {p} AND (name = {p} OR alias_for = {p})"
REMOVE = "DELETE FROM emoji WHERE team_id = {p} AND (name = {p} OR alias_for = {p})"


def emoji_row(e: CustomEmoji, data: bytes) -> tuple:
    """``e``'s values for :data:`ADD`."""
    return (e.team_id, e.name, e.alias_for, e.mimetype, e.created_by, e.created, data)


def emoji_from(rows: Sequence[Sequence]) -> list[CustomEmoji]:
    return [CustomEmoji(*r) for r in rows]
