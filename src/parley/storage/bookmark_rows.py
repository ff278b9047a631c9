"""SQL both directory backends share for channels' bookmarks (``bookmarks``). Pure:
builds text and rows, runs nothing; ``{p}`` is the backend's placeholder."""

from __future__ import annotations

from collections.abc import Sequence

from parley.storage.models import Bookmark

#: The columns of a :class:`Bookmark`, in its fields' order.
BOOKMARK_COLUMNS = "id, channel_id, title, link, emoji, created_by, updated_by, created, updated"
#: A channel's bookmarks, the oldest first (the order people see them in).
LIST_QUERY = (
    f"SELECT {BOOKMARK_COLUMNS} FROM bookmarks WHERE channel_id = {{p}} ORDER BY created, id"
)
#: How many a channel has.
COUNT_QUERY = "SELECT COUNT(*) FROM bookmarks WHERE channel_id = {p}"
#: Writes one, new or as it now is.
PUT = "REPLACE INTO bookmarks (" + BOOKMARK_COLUMNS + ") VALUES ({marks})"
#: Removes one of a channel's.
REMOVE = "DELETE FROM bookmarks WHERE channel_id = {p} AND id = {p}"


def marks(placeholder: str) -> str:
    """The placeholders of a row of :data:`BOOKMARK_COLUMNS`."""
    return ", ".join([placeholder] * len(BOOKMARK_COLUMNS.split(",")))


def bookmark_row(b: Bookmark) -> tuple:
    """``b``'s values for :data:`BOOKMARK_COLUMNS`."""
    return (
        b.id,
        b.channel_id,
        b.title,
        b.link,
        b.emoji,
        b.created_by,
        b.updated_by,
        b.created,
        b.updated,
    )


def bookmarks_from(rows: Sequence[Sequence]) -> list[Bookmark]:
    return [Bookmark(*r) for r in rows]
