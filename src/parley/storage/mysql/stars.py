"""The directory's ops for saved messages on MySQL (as
:mod:`parley.storage.sqlite.stars` on SQLite)."""

from __future__ import annotations

from typing import Any

from asyncmy.errors import IntegrityError

from parley.storage.models import Star
from parley.storage.star_rows import ADD, AFTER, FIRST, REMOVE, page_args, stars_from


async def op_add_star(cur: Any, _state: object, star: Star) -> bool:
    try:
        await cur.execute(
            ADD.format(p="%s"), (star.user_id, star.channel_id, star.ts, star.created)
        )
    except IntegrityError:
        return False
    return True


async def op_remove_star(cur: Any, _state: object, user_id: str, channel_id: str, ts: int) -> bool:
    await cur.execute(REMOVE.format(p="%s"), (user_id, channel_id, ts))
    return cur.rowcount > 0


async def q_stars(cur: Any, user_id: str, after: Star | None, limit: int) -> list[Star]:
    sql = (FIRST if after is None else AFTER).format(p="%s")
    await cur.execute(sql, page_args(user_id, after, limit))
    return stars_from(await cur.fetchall())
