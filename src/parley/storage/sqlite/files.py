"""The directory's file ops on SQLite (``meta.db``; :mod:`parley.storage.file_rows` has
the SQL both backends share). Write ops ``op(conn, state, ...)`` run on the directory's
writer, each in one transaction; read ops ``q(conn, ...)`` on its readers."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from parley.storage.file_rows import (
    FILE_COLUMNS,
    LINK_PUT,
    LINK_QUERY,
    LINK_REMOVE,
    OLDER_QUERY,
    SHARE_MESSAGES,
    STALE_QUERY,
    WAITING_QUERY,
    chunks,
    file_from_row,
    file_row,
    listing_params,
    listing_query,
    older_params,
    search_params,
    search_query,
    share_ts_update,
    shares_query,
    with_shares,
)
from parley.storage.models import FileSearch, StoredFile

_MARKS = ", ".join(["?"] * len(FILE_COLUMNS.split(",")))


def op_create_file(
    conn: sqlite3.Connection, _state: object, f: StoredFile, stale_before: int, most: int
) -> bool:
    """Records ``f`` after forgetting its uploader's files not completed since before
    ``stale_before``; ``False`` (nothing recorded) when ``most`` still wait."""
    stale = conn.execute(STALE_QUERY.format(p="?"), (f.user_id, stale_before)).fetchall()
    for (file_id,) in stale:
        op_delete_file(conn, _state, file_id)
    (waiting,) = conn.execute(WAITING_QUERY.format(p="?"), (f.user_id,)).fetchone()
    if waiting >= most:
        return False
    conn.execute(f"INSERT INTO files ({FILE_COLUMNS}) VALUES ({_MARKS})", file_row(f))
    return True


def op_put_file(
    conn: sqlite3.Connection, _state: object, file_id: str, upload_hash: str, data: bytes
) -> bool:
    """Keeps ``data`` as the content of the file whose upload secret hashes to
    ``upload_hash``, once: ``False`` when no such file waits for its content."""
    taken = conn.execute(
        "UPDATE files SET uploaded = 1, upload_hash = '', size = ? "
        "WHERE id = ? AND upload_hash = ? AND uploaded = 0 AND upload_hash != ''",
        (len(data), file_id, upload_hash),
    )
    if taken.rowcount != 1:
        return False
    conn.executemany(
        "INSERT INTO file_chunks (file_id, n, data) VALUES (?, ?, ?)",
        [(file_id, n, chunk) for n, chunk in chunks(data)],
    )
    return True


def op_complete_file(
    conn: sqlite3.Connection,
    _state: object,
    file_id: str,
    user_id: str,
    title: str,
    channels: tuple[str, ...],
) -> bool:
    """Titles ``user_id``'s uploaded file and shares it in ``channels``, once: ``False``
    when it is not theirs, not uploaded, or completed already."""
    done = conn.execute(
        "UPDATE files SET completed = 1, title = ? "
        "WHERE id = ? AND user_id = ? AND uploaded = 1 AND completed = 0",
        (title, file_id, user_id),
    )
    if done.rowcount != 1:
        return False
    conn.executemany(
        "INSERT OR IGNORE INTO file_shares (file_id, channel_id) VALUES (?, ?)",
        [(file_id, c) for c in channels],
    )
    return True


def op_record_share(
    conn: sqlite3.Connection, _state: object, file_ids: Sequence[str], channel_id: str, ts: int
) -> None:
    conn.execute(share_ts_update("?", len(file_ids)), (ts, channel_id, *file_ids))


def op_delete_file(
    conn: sqlite3.Connection, _state: object, file_id: str
) -> list[tuple[str, int]] | None:
    """Forgets the file: the messages that shared it (``channel, ts``), ``None`` when it
    was not there."""
    shared = conn.execute(SHARE_MESSAGES.format(p="?"), (file_id,)).fetchall()
    for table in ("file_chunks", "file_shares", "file_links"):
        conn.execute(f"DELETE FROM {table} WHERE file_id = ?", (file_id,))
    if conn.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount != 1:
        return None
    return [(c, int(ts)) for c, ts in shared]


def q_file(conn: sqlite3.Connection, file_id: str) -> StoredFile | None:
    row = conn.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)).fetchone()
    if row is None:
        return None
    shares = conn.execute(
        "SELECT channel_id FROM file_shares WHERE file_id = ?", (file_id,)
    ).fetchall()
    return file_from_row(row, (s[0] for s in shares))


def q_file_content(conn: sqlite3.Connection, file_id: str) -> bytes:
    rows = conn.execute(
        "SELECT data FROM file_chunks WHERE file_id = ? ORDER BY n", (file_id,)
    ).fetchall()
    return b"".join(r[0] for r in rows)


def q_files(
    conn: sqlite3.Connection,
    team_id: str,
    viewer: str,
    before: tuple[int, str],
    limit: int,
    user_id: str | None,
    channel_id: str | None,
) -> list[StoredFile]:
    sql = listing_query(
        lambda name: f":{name}", by_user=user_id is not None, in_channel=channel_id is not None
    )
    rows = conn.execute(
        sql,
        listing_params(team_id, viewer, before, limit, user_id, channel_id),
    ).fetchall()
    if not rows:
        return []
    shares = conn.execute(shares_query("?", len(rows)), [r[0] for r in rows]).fetchall()
    return with_shares(rows, shares)


def q_files_older(
    conn: sqlite3.Connection, team_id: str, before: int, after: tuple[int, str], limit: int
) -> list[StoredFile]:
    rows = conn.execute(
        OLDER_QUERY.format(p="?"), older_params(team_id, before, after, limit)
    ).fetchall()
    if not rows:
        return []
    shares = conn.execute(shares_query("?", len(rows)), [r[0] for r in rows]).fetchall()
    return with_shares(rows, shares)


def q_search_files(
    conn: sqlite3.Connection, team_id: str, viewer: str, s: FileSearch, offset: int, limit: int
) -> tuple[int, list[StoredFile]]:
    params = search_params(team_id, viewer, s, offset, limit)
    param = lambda name: f":{name}"  # noqa: E731
    (total,) = conn.execute(search_query(param, s, counting=True), params).fetchone()
    rows = conn.execute(search_query(param, s, counting=False), params).fetchall()
    if not rows:
        return total, []
    shares = conn.execute(shares_query("?", len(rows)), [r[0] for r in rows]).fetchall()
    return total, with_shares(rows, shares)


def op_set_file_link(
    conn: sqlite3.Connection, _state: object, file_id: str, secret: str | None, now: int
) -> None:
    if secret is None:
        conn.execute(LINK_REMOVE.format(p="?"), (file_id,))
    else:
        conn.execute(LINK_PUT.format(p="?"), (file_id, secret, now))


def q_file_link(conn: sqlite3.Connection, file_id: str) -> str | None:
    row = conn.execute(LINK_QUERY.format(p="?"), (file_id,)).fetchone()
    return None if row is None else row[0]
