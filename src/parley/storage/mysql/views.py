"""The directory's ops for apps' modals and shortcuts and the installation's secrets on
MySQL (as :mod:`parley.storage.sqlite.views` on SQLite)."""

from __future__ import annotations

from typing import Any

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

_MARKS = ", ".join(["%s"] * (len(VIEW_COLUMNS.split(",")) + 1))
_PUT_SHORTCUT = SHORTCUT_PUT.format(
    marks=", ".join(["%s"] * (len(SHORTCUT_COLUMNS.split(",")) + 1))
)


async def op_set_shortcut(cur: Any, _state: object, s: AppShortcut, now: int) -> None:
    await cur.execute(_PUT_SHORTCUT, (*shortcut_row(s), now))


async def q_shortcuts(cur: Any, team_id: str) -> list[AppShortcut]:
    await cur.execute(SHORTCUTS_QUERY.format(p="%s"), (team_id,))
    return [AppShortcut(*r) for r in await cur.fetchall()]


async def op_put_view(cur: Any, _state: object, v: AppView, now: int, stale_before: int) -> None:
    await cur.execute("DELETE FROM views WHERE updated < %s AND home = 0", (stale_before,))
    await cur.execute(
        f"REPLACE INTO views ({VIEW_COLUMNS}, updated) VALUES ({_MARKS})", (*view_row(v), now)
    )


async def op_meta_default(cur: Any, _state: object, key: str, value: str) -> str:
    await cur.execute("INSERT IGNORE INTO meta (`key`, value) VALUES (%s, %s)", (key, value))
    await cur.execute("SELECT value FROM meta WHERE `key` = %s", (key,))
    return (await cur.fetchone())[0]


async def q_view(cur: Any, view_id: str) -> AppView | None:
    await cur.execute(f"SELECT {VIEW_COLUMNS} FROM views WHERE id = %s", (view_id,))
    row = await cur.fetchone()
    return view_from_row(row) if row else None


async def q_view_by_external(cur: Any, team_id: str, external_id: str) -> AppView | None:
    await cur.execute(
        f"SELECT {VIEW_COLUMNS} FROM views WHERE team_id = %s AND external_id = %s "
        "ORDER BY updated DESC LIMIT 1",
        (team_id, external_id),
    )
    row = await cur.fetchone()
    return view_from_row(row) if row else None
