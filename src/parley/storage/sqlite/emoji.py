"""The directory's ops for a workspace's own emoji on SQLite (``meta.db``;
:mod:`parley.storage.emoji_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3

from parley.errors import ApiError
from parley.storage.emoji_rows import (
    ADD,
    GOING_QUERY,
    IMAGE_QUERY,
    LIST_QUERY,
    REMOVE,
    emoji_from,
    emoji_row,
)
from parley.storage.models import CustomEmoji


def op_add_emoji(conn: sqlite3.Connection, _state: object, e: CustomEmoji, data: bytes) -> None:
    """Adds ``e``; ``error_name_taken`` when the workspace has the name."""
    try:
        conn.execute(ADD.format(p="?"), emoji_row(e, data))
    except sqlite3.IntegrityError as exc:
        raise ApiError("error_name_taken") from exc


def op_remove_emoji(conn: sqlite3.Connection, _state: object, team_id: str, name: str) -> list[str]:
    """Removes the emoji and its aliases; their names (none: there was no such one)."""
    args = (team_id, name, name)
    going = [r[0] for r in conn.execute(GOING_QUERY.format(p="?"), args).fetchall()]
    conn.execute(REMOVE.format(p="?"), args)
    return sorted(going)


def q_emoji(conn: sqlite3.Connection, team_id: str) -> list[CustomEmoji]:
    return emoji_from(conn.execute(LIST_QUERY.format(p="?"), (team_id,)).fetchall())


def q_emoji_image(conn: sqlite3.Connection, team_id: str, name: str) -> tuple[str, bytes] | None:
    """The image of ``name`` (an alias's, its target's), as ``(mimetype, bytes)``."""
    for _ in range(2):
        row = conn.execute(IMAGE_QUERY.format(p="?"), (team_id, name)).fetchone()
        if row is None:
            return None
        if not row[2]:
            return row[0], bytes(row[1])
        name = row[2]
    return None
