"""The directory's ops for user groups on MySQL (as :mod:`parley.storage.sqlite.groups`
on SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncmy.errors import IntegrityError

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

_MARKS = ", ".join(["%s"] * len(GROUP_COLUMNS.split(",")))


async def op_create_group(cur: Any, _state: object, g: UserGroup) -> None:
    try:
        await cur.execute(
            f"INSERT INTO usergroups ({GROUP_COLUMNS}) VALUES ({_MARKS})", group_row(g)
        )
    except IntegrityError as exc:
        raise ApiError(await _conflict(cur, g.team_id, g.name, g.id)) from exc
    await op_set_group_members(cur, _state, g.id, g.users, g.updated)


async def op_update_group(
    cur: Any, _state: object, group_id: str, name: str, handle: str, description: str, updated: int
) -> None:
    try:
        await cur.execute(
            "UPDATE usergroups SET name = %s, handle = %s, description = %s, updated = %s "
            "WHERE id = %s",
            (name, handle, description, updated, group_id),
        )
    except IntegrityError as exc:
        await cur.execute("SELECT team_id FROM usergroups WHERE id = %s", (group_id,))
        team = await cur.fetchone()
        raise ApiError(await _conflict(cur, team[0] if team else "", name, group_id)) from exc


async def _conflict(cur: Any, team_id: str, name: str, group_id: str) -> str:
    await cur.execute(NAME_TAKEN_QUERY.format(p="%s"), (team_id, name, group_id))
    return conflict(await cur.fetchone() is not None)


async def op_set_group_disabled(
    cur: Any, _state: object, group_id: str, disabled: bool, updated: int
) -> None:
    await cur.execute(
        "UPDATE usergroups SET disabled = %s, updated = %s WHERE id = %s",
        (int(disabled), updated, group_id),
    )


async def op_set_group_members(
    cur: Any, _state: object, group_id: str, users: Sequence[str], updated: int
) -> None:
    await cur.execute("DELETE FROM usergroup_members WHERE usergroup_id = %s", (group_id,))
    for user_id in users:
        await cur.execute(
            "INSERT IGNORE INTO usergroup_members (usergroup_id, user_id) VALUES (%s, %s)",
            (group_id, user_id),
        )
    await cur.execute("UPDATE usergroups SET updated = %s WHERE id = %s", (updated, group_id))


async def q_groups(cur: Any, team_id: str, include_disabled: bool) -> list[UserGroup]:
    enabled = "" if include_disabled else "AND disabled = 0"
    await cur.execute(
        f"SELECT {GROUP_COLUMNS} FROM usergroups WHERE team_id = %s {enabled} ORDER BY id",
        (team_id,),
    )
    rows = await cur.fetchall()
    if not rows:
        return []
    await cur.execute(members_query("%s", len(rows)), [r[0] for r in rows])
    return with_members(rows, await cur.fetchall())


async def q_group(cur: Any, group_id: str) -> UserGroup | None:
    await cur.execute(f"SELECT {GROUP_COLUMNS} FROM usergroups WHERE id = %s", (group_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    await cur.execute(members_query("%s", 1), (group_id,))
    return with_members([row], await cur.fetchall())[0]
