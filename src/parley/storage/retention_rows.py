"""SQL both directory backends share for retention policies (:mod:`parley.retention`).
Pure: builds text, runs nothing; ``{p}`` is the backend's placeholder."""

from __future__ import annotations

from collections.abc import Sequence

from parley.storage.models import RetentionPolicy

#: Every policy of every workspace (a small table: a row a workspace, and one for each
#: conversation given its own span).
ALL = "SELECT team_id, channel_id, days FROM retention ORDER BY team_id, channel_id"
#: Ends one; ``team_id, channel_id``.
REMOVE = "DELETE FROM retention WHERE team_id = {p} AND channel_id = {p}"
#: Sets one, replacing what was there; ``team_id, channel_id, days``.
SET_SQLITE = (
    "INSERT INTO retention (team_id, channel_id, days) VALUES (?, ?, ?) "
    "ON CONFLICT (team_id, channel_id) DO UPDATE SET days = excluded.days"
)
SET_MYSQL = (
    "INSERT INTO retention (team_id, channel_id, days) VALUES (%s, %s, %s) "
    "ON DUPLICATE KEY UPDATE days = VALUES(days)"
)


def policies_from(rows: Sequence[Sequence]) -> list[RetentionPolicy]:
    return [RetentionPolicy(r[0], r[1], int(r[2])) for r in rows]
