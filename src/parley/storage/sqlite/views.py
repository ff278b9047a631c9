"""The directory's ops for apps' modals and shortcuts and the installation's secrets on
SQLite (``meta.db``; :mod:`parley.storage.app_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3

from parley.storage.app_rows import (
    SHORTCUT_COLUMNS,
    SHORTCUT_PUT,
    SHORTCUTS_QUERY,
    VIEW_COLUMNS,
    shortcut_row,
    view_from_row,
    view_row,
)
from parley.storage.models import AppShortcut, AppView

_MARKS = ", ".join(["?"] * (len(VIEW_COLUMNS.split(",")) + 1))
_PUT_SHORTCUT = SHORTCUT_PUT.format(marks=", ".join(["?"] * (len(SHORTCUT_COLUMNS.split(",")) + 1)))


def op_set_shortcut(conn: sqlite3.Connection, _state: object, s: AppShortcut, now: int) -> None:
    conn.execute(_PUT_SHORTCUT, (*shortcut_row(s), now))


def q_shortcuts(conn: sqlite3.Connection, team_id: str) -> list[AppShortcut]:
    rows = conn.execute(SHORTCUTS_QUERY.format(p="?"), (team_id,)).fetchall()
    return [AppShortcut(*r) for r in rows]


def op_put_view(
    conn: sqlite3.Connection, _state: object, v: AppView, now: int, stale_before: int
) -> None:
    """Writes ``v`` (new, or as it now is), forgetting modals not written since before
    ``stale_before`` (home tabs are kept)."""
    conn.execute("DELETE FROM views WHERE updated < ? AND home = 0", (stale_before,))
    conn.execute(
        f"INSERT OR REPLACE INTO views ({VIEW_COLUMNS}, updated) VALUES ({_MARKS})",
        (*view_row(v), now),
    )


def op_meta_default(conn: sqlite3.Connection, _state: object, key: str, value: str) -> str:
    """The ``meta`` value of ``key``, set to ``value`` first if it had none."""
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]


def q_view(conn: sqlite3.Connection, view_id: str) -> AppView | None:
    row = conn.execute(f"SELECT {VIEW_COLUMNS} FROM views WHERE id = ?", (view_id,)).fetchone()
    return view_from_row(row) if row else None


def q_view_by_external(conn: sqlite3.Connection, team_id: str, external_id: str) -> AppView | None:
    row = conn.execute(
        f"SELECT {VIEW_COLUMNS} FROM views WHERE team_id = ? AND external_id = ? "
        "ORDER BY updated DESC LIMIT 1",
        (team_id, external_id),
    ).fetchone()
    return view_from_row(row) if row else None
