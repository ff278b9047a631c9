"""The directory's ops for retention policies on MySQL (as
:mod:`parley.storage.sqlite.retention` on SQLite)."""

from __future__ import annotations

from typing import Any

from parley.storage.models import RetentionPolicy
from parley.storage.retention_rows import ALL, REMOVE, SET_MYSQL, policies_from


async def op_set_retention(cur: Any, _state: object, policy: RetentionPolicy) -> None:
    await cur.execute(SET_MYSQL, (policy.team_id, policy.channel_id, policy.days))


async def op_remove_retention(cur: Any, _state: object, team_id: str, channel_id: str) -> bool:
    await cur.execute(REMOVE.format(p="%s"), (team_id, channel_id))
    return cur.rowcount > 0


async def q_retention(cur: Any) -> list[RetentionPolicy]:
    await cur.execute(ALL)
    return policies_from(await cur.fetchall())
