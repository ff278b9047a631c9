"""The directory's ops for user groups on SQLite (``meta.db``;
:mod:`parley.storage.group_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from parley.errors import ApiError
from parley.storage.group_rows import (
    GROUP_COLUMNS,
    NAME_TAKEN_QUERY,
    conflict,
    group_row,
    members_query,
    with_members,
)
from parley.storage.models import UserGroup

_MARKS = ", ".join(["?"] * len(GROUP_COLUMNS.split(",")))


def op_create_group(conn: sqlite3.Connection, _state: object, g: UserGroup) -> None:
    """Creates ``g`` with its members; ``name_already_exists`` or
    ``handle_already_exists`` when the team has one so named."""
    try:
        conn.execute(f"INSERT INTO usergroups ({GROUP_COLUMNS}) VALUES ({_MARKS})", group_row(g))
    except sqlite3.IntegrityError as exc:
        raise ApiError(_conflict(conn, g.team_id, g.name, g.id)) from exc
    op_set_group_members(conn, _state, g.id, g.users, g.updated)


def op_update_group(
    conn: sqlite3.Connection,
    _state: object,
    group_id: str,
    name: str,
    handle: str,
    description: str,
    updated: int,
) -> None:
    try:
        conn.execute(
            "UPDATE usergroups SET name = ?, handle = ?, description = ?, updated = ? WHERE id = ?",
            (name, handle, description, updated, group_id),
        )
    except sqlite3.IntegrityError as exc:
        team = conn.execute("SELECT team_id FROM usergroups WHERE id = ?", (group_id,)).fetchone()
        raise ApiError(_conflict(conn, team[0] if team else "", name, group_id)) from exc


def _conflict(conn: sqlite3.Connection, team_id: str, name: str, group_id: str) -> str:
    taken = conn.execute(NAME_TAKEN_QUERY.format(p="?"), (team_id, name, group_id)).fetchone()
    return conflict(taken is not None)


def op_set_group_disabled(
    conn: sqlite3.Connection, _state: object, group_id: str, disabled: bool, updated: int
) -> None:
    conn.execute(
        "UPDATE usergroups SET disabled = ?, updated = ? WHERE id = ?",
        (int(disabled), updated, group_id),
    )


def op_set_group_members(
    conn: sqlite3.Connection, _state: object, group_id: str, users: Sequence[str], updated: int
) -> None:
    conn.execute("DELETE FROM usergroup_members WHERE usergroup_id = ?", (group_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO usergroup_members (usergroup_id, user_id) VALUES (?, ?)",
        [(group_id, u) for u in users],
    )
    conn.execute("UPDATE usergroups SET updated = ? WHERE id = ?", (updated, group_id))


def q_groups(conn: sqlite3.Connection, team_id: str, include_disabled: bool) -> list[UserGroup]:
    enabled = "" if include_disabled else "AND disabled = 0"
    rows = conn.execute(
        f"SELECT {GROUP_COLUMNS} FROM usergroups WHERE team_id = ? {enabled} ORDER BY id",
        (team_id,),
    ).fetchall()
    if not rows:
        return []
    members = conn.execute(members_query("?", len(rows)), [r[0] for r in rows]).fetchall()
    return with_members(rows, members)


def q_group(conn: sqlite3.Connection, group_id: str) -> UserGroup | None:
    row = conn.execute(
        f"SELECT {GROUP_COLUMNS} FROM usergroups WHERE id = ?", (group_id,)
    ).fetchone()
    if row is None:
        return None
    members = conn.execute(members_query("?", 1), (group_id,)).fetchall()
    return with_members([row], members)[0]
