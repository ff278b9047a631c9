"""The directory's ops for channels' bookmarks on MySQL (as
:mod:`parley.storage.sqlite.bookmarks` on SQLite)."""

from __future__ import annotations

from typing import Any

from parley.storage.bookmark_rows import (
    COUNT_QUERY,
    LIST_QUERY,
    PUT,
    REMOVE,
    bookmark_row,
    bookmarks_from,
    marks,
)
from parley.storage.models import Bookmark

_PUT = PUT.format(marks=marks("%s"))


async def op_add_bookmark(cur: Any, _state: object, b: Bookmark, most: int) -> bool:
    """Adds ``b`` unless its channel has ``most`` (its rows locked meanwhile); whether it
    did."""
    await cur.execute(COUNT_QUERY.format(p="%s") + " FOR UPDATE", (b.channel_id,))
    (count,) = await cur.fetchone()
    if count >= most:
        return False
    await cur.execute(_PUT, bookmark_row(b))
    return True


async def op_put_bookmark(cur: Any, _state: object, b: Bookmark) -> None:
    await cur.execute(_PUT, bookmark_row(b))


async def op_remove_bookmark(cur: Any, _state: object, channel_id: str, bookmark_id: str) -> bool:
    await cur.execute(REMOVE.format(p="%s"), (channel_id, bookmark_id))
    return cur.rowcount == 1


async def q_bookmarks(cur: Any, channel_id: str) -> list[Bookmark]:
    await cur.execute(LIST_QUERY.format(p="%s"), (channel_id,))
    return bookmarks_from(await cur.fetchall())
