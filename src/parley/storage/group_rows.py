"""SQL both directory backends share for user groups (``usergroups``,
``usergroup_members``). Pure: builds text and rows, runs nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from parley.storage.models import UserGroup

#: The columns of a :class:`UserGroup`, in its fields' order (``users`` aside).
GROUP_COLUMNS = "id, team_id, name, handle, description, created_by, created, updated, disabled"


def group_row(g: UserGroup) -> tuple:
    """``g``'s values for :data:`GROUP_COLUMNS`."""
    return (
        g.id,
        g.team_id,
        g.name,
        g.handle,
        g.description,
        g.created_by,
        g.created,
        g.updated,
        int(g.disabled),
    )


def with_members(rows: Sequence[Sequence], members: Iterable[Sequence]) -> list[UserGroup]:
    """Groups from their rows, each with the members ``members`` (``(group, user)``
    rows) names for it, sorted."""
    by_group: dict[str, list[str]] = {}
    for group_id, user_id in members:
        by_group.setdefault(group_id, []).append(user_id)
    return [UserGroup(*r[:8], bool(r[8]), tuple(sorted(by_group.get(r[0], ())))) for r in rows]


def members_query(placeholder: str, count: int) -> str:
    """The members of ``count`` groups, as ``(group, user)`` rows."""
    marks = ", ".join([placeholder] * count)
    return f"SELECT usergroup_id, user_id FROM usergroup_members WHERE usergroup_id IN ({marks})"


#: Whether another group of the team has the name (``{p}``: the backend's placeholder;
#: parameters: the team, the name, the group's own id), when a group broke a unique key:
#: its name (``name_already_exists``) is told before its handle.
NAME_TAKEN_QUERY = "SELECT 1 FROM usergroups WHERE team_id = {p} AND name = {p} AND id != {p}"


def conflict(name_taken: bool) -> str:
    """The Slack error of a unique key a group broke."""
    return "name_already_exists" if name_taken else "handle_already_exists"
