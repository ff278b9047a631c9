"""The directory's ops for saved messages on SQLite (``meta.db``;
:mod:`parley.storage.star_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3

from parley.storage.models import Star
from parley.storage.star_rows import ADD, AFTER, FIRST, REMOVE, page_args, stars_from


def op_add_star(conn: sqlite3.Connection, _state: object, star: Star) -> bool:
    """Saves it; ``False`` when it was saved already."""
    try:
        conn.execute(ADD.format(p="?"), (star.user_id, star.channel_id, star.ts, star.created))
    except sqlite3.IntegrityError:
        return False
    return True


def op_remove_star(
    conn: sqlite3.Connection, _state: object, user_id: str, channel_id: str, ts: int
) -> bool:
    return conn.execute(REMOVE.format(p="?"), (user_id, channel_id, ts)).rowcount > 0


def q_stars(conn: sqlite3.Connection, user_id: str, after: Star | None, limit: int) -> list[Star]:
    sql = (FIRST if after is None else AFTER).format(p="?")
    return stars_from(conn.execute(sql, page_args(user_id, after, limit)).fetchall())
