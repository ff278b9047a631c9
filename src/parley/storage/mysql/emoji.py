"""The directory's ops for a workspace's own emoji on MySQL (as
:mod:`parley.storage.sqlite.emoji` on SQLite)."""

from __future__ import annotations

from typing import Any

from asyncmy.errors import IntegrityError

from parley.errors import ApiError
from parley.storage.emoji_rows import (
    ADD,
    GOING_QUERY,
    IMAGE_QUERY,
    LIST_QUERY,
    REMOVE,
    emoji_from,
    emoji_row,
)
from parley.storage.models import CustomEmoji


async def op_add_emoji(cur: Any, _state: object, e: CustomEmoji, data: bytes) -> None:
    try:
        await cur.execute(ADD.format(p="%s"), emoji_row(e, data))
    except IntegrityError as exc:
        raise ApiError("error_name_taken") from exc


async def op_remove_emoji(cur: Any, _state: object, team_id: str, name: str) -> list[str]:
    args = (team_id, name, name)
    await cur.execute(GOING_QUERY.format(p="%s") + " FOR UPDATE", args)
    going = [r[0] for r in await cur.fetchall()]
    await cur.execute(REMOVE.format(p="%s"), args)
    return sorted(going)


async def q_emoji(cur: Any, team_id: str) -> list[CustomEmoji]:
    await cur.execute(LIST_QUERY.format(p="%s"), (team_id,))
    return emoji_from(await cur.fetchall())


async def q_emoji_image(cur: Any, team_id: str, name: str) -> tuple[str, bytes] | None:
    for _ in range(2):
        await cur.execute(IMAGE_QUERY.format(p="%s"), (team_id, name))
        row = await cur.fetchone()
        if row is None:
            return None
        if not row[2]:
            return row[0], bytes(row[1])
        name = row[2]
    return None
