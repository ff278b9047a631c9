"""The directory's ops for channels' bookmarks on SQLite (``meta.db``;
:mod:`parley.storage.bookmark_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3

from parley.storage.bookmark_rows import (
    COUNT_QUERY,
    LIST_QUERY,
    PUT,
    REMOVE,
    bookmark_row,
    bookmarks_from,
    marks,
)
from parley.storage.models import Bookmark

_PUT = PUT.format(marks=marks("?"))


def op_add_bookmark(conn: sqlite3.Connection, _state: object, b: Bookmark, most: int) -> bool:
    """Adds ``b`` unless its channel has ``most``; whether it did."""
    (count,) = conn.execute(COUNT_QUERY.format(p="?"), (b.channel_id,)).fetchone()
    if count >= most:
        return False
    conn.execute(_PUT, bookmark_row(b))
    return True


def op_put_bookmark(conn: sqlite3.Connection, _state: object, b: Bookmark) -> None:
    conn.execute(_PUT, bookmark_row(b))


def op_remove_bookmark(
    conn: sqlite3.Connection, _state: object, channel_id: str, bookmark_id: str
) -> bool:
    return conn.execute(REMOVE.format(p="?"), (channel_id, bookmark_id)).rowcount == 1


def q_bookmarks(conn: sqlite3.Connection, channel_id: str) -> list[Bookmark]:
    return bookmarks_from(conn.execute(LIST_QUERY.format(p="?"), (channel_id,)).fetchall())
