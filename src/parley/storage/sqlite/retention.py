"""The directory's ops for retention policies on SQLite (``meta.db``;
:mod:`parley.storage.retention_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3

from parley.storage.models import RetentionPolicy
from parley.storage.retention_rows import ALL, REMOVE, SET_SQLITE, policies_from


def op_set_retention(conn: sqlite3.Connection, _state: object, policy: RetentionPolicy) -> None:
    conn.execute(SET_SQLITE, (policy.team_id, policy.channel_id, policy.days))


def op_remove_retention(
    conn: sqlite3.Connection, _state: object, team_id: str, channel_id: str
) -> bool:
    return conn.execute(REMOVE.format(p="?"), (team_id, channel_id)).rowcount > 0


def q_retention(conn: sqlite3.Connection) -> list[RetentionPolicy]:
    return policies_from(conn.execute(ALL).fetchall())
