"""SQL both directory backends share for the messages people saved for later
(``stars``, :mod:`parley.api.methods.stars`). Pure: builds text, runs nothing;
``{p}`` is the backend's placeholder."""

from __future__ import annotations

from collections.abc import Sequence

from parley.storage.models import Star

#: Saves one (the backend's integrity error when it is saved already).
ADD = "INSERT INTO stars (user_id, channel_id, ts, created) VALUES ({p}, {p}, {p}, {p})"
REMOVE = "DELETE FROM stars WHERE user_id = {p} AND channel_id = {p} AND ts = {p}"
_COLUMNS = "user_id, channel_id, ts, created"
_ORDER = "ORDER BY created DESC, channel_id DESC, ts DESC LIMIT {p}"
#: A person's, the newest first (``user_id``, then the limit).
FIRST = f"SELECT {_COLUMNS} FROM stars WHERE user_id = {{p}} {_ORDER}"
#: Those after a page's last (``user_id``; ``created`` twice, ``channel_id`` twice,
#: ``ts``; then the limit).
AFTER = (
    f"SELECT {_COLUMNS} FROM stars WHERE user_id = {{p}} AND (created < {{p}} "
    "OR (created = {p} AND channel_id < {p}) "
    "OR (created = {p} AND channel_id = {p} AND ts < {p})) " + _ORDER
)


def page_args(user_id: str, after: Star | None, limit: int) -> tuple:
    """The arguments of :data:`FIRST` (``after`` ``None``) or :data:`AFTER`."""
    if after is None:
        return (user_id, limit)
    c, ch, ts = after.created, after.channel_id, after.ts
    return (user_id, c, c, ch, c, ch, ts, limit)


def stars_from(rows: Sequence[Sequence]) -> list[Star]:
    return [Star(r[0], r[1], int(r[2]), int(r[3])) for r in rows]
