"""SQL both directory backends share for files (``files``, ``file_chunks``,
``file_shares``: :mod:`parley.files`). Pure: builds text and rows, runs nothing. The
backends differ only in how they name parameters (SQLite ``:viewer``, MariaDB
``%(viewer)s``), so the caller passes its own ``param``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from parley.storage.models import FileSearch, StoredFile

#: The columns of a :class:`StoredFile`, in its fields' order (``channels`` aside).
FILE_COLUMNS = (
    "id, team_id, user_id, name, title, mimetype, size, created, upload_hash, uploaded, completed"
)

#: The bytes of a file kept in one ``file_chunks`` row.
CHUNK = 256 << 10


def file_row(f: StoredFile) -> tuple:
    """``f``'s values for :data:`FILE_COLUMNS`."""
    return (
        f.id,
        f.team_id,
        f.user_id,
        f.name,
        f.title,
        f.mimetype,
        f.size,
        f.created,
        f.upload_hash,
        int(f.uploaded),
        int(f.completed),
    )


def file_from_row(row: Sequence, channels: Iterable[str] = ()) -> StoredFile:
    """A file from a row of :data:`FILE_COLUMNS`, shared in ``channels``."""
    return StoredFile(*row[:9], bool(row[9]), bool(row[10]), tuple(sorted(channels)))


#: A user's files not completed since before a moment, to forget (``{p}``: the backend's
#: placeholder; parameters: the user, the moment).
STALE_QUERY = "SELECT id FROM files WHERE user_id = {p} AND completed = 0 AND created < {p}"
#: How many files a user has not completed (parameter: the user).
WAITING_QUERY = "SELECT COUNT(*) FROM files WHERE user_id = {p} AND completed = 0"


#: A file's public link: its secret (``{p}``: the backend's placeholder; parameters:
#: file, secret, when), made again with a new one; the link's secret (parameter: file);
#: the link gone (parameter: file).
LINK_PUT = "REPLACE INTO file_links (file_id, secret, created) VALUES ({p}, {p}, {p})"
LINK_QUERY = "SELECT secret FROM file_links WHERE file_id = {p}"
LINK_REMOVE = "DELETE FROM file_links WHERE file_id = {p}"


def chunks(data: bytes) -> list[tuple[int, bytes]]:
    """``data`` as ``(n, chunk)`` rows of at most :data:`CHUNK` bytes (none when empty)."""
    return [(n, data[i : i + CHUNK]) for n, i in enumerate(range(0, len(data), CHUNK))]


def listing_query(param: Callable[[str], str], *, by_user: bool, in_channel: bool) -> str:
    """The completed files of a team that a viewer may see, newest first: their own, and
    those shared in a public channel or in a private one (or a direct message) the viewer
    is in. Parameters ``team``, ``viewer``, ``before`` and ``before_id`` (the page's
    start: older than ``(before, before_id)``), ``limit``, and with ``by_user`` only
    ``user``'s, with ``in_channel`` only those shared in ``channel``."""
    p = param
    where = [
        f"f.team_id = {p('team')}",
        "f.completed = 1",
        _readable(p),
        f"(f.created < {p('before')} OR (f.created = {p('before')} AND f.id < {p('before_id')}))",
    ]
    if by_user:
        where.append(f"f.user_id = {p('user')}")
    if in_channel:
        where.append(
            "EXISTS (SELECT 1 FROM file_shares s2 WHERE s2.file_id = f.id "
            f"AND s2.channel_id = {p('channel')})"
        )
    cols = ", ".join("f." + c.strip() for c in FILE_COLUMNS.split(","))
    return (
        f"SELECT {cols} FROM files f WHERE {' AND '.join(where)} "
        f"ORDER BY f.created DESC, f.id DESC LIMIT {p('limit')}"
    )


def _readable(p: Callable[[str], str]) -> str:
    """Whether the viewer (parameter ``viewer``) may read the file ``f``: theirs, or
    shared in a public channel or in a private one (or a direct message) they are in."""
    return (
        f"(f.user_id = {p('viewer')} OR EXISTS (SELECT 1 FROM file_shares s "
        "JOIN channels c ON c.id = s.channel_id WHERE s.file_id = f.id AND "
        "(c.is_private = 0 OR EXISTS (SELECT 1 FROM members m WHERE m.channel_id = c.id "
        f"AND m.user_id = {p('viewer')}))))"
    )


def _like(term: str) -> str:
    """A search term (a word, or a phrase's words with a space between) as a LIKE
    pattern: its words in order anywhere in the text, ``_`` and ``%`` meant as
    themselves (escaped with ``!``)."""
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return "%" + escaped.replace(" ", "%") + "%"


