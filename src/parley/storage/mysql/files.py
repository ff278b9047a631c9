"""The directory's file ops on MySQL (:mod:`parley.storage.file_rows` has the SQL both
backends share; :mod:`parley.storage.sqlite.files` is the same on SQLite). Write ops
``async op(cursor, state, ...)`` run each in one transaction; read ops
``async q(cursor, ...)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

_MARKS = ", ".join(["%s"] * len(FILE_COLUMNS.split(",")))


async def op_create_file(
    cur: Any, _state: object, f: StoredFile, stale_before: int, most: int
) -> bool:
    """As :func:`parley.storage.sqlite.files.op_create_file`."""
    await cur.execute(STALE_QUERY.format(p="%s"), (f.user_id, stale_before))
    for (file_id,) in await cur.fetchall():
        await op_delete_file(cur, _state, file_id)
    await cur.execute(WAITING_QUERY.format(p="%s") + " FOR UPDATE", (f.user_id,))
    (waiting,) = await cur.fetchone()
    if waiting >= most:
        return False
    await cur.execute(f"INSERT INTO files ({FILE_COLUMNS}) VALUES ({_MARKS})", file_row(f))
    return True


async def op_put_file(
    cur: Any, _state: object, file_id: str, upload_hash: str, data: bytes
) -> bool:
    """As :func:`parley.storage.sqlite.files.op_put_file`."""
    await cur.execute(
        "UPDATE files SET uploaded = 1, upload_hash = '', size = %s "
        "WHERE id = %s AND upload_hash = %s AND uploaded = 0 AND upload_hash != ''",
        (len(data), file_id, upload_hash),
    )
    if cur.rowcount != 1:
        return False
    for n, chunk in chunks(data):  # one row a statement: a chunk is up to 256 KiB
        await cur.execute(
            "INSERT INTO file_chunks (file_id, n, data) VALUES (%s, %s, %s)", (file_id, n, chunk)
        )
    return True


async def op_complete_file(
    cur: Any, _state: object, file_id: str, user_id: str, title: str, channels: tuple[str, ...]
) -> bool:
    """As :func:`parley.storage.sqlite.files.op_complete_file`."""
    await cur.execute(
        "UPDATE files SET completed = 1, title = %s "
        "WHERE id = %s AND user_id = %s AND uploaded = 1 AND completed = 0",
        (title, file_id, user_id),
    )
    if cur.rowcount != 1:
        return False
    for channel in channels:
        await cur.execute(
            "INSERT IGNORE INTO file_shares (file_id, channel_id) VALUES (%s, %s)",
            (file_id, channel),
        )
    return True


async def op_record_share(
    cur: Any, _state: object, file_ids: Sequence[str], channel_id: str, ts: int
) -> None:
    await cur.execute(share_ts_update("%s", len(file_ids)), (ts, channel_id, *file_ids))


async def op_delete_file(cur: Any, _state: object, file_id: str) -> list[tuple[str, int]] | None:
    """As :func:`parley.storage.sqlite.files.op_delete_file`."""
    await cur.execute(SHARE_MESSAGES.format(p="%s") + " FOR UPDATE", (file_id,))
    shared = [(c, int(ts)) for c, ts in await cur.fetchall()]
    for table in ("file_chunks", "file_shares", "file_links"):
        await cur.execute(f"DELETE FROM {table} WHERE file_id = %s", (file_id,))
    await cur.execute("DELETE FROM files WHERE id = %s", (file_id,))
    return shared if cur.rowcount == 1 else None


async def q_file(cur: Any, file_id: str) -> StoredFile | None:
    await cur.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE id = %s", (file_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    await cur.execute("SELECT channel_id FROM file_shares WHERE file_id = %s", (file_id,))
    return file_from_row(row, (s[0] for s in await cur.fetchall()))


async def q_file_content(cur: Any, file_id: str) -> bytes:
    await cur.execute("SELECT data FROM file_chunks WHERE file_id = %s ORDER BY n", (file_id,))
    return b"".join(r[0] for r in await cur.fetchall())


async def q_files_older(
    cur: Any, team_id: str, before: int, after: tuple[int, str], limit: int
) -> list[StoredFile]:
    await cur.execute(OLDER_QUERY.format(p="%s"), older_params(team_id, before, after, limit))
    rows = await cur.fetchall()
    if not rows:
        return []
    await cur.execute(shares_query("%s", len(rows)), [r[0] for r in rows])
    return with_shares(rows, await cur.fetchall())


async def q_files(
    cur: Any,
    team_id: str,
    viewer: str,
    before: tuple[int, str],
    limit: int,
    user_id: str | None,
    channel_id: str | None,
) -> list[StoredFile]:
    sql = listing_query(
        lambda name: f"%({name})s", by_user=user_id is not None, in_channel=channel_id is not None
    )
    await cur.execute(
        sql,
        listing_params(team_id, viewer, before, limit, user_id, channel_id),
    )
    rows = await cur.fetchall()
    if not rows:
        return []
    await cur.execute(shares_query("%s", len(rows)), [r[0] for r in rows])
    return with_shares(rows, await cur.fetchall())


async def q_search_files(
    cur: Any, team_id: str, viewer: str, s: FileSearch, offset: int, limit: int
) -> tuple[int, list[StoredFile]]:
    params = search_params(team_id, viewer, s, offset, limit)
    param = lambda name: f"%({name})s"  # noqa: E731
    await cur.execute(search_query(param, s, counting=True), params)
    (total,) = await cur.fetchone()
    await cur.execute(search_query(param, s, counting=False), params)
    rows = await cur.fetchall()
    if not rows:
        return total, []
    await cur.execute(shares_query("%s", len(rows)), [r[0] for r in rows])
    return total, with_shares(rows, await cur.fetchall())


async def op_set_file_link(
    cur: Any, _state: object, file_id: str, secret: str | None, now: int
) -> None:
    if secret is None:
        await cur.execute(LINK_REMOVE.format(p="%s"), (file_id,))
    else:
        await cur.execute(LINK_PUT.format(p="%s"), (file_id, secret, now))


async def q_file_link(cur: Any, file_id: str) -> str | None:
    await cur.execute(LINK_QUERY.format(p="%s"), (file_id,))
    row = await cur.fetchone()
    return None if row is None else row[0]