def search_query(param: Callable[[str], str], s: FileSearch, *, counting: bool) -> str:
    """The completed files of a team that a viewer may read (as :func:`listing_query`)
    and that ``s`` selects, newest first (oldest with ``s.ascending``), the page from
    ``offset``, ``limit`` of them; with ``counting``, how many there are in all.
    Parameters: :func:`search_params`."""
    p = param
    where = [f"f.team_id = {p('team')}", "f.completed = 1", _readable(p)]
    in_text = "(LOWER(f.name) LIKE {0} ESCAPE '!' OR LOWER(f.title) LIKE {0} ESCAPE '!')"
    where += [in_text.format(p(f"w{i}")) for i in range(len(s.words))]
    where += [f"NOT {in_text.format(p(f'x{i}'))}" for i in range(len(s.excluded))]
    if s.users:
        where.append(f"f.user_id IN ({', '.join(p(f'u{i}') for i in range(len(s.users)))})")
    if s.channels is not None:
        marks = ", ".join(p(f"c{i}") for i in range(len(s.channels))) or "NULL"
        where.append(
            "EXISTS (SELECT 1 FROM file_shares s2 WHERE s2.file_id = f.id "
            f"AND s2.channel_id IN ({marks}))"
        )
    if s.after_us is not None:
        where.append(f"f.created >= {p('after')}")
    if s.before_us is not None:
        where.append(f"f.created < {p('before')}")
    if counting:
        return f"SELECT COUNT(*) FROM files f WHERE {' AND '.join(where)}"
    cols = ", ".join("f." + c.strip() for c in FILE_COLUMNS.split(","))
    order = "ASC" if s.ascending else "DESC"
    return (
        f"SELECT {cols} FROM files f WHERE {' AND '.join(where)} "
        f"ORDER BY f.created {order}, f.id {order} LIMIT {p('limit')} OFFSET {p('offset')}"
    )


def search_params(
    team_id: str, viewer: str, s: FileSearch, offset: int, limit: int
) -> dict[str, object]:
    """The parameters of :func:`search_query`."""
    out: dict[str, object] = {
        "team": team_id,
        "viewer": viewer,
        "after": s.after_us,
        "before": s.before_us,
        "offset": offset,
        "limit": limit,
    }
    out.update((f"w{i}", _like(w)) for i, w in enumerate(s.words))
    out.update((f"x{i}", _like(w)) for i, w in enumerate(s.excluded))
    out.update((f"u{i}", u) for i, u in enumerate(s.users))
    out.update((f"c{i}", c) for i, c in enumerate(s.channels or ()))
    return out


def listing_params(
    team_id: str,
    viewer: str,
    before: tuple[int, str],
    limit: int,
    user_id: str | None,
    channel_id: str | None,
) -> dict[str, object]:
    """The parameters of :func:`listing_query`."""
    return {
        "team": team_id,
        "viewer": viewer,
        "before": before[0],
        "before_id": before[1],
        "limit": limit,
        "user": user_id,
        "channel": channel_id,
    }


def share_ts_update(placeholder: str, count: int) -> str:
    """Records the message (``ts``, the first placeholder) that shared ``count`` files in
    a channel (the second)."""
    marks = ", ".join([placeholder] * count)
    return (
        f"UPDATE file_shares SET ts = {placeholder} "
        f"WHERE channel_id = {placeholder} AND file_id IN ({marks})"
    )


#: The messages that shared a file (``channel_id, ts``; those recorded), by file id.
SHARE_MESSAGES = "SELECT channel_id, ts FROM file_shares WHERE file_id = {p} AND ts != 0"


#: A workspace's files created before a moment, oldest first, after a page's last
#: (``{p}``: the backend's placeholder; parameters: the team, the moment, the last's
#: ``created`` twice and ``id``, the limit): what retention looks at.
OLDER_QUERY = (
    f"SELECT {FILE_COLUMNS} FROM files WHERE team_id = {{p}} AND created < {{p}} "
    "AND (created > {p} OR (created = {p} AND id > {p})) ORDER BY created, id LIMIT {p}"
)


def older_params(team_id: str, before: int, after: tuple[int, str], limit: int) -> tuple:
    """The parameters of :data:`OLDER_QUERY` (``after``: the last's ``(created, id)``;
    ``(-1, "")`` for the first page)."""
    return (team_id, before, after[0], after[0], after[1], limit)


def shares_query(placeholder: str, count: int) -> str:
    """The channels ``count`` files are shared in, as ``(file_id, channel_id)`` rows."""
    marks = ", ".join([placeholder] * count)
    return f"SELECT file_id, channel_id FROM file_shares WHERE file_id IN ({marks})"


def with_shares(rows: Sequence[Sequence], shares: Iterable[Sequence]) -> list[StoredFile]:
    """Files from their rows, each with the channels ``shares`` names for it."""
    by_file: dict[str, list[str]] = {}
    for file_id, channel_id in shares:
        by_file.setdefault(file_id, []).append(channel_id)
    return [file_from_row(r, by_file.get(r[0], ())) for r in rows]
