"""The directory on SQLite: workspaces, users, tokens, channels, memberships (``meta.db``).

Write ops are plain functions ``op(conn, state, ...)`` run by the file's
:class:`~parley.storage.sqlite.db.Writer` (or by :func:`~parley.storage.sqlite.db.run_once`
for admin commands); read ops are ``op(conn, ...)`` run by :class:`Readers`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from parley.config import Settings
from parley.errors import ApiError, Code, StorageError
from parley.ids import wall_us
from parley.notify.devices import Device
from parley.notify.dnd import Dnd, Schedule
from parley.notify.payloads import Notice, decode_notices, encode_notice
from parley.notify.prefs import Prefs, decode_prefs, encode_prefs
from parley.pipeline import profiles
from parley.resilience.retries import DeadLetter, Retry
from parley.storage import account_rows as accounts
from parley.storage import avatar_rows
from parley.storage.app_rows import (
    APP_PARTS,
    COMMAND_COLUMNS,
    PINS_QUERY,
    SECRET_TABLES,
    UNFURL_DOMAIN_PUT,
    UNFURL_DOMAINS_CLEAR,
    UNFURL_DOMAINS_QUERY,
    app_part_delete,
    app_part_query,
    app_secret_query,
    command_row,
    endpoint_query,
)
from parley.storage.listing import CLOSE_QUERY, CLOSED_QUERY, REOPEN_QUERY, channel_kinds
from parley.storage.models import (
    CHANNEL_COLUMNS,
    CHANNEL_WIDTH,
    USER_COLUMNS,
    AppCommand,
    AppDomain,
    AppShortcut,
    AppView,
    Bookmark,
    Caller,
    Channel,
    CommandResponse,
    CustomEmoji,
    EventApp,
    FileSearch,
    OAuthApp,
    OAuthGrant,
    Page,
    Pin,
    RetentionPolicy,
    Star,
    StoredFile,
    Team,
    User,
    UserGroup,
    channel_from_row,
    user_from_row,
)
from parley.storage.sqlite import bookmarks as bookmark_ops
from parley.storage.sqlite import emoji as emoji_ops
from parley.storage.sqlite import files as file_ops
from parley.storage.sqlite import groups as group_ops
from parley.storage.sqlite import migrations
from parley.storage.sqlite import retention as retention_ops
from parley.storage.sqlite import stars as star_ops
from parley.storage.sqlite import views as view_ops
from parley.storage.sqlite.db import NoState, Readers, Writer, run_once
from parley.storage.sqlite.oauth import (  # noqa: F401 - the admin's
    op_add_oauth_grant,
    op_set_oauth_app,
    op_take_oauth_grant,
    op_uninstall_app,
    q_oauth_app,
    q_oauth_app_of,
)
from parley.storage.sqlite.views import op_set_shortcut  # noqa: F401 - the admin's

FILENAME = "meta.db"

_USER_COLS = USER_COLUMNS
_CHANNEL_COLS = CHANNEL_COLUMNS


def _channel(row: tuple) -> Channel:
    return channel_from_row(row)


# -- write ops ---------------------------------------------------------------------------


def op_shard_count(conn: sqlite3.Connection, _state: object, wanted: int) -> int:
    """Records ``wanted`` as the data dir's shard count on first use; returns the recorded one."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'shards'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('shards', ?)", (str(wanted),))
        return wanted
    return int(row[0])


def op_create_team(conn: sqlite3.Connection, _state: object, team: Team) -> Team:
    try:
        conn.execute(
            "INSERT INTO teams (id, name, domain, created) VALUES (?, ?, ?, ?)",
            (team.id, team.name, team.domain, team.created),
        )
    except sqlite3.IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    return team


def op_create_user(
    conn: sqlite3.Connection,
    _state: object,
    user: User,
    token_hash: bytes,
    scopes: str | None = None,
    notice: Retry | None = None,
) -> User:
    """Adds ``user`` with its first token (and ``notice``, the announcement of its
    joining, :mod:`parley.pipeline.accounts`), in one transaction."""
    if conn.execute("SELECT 1 FROM teams WHERE id = ?", (user.team_id,)).fetchone() is None:
        raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": f"no workspace {user.team_id}"})
    try:
        conn.execute(
            f"INSERT INTO users ({_USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                user.id,
                user.team_id,
                user.name,
                user.real_name,
                int(user.is_bot),
                user.bot_id,
                user.rate_limit,
                user.created,
                0,
                user.email,
                user.profile,
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    conn.execute(
        "INSERT INTO tokens (hash, user_id, created, scopes) VALUES (?, ?, ?, ?)",
        (token_hash, user.id, user.created, scopes),
    )
    if notice is not None:
        op_retry_later(conn, _state, notice)
    return user


def op_revoke_token(conn: sqlite3.Connection, _state: object, token_hash: bytes) -> bool:
    """Marks the token revoked; ``False`` if it was unknown or revoked already."""
    cur = conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE hash = ? AND revoked = 0", (token_hash,)
    )
    return cur.rowcount > 0


def op_create_channel(conn: sqlite3.Connection, _state: object, ch: Channel) -> Channel:
    try:
        conn.execute(
            f"INSERT INTO channels ({_CHANNEL_COLS}) VALUES ({', '.join(['?'] * CHANNEL_WIDTH)})",
            (
                ch.id,
                ch.team_id,
                ch.name,
                int(ch.is_private),
                ch.creator,
                ch.created,
                int(ch.is_archived),
                ch.topic,
                ch.purpose,
                int(ch.is_im),
                int(ch.is_mpim),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    conn.execute(
        "INSERT INTO members (channel_id, user_id, joined) VALUES (?, ?, ?)",
        (ch.id, ch.creator, ch.created),
    )
    return ch


def op_set_archived(
    conn: sqlite3.Connection, _state: object, channel_id: str, archived: bool
) -> None:
    conn.execute("UPDATE channels SET is_archived = ? WHERE id = ?", (int(archived), channel_id))


def op_mark_read(
    conn: sqlite3.Connection, _state: object, channel_id: str, user_id: str, ts: int
) -> bool:
    cur = conn.execute(
        "UPDATE members SET last_read = ? WHERE channel_id = ? AND user_id = ?",
        (ts, channel_id, user_id),
    )
    return cur.rowcount > 0


def q_last_read(conn: sqlite3.Connection, channel_id: str, user_id: str) -> int | None:
    row = conn.execute(
        "SELECT last_read FROM members WHERE channel_id = ? AND user_id = ?",
        (channel_id, user_id),
    ).fetchone()
    return None if row is None else row[0]


def op_update_channel(
    conn: sqlite3.Connection,
    _state: object,
    channel_id: str,
    name: str | None,
    topic: str | None,
    purpose: str | None,
) -> Channel | None:
    try:
        conn.execute(
            "UPDATE channels SET name = COALESCE(?, name), topic = COALESCE(?, topic), "
            "purpose = COALESCE(?, purpose) WHERE id = ?",
            (name, topic, purpose, channel_id),
        )
    except sqlite3.IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    return q_channel(conn, channel_id)


def op_add_members(
    conn: sqlite3.Connection, _state: object, channel_id: str, user_ids: Sequence[str], now: int
) -> list[str]:
    added = []
    for uid in user_ids:
        cur = conn.execute(
            "INSERT OR IGNORE INTO members (channel_id, user_id, joined) VALUES (?, ?, ?)",
            (channel_id, uid, now),
        )
        if cur.rowcount:
            added.append(uid)
    return added


def op_remove_member(
    conn: sqlite3.Connection, _state: object, channel_id: str, user_id: str
) -> bool:
    cur = conn.execute(
        "DELETE FROM members WHERE channel_id = ? AND user_id = ?", (channel_id, user_id)
    )
    return cur.rowcount > 0


# -- read ops ----------------------------------------------------------------------------


def q_teams(conn: sqlite3.Connection) -> list[Team]:
    return [
        Team(*r)
        for r in conn.execute("SELECT id, name, domain, created FROM teams ORDER BY created, id")
    ]


def q_team(conn: sqlite3.Connection, team_id: str) -> Team | None:
    row = conn.execute(
        "SELECT id, name, domain, created FROM teams WHERE id = ?", (team_id,)
    ).fetchone()
    return Team(*row) if row else None


def q_caller_by_token(conn: sqlite3.Connection, token_hash: bytes) -> Caller | None:
    row = conn.execute(
        f"SELECT {', '.join('u.' + c.strip() for c in _USER_COLS.split(','))}, "
        "t.scopes, t.revoked FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?",
        (token_hash,),
    ).fetchone()
    if row is None:
        return None
    scopes = None if row[-2] is None else frozenset(s for s in row[-2].split(",") if s)
    return Caller(user_from_row(row[:-2]), scopes, bool(row[-1]))


def q_user(conn: sqlite3.Connection, user_id: str) -> User | None:
    row = conn.execute(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return user_from_row(row) if row else None


def q_users(conn: sqlite3.Connection, team_id: str, after: str, limit: int) -> Page:
    rows = conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE team_id = ? AND id > ? ORDER BY id LIMIT ?",
        (team_id, after, limit + 1),
    ).fetchall()
    return Page(tuple(user_from_row(r) for r in rows[:limit]), len(rows) > limit)


def q_channel(conn: sqlite3.Connection, channel_id: str) -> Channel | None:
    row = conn.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE id = ?", (channel_id,)
    ).fetchone()
    return _channel(row) if row else None


def _named(name: str) -> str:
    return f":{name}"


def q_channels(
    conn: sqlite3.Connection,
    team_id: str,
    user_id: str,
    public: bool,
    private: bool,
    ims: bool,
    mpims: bool,
    exclude_archived: bool,
    after: str,
    limit: int,
    member_only: bool = False,
    viewer: str | None = None,
) -> Page:
    """Rows are ``(Channel, num_members, is_member)``, ``is_member`` the viewer's (the
    user's without one); which channels: :func:`.channel_kinds`."""
    kinds = channel_kinds(
        public=public,
        private=private,
        ims=ims,
        mpims=mpims,
        member_only=member_only,
        shared=viewer is not None and viewer != user_id,
        param=_named,
    )
    if kinds is None:
        return Page((), False)
    archived = "AND c.is_archived = 0" if exclude_archived else ""
    cols = ", ".join("c." + c.strip() for c in _CHANNEL_COLS.split(","))
    rows = conn.execute(
        f"SELECT {cols}, (SELECT COUNT(*) FROM members m WHERE m.channel_id = c.id), "
        "EXISTS (SELECT 1 FROM members m WHERE m.channel_id = c.id AND m.user_id = :shown) "
        f"FROM channels c WHERE c.team_id = :team AND c.id > :after "
        f"AND {kinds} {archived} ORDER BY c.id LIMIT :limit",
        {
            "team": team_id,
            "user": user_id,
            "viewer": viewer,
            "shown": viewer or user_id,
            "after": after,
            "limit": limit + 1,
        },
    ).fetchall()
    return Page(
        tuple((_channel(r), r[CHANNEL_WIDTH], bool(r[CHANNEL_WIDTH + 1])) for r in rows[:limit]),
        len(rows) > limit,
    )


def q_members(conn: sqlite3.Connection, channel_id: str) -> frozenset[str]:
    return frozenset(
        r[0]
        for r in conn.execute("SELECT user_id FROM members WHERE channel_id = ?", (channel_id,))
    )


def q_member_channels(conn: sqlite3.Connection, user_id: str) -> frozenset[str]:
    return frozenset(
        r[0] for r in conn.execute("SELECT channel_id FROM members WHERE user_id = ?", (user_id,))
    )


def q_members_page(conn: sqlite3.Connection, channel_id: str, after: str, limit: int) -> Page:
    rows = conn.execute(
        "SELECT user_id FROM members WHERE channel_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
        (channel_id, after, limit + 1),
    ).fetchall()
    return Page(tuple(r[0] for r in rows[:limit]), len(rows) > limit)


# -- the backend -------------------------------------------------------------------------


class SqliteDirectory:
    """:class:`~parley.storage.interface.Directory` on ``<data_dir>/meta.db``."""

    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.data_dir) / FILENAME
        self._writer = Writer(
            self.path,
            migrations.DIRECTORY,
            state=NoState(),
            synchronous=settings.sqlite_synchronous,
            max_batch=64,
            name="parley-meta-writer",
        )
        self._readers = Readers([self.path], settings.read_threads, "parley-meta-read")

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer.start()

    async def close(self) -> None:
        await self._writer.close()
        self._readers.close()

    async def _read(self, op, *args):
        return await self._readers.run(0, op, *args)

    async def shard_count(self, wanted: int) -> int:
        return await self._writer.submit(op_shard_count, wanted)

    async def teams(self) -> list[Team]:
        return await self._read(q_teams)

    async def team(self, team_id: str) -> Team | None:
        return await self._read(q_team, team_id)

    async def create_team(self, team: Team) -> Team:
        return await self._writer.submit(op_create_team, team)

    async def create_user(self, user: User, token_hash: bytes) -> User:
        return await self._writer.submit(op_create_user, user, token_hash)

    async def caller_by_token(self, token_hash: bytes) -> Caller | None:
        return await self._read(q_caller_by_token, token_hash)

    async def revoke_token(self, token_hash: bytes) -> bool:
        return await self._writer.submit(op_revoke_token, token_hash)

    async def logins(self, name: str) -> list[tuple[User, Team, str | None]]:
        return await self._read(q_logins, name)

    async def add_token(
        self,
        user_id: str,
        token_hash: bytes,
        scopes: str | None,
        *,
        session: bool = False,
        app: str = "",
    ) -> None:
        await self._writer.submit(
            op_add_token, user_id, token_hash, wall_us(), scopes, session, app
        )

    async def set_deleted(self, user_id: str, deleted: bool, notice: Retry) -> None:
        await self._writer.submit(op_set_deleted, user_id, deleted, notice)

    async def end_sessions(self, user_id: str, notice: Retry) -> int:
        return await self._writer.submit(op_end_sessions, user_id, notice)

    async def token_keys(self, user_id: str, *, sessions: bool = False) -> list[bytes]:
        return await self._read(q_token_keys, user_id, sessions)

    async def user_by_name(self, team_id: str, name: str) -> User | None:
        return await self._read(q_user_by_name, team_id, name)

    async def channel_by_name(self, team_id: str, name: str) -> Channel | None:
        return await self._read(q_channel_by_name, team_id, name)

    async def all_channels(self, team_id: str, after: str, limit: int) -> Page:
        return await self._read(q_all_channels, team_id, after, limit)

    async def user(self, user_id: str) -> User | None:
        return await self._read(q_user, user_id)

    async def users(self, team_id: str, after: str, limit: int) -> Page:
        return await self._read(q_users, team_id, after, limit)

    async def channel(self, channel_id: str) -> Channel | None:
        return await self._read(q_channel, channel_id)

    async def channels(
        self,
        team_id: str,
        user_id: str,
        *,
        public: bool,
        private: bool,
        exclude_archived: bool,
        after: str,
        limit: int,
        ims: bool = False,
        mpims: bool = False,
        member_only: bool = False,
        viewer: str | None = None,
    ) -> Page:
        return await self._read(
            q_channels,
            team_id,
            user_id,
            public,
            private,
            ims,
            mpims,
            exclude_archived,
            after,
            limit,
            member_only,
            viewer,
        )

    async def create_channel(self, channel: Channel) -> Channel:
        return await self._writer.submit(op_create_channel, channel)

    async def set_archived(self, channel_id: str, archived: bool) -> None:
        await self._writer.submit(op_set_archived, channel_id, archived)

    async def event_apps(self) -> list[EventApp]:
        return await self._read(q_event_apps)

    async def unfurl_domains(self) -> list[AppDomain]:
        return await self._read(q_unfurl_domains)

    async def oauth_app(self, client_id: str) -> OAuthApp | None:
        return await self._read(q_oauth_app, client_id)

    async def add_oauth_grant(self, grant: OAuthGrant, now: int) -> None:
        await self._writer.submit(op_add_oauth_grant, grant, now)

    async def uninstall_app(self, bot_id: str) -> list[tuple[bytes, str]]:
        return await self._writer.submit(op_uninstall_app, bot_id)

    async def take_oauth_grant(self, code_hash: bytes) -> OAuthGrant | None:
        return await self._writer.submit(op_take_oauth_grant, code_hash)

    async def close_conversation(self, user_id: str, channel_id: str, seq: int) -> None:
        await self._writer.submit(op_close_conversation, user_id, channel_id, seq)

    async def reopen_conversation(self, user_id: str, channel_id: str) -> bool:
        return await self._writer.submit(op_reopen_conversation, user_id, channel_id)

    async def closed_conversations(self, user_id: str) -> dict[str, int]:
        return await self._read(q_closed_conversations, user_id)

    async def commands(self, team_id: str) -> list[AppCommand]:
        return await self._read(q_commands, team_id)

    async def shortcuts(self, team_id: str) -> list[AppShortcut]:
        return await self._read(view_ops.q_shortcuts, team_id)

    async def bot_user(self, bot_id: str) -> User | None:
        return await self._read(q_bot_user, bot_id)

    async def user_by_email(self, team_id: str, email: str) -> User | None:
        return await self._read(q_user_by_email, team_id, email)

    async def edit_profile(self, user_id: str, changes: dict[str, Any]) -> User | None:
        return await self._writer.submit(op_edit_profile, user_id, changes)

    async def set_avatar(
        self, user_id: str, photo: tuple[str, bytes, str] | None, now: int
    ) -> User | None:
        return await self._writer.submit(op_set_avatar, user_id, photo, now)

    async def avatar(self, user_id: str) -> tuple[str, str, bytes] | None:
        return await self._read(q_avatar, user_id)

    async def set_away(self, user_id: str, away: bool) -> None:
        await self._writer.submit(op_set_away, user_id, away)

    async def away_users(self, team_id: str) -> set[str]:
        return await self._read(q_away_users, team_id)

    async def add_pin(self, pin: Pin, most: int) -> str | None:
        return await self._writer.submit(op_add_pin, pin, most)

    async def remove_pin(self, channel_id: str, ts: int) -> bool:
        return await self._writer.submit(op_remove_pin, channel_id, ts)

    async def add_star(self, star: Star) -> bool:
        return await self._writer.submit(star_ops.op_add_star, star)

    async def remove_star(self, user_id: str, channel_id: str, ts: int) -> bool:
        return await self._writer.submit(star_ops.op_remove_star, user_id, channel_id, ts)

    async def stars(self, user_id: str, after: Star | None, limit: int) -> list[Star]:
        return await self._read(star_ops.q_stars, user_id, after, limit)

    async def set_retention(self, policy: RetentionPolicy) -> None:
        await self._writer.submit(retention_ops.op_set_retention, policy)

    async def remove_retention(self, team_id: str, channel_id: str) -> bool:
        return await self._writer.submit(retention_ops.op_remove_retention, team_id, channel_id)

    async def retention(self) -> list[RetentionPolicy]:
        return await self._read(retention_ops.q_retention)

    async def pins(self, channel_id: str) -> list[Pin]:
        return await self._read(q_pins, channel_id)

    async def add_bookmark(self, b: Bookmark, most: int) -> bool:
        return await self._writer.submit(bookmark_ops.op_add_bookmark, b, most)

    async def put_bookmark(self, b: Bookmark) -> None:
        await self._writer.submit(bookmark_ops.op_put_bookmark, b)

    async def remove_bookmark(self, channel_id: str, bookmark_id: str) -> bool:
        return await self._writer.submit(bookmark_ops.op_remove_bookmark, channel_id, bookmark_id)

    async def add_emoji(self, e: CustomEmoji, data: bytes) -> None:
        await self._writer.submit(emoji_ops.op_add_emoji, e, data)

    async def remove_emoji(self, team_id: str, name: str) -> list[str]:
        return await self._writer.submit(emoji_ops.op_remove_emoji, team_id, name)

    async def emoji(self, team_id: str) -> list[CustomEmoji]:
        return await self._read(emoji_ops.q_emoji, team_id)

    async def emoji_image(self, team_id: str, name: str) -> tuple[str, bytes] | None:
        return await self._read(emoji_ops.q_emoji_image, team_id, name)

    async def bookmarks(self, channel_id: str) -> list[Bookmark]:
        return await self._read(bookmark_ops.q_bookmarks, channel_id)

    async def create_group(self, g: UserGroup) -> None:
        await self._writer.submit(group_ops.op_create_group, g)

    async def update_group(
        self, group_id: str, name: str, handle: str, description: str, updated: int
    ) -> None:
        await self._writer.submit(
            group_ops.op_update_group, group_id, name, handle, description, updated
        )

    async def set_group_disabled(self, group_id: str, disabled: bool, updated: int) -> None:
        await self._writer.submit(group_ops.op_set_group_disabled, group_id, disabled, updated)

    async def set_group_members(self, group_id: str, users: Sequence[str], updated: int) -> None:
        await self._writer.submit(group_ops.op_set_group_members, group_id, users, updated)

    async def groups(self, team_id: str, include_disabled: bool = False) -> list[UserGroup]:
        return await self._read(group_ops.q_groups, team_id, include_disabled)

    async def group(self, group_id: str) -> UserGroup | None:
        return await self._read(group_ops.q_group, group_id)

    async def put_view(self, v: AppView, now: int, stale_before: int) -> None:
        await self._writer.submit(view_ops.op_put_view, v, now, stale_before)

    async def view(self, view_id: str) -> AppView | None:
        return await self._read(view_ops.q_view, view_id)

    async def view_by_external(self, team_id: str, external_id: str) -> AppView | None:
        return await self._read(view_ops.q_view_by_external, team_id, external_id)

    async def meta_default(self, key: str, value: str) -> str:
        return await self._writer.submit(view_ops.op_meta_default, key, value)

    async def create_file(self, f: StoredFile, stale_before: int, most: int) -> bool:
        return await self._writer.submit(file_ops.op_create_file, f, stale_before, most)

    async def put_file(self, file_id: str, upload_hash: str, data: bytes) -> bool:
        return await self._writer.submit(file_ops.op_put_file, file_id, upload_hash, data)

    async def complete_file(
        self, file_id: str, user_id: str, title: str, channels: tuple[str, ...]
    ) -> bool:
        return await self._writer.submit(
            file_ops.op_complete_file, file_id, user_id, title, channels
        )

    async def record_share(self, file_ids: Sequence[str], channel_id: str, ts: int) -> None:
        await self._writer.submit(file_ops.op_record_share, file_ids, channel_id, ts)

    async def delete_file(self, file_id: str) -> list[tuple[str, int]] | None:
        return await self._writer.submit(file_ops.op_delete_file, file_id)

    async def set_file_link(self, file_id: str, secret: str | None, now: int) -> None:
        await self._writer.submit(file_ops.op_set_file_link, file_id, secret, now)

    async def file_link(self, file_id: str) -> str | None:
        return await self._read(file_ops.q_file_link, file_id)

    async def file(self, file_id: str) -> StoredFile | None:
        return await self._read(file_ops.q_file, file_id)

    async def file_content(self, file_id: str) -> bytes:
        return await self._read(file_ops.q_file_content, file_id)

    async def files_older(
        self, team_id: str, before: int, after: tuple[int, str], limit: int
    ) -> list[StoredFile]:
        return await self._read(file_ops.q_files_older, team_id, before, after, limit)

    async def files(
        self,
        team_id: str,
        viewer: str,
        before: tuple[int, str],
        limit: int,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> list[StoredFile]:
        return await self._read(
            file_ops.q_files, team_id, viewer, before, limit, user_id, channel_id
        )

    async def search_files(
        self, team_id: str, viewer: str, search: FileSearch, offset: int, limit: int
    ) -> tuple[int, list[StoredFile]]:
        return await self._read(file_ops.q_search_files, team_id, viewer, search, offset, limit)

    async def interactivity(self, user_id: str) -> EventApp | None:
        return await self._read(q_interactivity, user_id)

    async def add_command_response(
        self, token_hash: str, response: CommandResponse, now: int
    ) -> None:
        await self._writer.submit(op_add_command_response, token_hash, response, now)

    async def use_command_response(
        self, token_hash: str, now: int, most: int
    ) -> CommandResponse | None:
        return await self._writer.submit(op_use_command_response, token_hash, now, most)

    async def mark_read(self, channel_id: str, user_id: str, ts: int) -> bool:
        return await self._writer.submit(op_mark_read, channel_id, user_id, ts)

    async def last_read(self, channel_id: str, user_id: str) -> int | None:
        return await self._read(q_last_read, channel_id, user_id)

    async def update_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        topic: str | None = None,
        purpose: str | None = None,
    ) -> Channel | None:
        return await self._writer.submit(op_update_channel, channel_id, name, topic, purpose)

    async def members(self, channel_id: str) -> frozenset[str]:
        return await self._read(q_members, channel_id)

    async def members_page(self, channel_id: str, after: str, limit: int) -> Page:
        return await self._read(q_members_page, channel_id, after, limit)

    async def member_channels(self, user_id: str) -> frozenset[str]:
        return await self._read(q_member_channels, user_id)

    async def dnd(self, user_ids: Sequence[str]) -> dict[str, Dnd]:
        return await self._read(q_dnd, list(user_ids))

    async def set_dnd(self, user_id: str, dnd: Dnd) -> None:
        await self._writer.submit(op_set_dnd, user_id, dnd)

    async def devices(self, user_ids: Sequence[str]) -> list[Device]:
        return await self._read(q_devices, list(user_ids))

    async def add_device(self, device: Device, max_per_user: int) -> bool:
        return await self._writer.submit(op_add_device, device, max_per_user)

    async def remove_device(self, platform: str, token: str, user_id: str | None) -> bool:
        return await self._writer.submit(op_remove_device, platform, token, user_id)

    async def push_prefs(self, user_ids: Sequence[str] | None) -> dict[str, Prefs]:
        return await self._read(q_push_prefs, None if user_ids is None else list(user_ids))

    async def set_push_prefs(self, user_id: str, prefs: Prefs) -> None:
        await self._writer.submit(op_set_push_prefs, user_id, prefs)

    async def retry_later(self, retry: Retry) -> None:
        await self._writer.submit(op_retry_later, retry)

    async def claim_due(self, step: str, now: int, limit: int, lease_until: int) -> list[Retry]:
        return await self._writer.submit(op_claim_due, step, now, limit, lease_until)

    async def waiting(self, step: str, prefix: str, after: str, limit: int) -> list[Retry]:
        return await self._read(q_waiting, step, prefix, after, limit)

    async def retry_done(self, step: str, item: str) -> None:
        await self._writer.submit(op_retry_done, step, item)

    async def bury(self, letter: DeadLetter) -> None:
        await self._writer.submit(op_bury, letter)

    async def dead_letters(self, step: str | None, after: str, limit: int) -> list[DeadLetter]:
        return await self._read(q_dead_letters, step, after, limit)

    async def dead_letter(self, step: str, item: str) -> DeadLetter | None:
        return await self._read(q_dead_letter, step, item)

    async def retry_counts(self) -> dict[tuple[str, str], int]:
        return await self._read(q_retry_counts)

    async def replay(self, step: str, items: Sequence[str] | None, now: int) -> int:
        return await self._writer.submit(op_replay, step, items, now)

    async def purge(self, step: str, items: Sequence[str] | None) -> int:
        return await self._writer.submit(op_purge, step, items)

    async def hold_pushes(self, held: Sequence[tuple[str, Notice]]) -> None:
        await self._writer.submit(op_hold_pushes, list(held))

    async def held_users(self) -> list[str]:
        return await self._read(q_held_users)

    async def take_held(self, user_id: str) -> list[Notice]:
        return await self._writer.submit(op_take_held, user_id)

    async def add_members(self, channel_id: str, user_ids: Sequence[str]) -> list[str]:
        return await self._writer.submit(op_add_members, channel_id, list(user_ids), wall_us())

    async def remove_member(self, channel_id: str, user_id: str) -> bool:
        return await self._writer.submit(op_remove_member, channel_id, user_id)


# -- retries and dead letters (parley.resilience) ------------------------------------------


def _retry(row: tuple) -> Retry:
    return Retry(row[0], row[1], row[2], row[3], row[4], tuple(orjson.loads(row[5])), row[6])


def _letter(row: tuple) -> DeadLetter:
    return DeadLetter(row[0], row[1], row[2], row[3], tuple(orjson.loads(row[4])), row[5], row[6])


#: Above every character an item can hold: ``prefix + _LAST_CHAR`` bounds a prefix's range.
_LAST_CHAR = "\U0010ffff"


def op_retry_later(conn: sqlite3.Connection, _state: object, r: Retry) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO retries VALUES (?, ?, ?, ?, ?, ?, ?)",
        (r.step, r.item, r.payload, r.attempts, r.next_at, orjson.dumps(r.errors), r.created),
    )


def op_claim_due(
    conn: sqlite3.Connection, _state: object, step: str, now: int, limit: int, lease: int
) -> list[Retry]:
    rows = conn.execute(
        "SELECT step, item, payload, attempts, next_at, errors, created FROM retries "
        "WHERE step = ? AND next_at <= ? ORDER BY next_at LIMIT ?",
        (step, now, limit),
    ).fetchall()
    conn.executemany(
        "UPDATE retries SET next_at = ? WHERE step = ? AND item = ?",
        [(lease, step, r[1]) for r in rows],
    )
    return [_retry(r) for r in rows]


def q_waiting(
    conn: sqlite3.Connection, step: str, prefix: str, after: str, limit: int
) -> list[Retry]:
    rows = conn.execute(
        "SELECT step, item, payload, attempts, next_at, errors, created FROM retries "
        "WHERE step = ? AND item >= ? AND item < ? AND item > ? ORDER BY item LIMIT ?",
        (step, prefix, prefix + _LAST_CHAR, after, limit),
    ).fetchall()
    return [_retry(r) for r in rows]


def op_retry_done(conn: sqlite3.Connection, _state: object, step: str, item: str) -> None:
    conn.execute("DELETE FROM retries WHERE step = ? AND item = ?", (step, item))


def op_bury(conn: sqlite3.Connection, _state: object, d: DeadLetter) -> None:
    conn.execute("DELETE FROM retries WHERE step = ? AND item = ?", (d.step, d.item))
    conn.execute(
        "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?)",
        (d.step, d.item, d.payload, d.attempts, orjson.dumps(d.errors), d.created, d.died),
    )


def q_dead_letters(
    conn: sqlite3.Connection, step: str | None, after: str, limit: int
) -> list[DeadLetter]:
    rows = conn.execute(
        "SELECT step, item, payload, attempts, errors, created, died FROM dead_letters "
        "WHERE (? IS NULL OR step = ?) AND step || '/' || item > ? "
        "ORDER BY step, item LIMIT ?",
        (step, step, after, limit),
    ).fetchall()
    return [_letter(r) for r in rows]


def q_dead_letter(conn: sqlite3.Connection, step: str, item: str) -> DeadLetter | None:
    row = conn.execute(
        "SELECT step, item, payload, attempts, errors, created, died FROM dead_letters "
        "WHERE step = ? AND item = ?",
        (step, item),
    ).fetchone()
    return _letter(row) if row else None


def q_retry_counts(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for table in ("retries", "dead_letters"):
        for step, n in conn.execute(f"SELECT step, COUNT(*) FROM {table} GROUP BY step"):
            out[(step, table)] = n
    return out


def _chosen(items: Sequence[str] | None) -> tuple[str, tuple]:
    if items is None:
        return "", ()
    if not items:
        return " AND 0", ()
    return " AND item IN (SELECT value FROM json_each(?))", (orjson.dumps(list(items)).decode(),)


def op_replay(
    conn: sqlite3.Connection, _state: object, step: str, items: Sequence[str] | None, now: int
) -> int:
    which, args = _chosen(items)
    conn.execute(
        "INSERT OR IGNORE INTO retries SELECT step, item, payload, 0, ?, errors, created "
        f"FROM dead_letters WHERE step = ?{which}",
        (now, step, *args),
    )
    return conn.execute(f"DELETE FROM dead_letters WHERE step = ?{which}", (step, *args)).rowcount


def op_purge(
    conn: sqlite3.Connection, _state: object, step: str, items: Sequence[str] | None
) -> int:
    which, args = _chosen(items)
    return conn.execute(f"DELETE FROM dead_letters WHERE step = ?{which}", (step, *args)).rowcount


def admin(settings: Settings, op, *args):
    """Runs a directory write op directly on the file (admin commands; server or not)."""
    path = Path(settings.data_dir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return run_once(path, migrations.DIRECTORY, op, *args)
    except sqlite3.Error as exc:  # pragma: no cover - run_once translates
        raise StorageError(str(exc)) from exc


def admin_read(settings: Settings, op, *args):
    """Runs a directory read op directly on the file (admin commands)."""
    path = Path(settings.data_dir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return run_once(path, migrations.DIRECTORY, lambda conn, _s, *a: op(conn, *a), *args)


def _dnd(row: tuple) -> tuple[str, Dnd]:
    schedule = None
    if row[2] is not None and row[3] is not None:
        schedule = Schedule(row[2], row[3], row[4] or "UTC")
    return row[0], Dnd(row[1], schedule, row[5])


def q_dnd(conn: sqlite3.Connection, user_ids: list[str]) -> dict[str, Dnd]:
    rows = conn.execute(
        "SELECT user_id, snooze_until, start_min, end_min, tz, off_until FROM dnd "
        "WHERE user_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(user_ids).decode(),),
    ).fetchall()
    return dict(_dnd(r) for r in rows)


def op_set_dnd(conn: sqlite3.Connection, _state: object, user_id: str, dnd: Dnd) -> None:
    s = dnd.schedule
    conn.execute(
        "INSERT INTO dnd (user_id, snooze_until, start_min, end_min, tz, off_until) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "snooze_until = excluded.snooze_until, start_min = excluded.start_min, "
        "end_min = excluded.end_min, tz = excluded.tz, off_until = excluded.off_until",
        (user_id, dnd.snooze_until, s and s.start, s and s.end, s and s.tz, dnd.off_until),
    )


def q_devices(conn: sqlite3.Connection, user_ids: list[str]) -> list[Device]:
    rows = conn.execute(
        "SELECT platform, token, user_id, created FROM devices "
        "WHERE user_id IN (SELECT value FROM json_each(?)) ORDER BY created",
        (orjson.dumps(user_ids).decode(),),
    ).fetchall()
    return [Device(*r) for r in rows]


def op_add_device(conn: sqlite3.Connection, _state: object, device: Device, most: int) -> bool:
    others = conn.execute(
        "SELECT COUNT(*) FROM devices WHERE user_id = ? AND NOT (platform = ? AND token = ?)",
        (device.user_id, device.platform, device.token),
    ).fetchone()[0]
    if others >= most:
        return False
    conn.execute(
        "INSERT INTO devices VALUES (?, ?, ?, ?) ON CONFLICT (platform, token) DO UPDATE SET "
        "user_id = excluded.user_id, created = excluded.created",
        (device.platform, device.token, device.user_id, device.created),
    )
    return True


def op_remove_device(
    conn: sqlite3.Connection, _state: object, platform: str, token: str, user_id: str | None
) -> bool:
    owner = "" if user_id is None else " AND user_id = ?"
    args = (platform, token) if user_id is None else (platform, token, user_id)
    return (
        conn.execute(f"DELETE FROM devices WHERE platform = ? AND token = ?{owner}", args).rowcount
        > 0
    )


def q_push_prefs(conn: sqlite3.Connection, user_ids: list[str] | None) -> dict[str, Prefs]:
    sql = "SELECT user_id, level, keywords, muted FROM push_prefs"
    if user_ids is None:
        rows = conn.execute(sql).fetchall()
    else:
        where = " WHERE user_id IN (SELECT value FROM json_each(?))"
        rows = conn.execute(sql + where, (orjson.dumps(user_ids).decode(),)).fetchall()
    return {r[0]: decode_prefs(*r[1:]) for r in rows}


def op_set_push_prefs(conn: sqlite3.Connection, _state: object, user_id: str, p: Prefs) -> None:
    conn.execute(
        "INSERT INTO push_prefs VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "level = excluded.level, keywords = excluded.keywords, muted = excluded.muted",
        (user_id, *encode_prefs(p)),
    )


def op_hold_pushes(
    conn: sqlite3.Connection, _state: object, held: list[tuple[str, Notice]]
) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO push_held VALUES (?, ?, ?, ?)",
        [(user, n.channel, n.ts, encode_notice(n)) for user, n in held],
    )


def q_held_users(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT user_id FROM push_held")]


def op_take_held(conn: sqlite3.Connection, _state: object, user_id: str) -> list[Notice]:
    rows = conn.execute(
        "DELETE FROM push_held WHERE user_id = ? RETURNING notice", (user_id,)
    ).fetchall()
    return decode_notices(r[0] for r in rows)


def op_set_event_app(conn: sqlite3.Connection, _state: object, app: EventApp, now: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO event_apps VALUES (?, ?, ?, ?, ?)",
        (app.user_id, app.team_id, app.request_url, app.signing_secret, now),
    )


def op_set_unfurl_domains(
    conn: sqlite3.Connection,
    _state: object,
    user_id: str,
    team_id: str,
    domains: Sequence[str],
    now: int,
) -> None:
    conn.execute(UNFURL_DOMAINS_CLEAR.format(p="?"), (user_id,))
    conn.executemany(UNFURL_DOMAIN_PUT.format(p="?"), [(user_id, team_id, d, now) for d in domains])


def q_app_parts(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every app's registrations (``parley app list``), by part of :data:`APP_PARTS`."""
    return {part: conn.execute(app_part_query(part)).fetchall() for part in APP_PARTS}


def op_remove_app_parts(
    conn: sqlite3.Connection, _state: object, user_id: str, parts: Sequence[str]
) -> int:
    """Forgets the bot's registrations of ``parts`` (``parley app remove``); how many."""
    return sum(conn.execute(app_part_delete(part, "?"), (user_id,)).rowcount for part in parts)


def op_close_conversation(
    conn: sqlite3.Connection, _state: object, user_id: str, channel_id: str, seq: int
) -> None:
    conn.execute(CLOSE_QUERY.format(p="?"), (user_id, channel_id, seq))


def op_reopen_conversation(
    conn: sqlite3.Connection, _state: object, user_id: str, channel_id: str
) -> bool:
    return conn.execute(REOPEN_QUERY.format(p="?"), (user_id, channel_id)).rowcount > 0


def q_closed_conversations(conn: sqlite3.Connection, user_id: str) -> dict[str, int]:
    return dict(conn.execute(CLOSED_QUERY.format(p="?"), (user_id,)).fetchall())


def q_unfurl_domains(conn: sqlite3.Connection) -> list[AppDomain]:
    return [AppDomain(*r) for r in conn.execute(UNFURL_DOMAINS_QUERY)]


def q_event_apps(conn: sqlite3.Connection) -> list[EventApp]:
    rows = conn.execute(
        "SELECT user_id, team_id, request_url, signing_secret FROM event_apps ORDER BY user_id"
    ).fetchall()
    return [EventApp(*r) for r in rows]


def op_set_command(conn: sqlite3.Connection, _state: object, cmd: AppCommand, now: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO app_commands VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (*command_row(cmd), now),
    )


def q_commands(conn: sqlite3.Connection, team_id: str) -> list[AppCommand]:
    rows = conn.execute(
        f"SELECT {COMMAND_COLUMNS} FROM app_commands WHERE team_id = ? ORDER BY command",
        (team_id,),
    ).fetchall()
    return [AppCommand(*r) for r in rows]


def q_app_secret(conn: sqlite3.Connection, user_id: str) -> str | None:
    row = conn.execute(app_secret_query("?"), (user_id,) * len(SECRET_TABLES)).fetchone()
    return row[0] if row else None


def op_set_interactivity(conn: sqlite3.Connection, _state: object, app: EventApp, now: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO app_interactivity VALUES (?, ?, ?, ?, ?)",
        (app.user_id, app.team_id, app.request_url, app.signing_secret, now),
    )


def q_interactivity(conn: sqlite3.Connection, user_id: str) -> EventApp | None:
    row = conn.execute(endpoint_query("app_interactivity", "?"), (user_id,)).fetchone()
    return EventApp(*row) if row else None


def q_bot_user(conn: sqlite3.Connection, bot_id: str) -> User | None:
    row = conn.execute(f"SELECT {_USER_COLS} FROM users WHERE bot_id = ?", (bot_id,)).fetchone()
    return user_from_row(row) if row else None


def q_user_by_email(conn: sqlite3.Connection, team_id: str, email: str) -> User | None:
    if not email:
        return None
    row = conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE team_id = ? AND email = ? AND deleted = 0",
        (team_id, email),
    ).fetchone()
    return user_from_row(row) if row else None


def op_set_away(conn: sqlite3.Connection, _state: object, user_id: str, away: bool) -> None:
    conn.execute("UPDATE users SET away = ? WHERE id = ?", (int(away), user_id))


def q_away_users(conn: sqlite3.Connection, team_id: str) -> set[str]:
    rows = conn.execute(
        "SELECT id FROM users WHERE team_id = ? AND away = 1 AND deleted = 0", (team_id,)
    ).fetchall()
    return {r[0] for r in rows}


def op_set_avatar(
    conn: sqlite3.Connection,
    _state: object,
    user_id: str,
    photo: tuple[str, bytes, str] | None,
    now: int,
) -> User | None:
    """The person's photo ``(media type, bytes, its path)``, or none: kept, and its path
    in their profile, in one transaction; the user as they now are."""
    user = q_user(conn, user_id)
    if user is None:
        return None
    if photo is None:
        conn.execute(avatar_rows.REMOVE.format(p="?"), (user_id,))
    else:
        kind, data, _url = photo
        conn.execute(avatar_rows.PUT.format(p="?"), (user_id, user.team_id, kind, data, now))
    profile = profiles.with_image(user.profile, photo[2] if photo else None)
    conn.execute(avatar_rows.PROFILE_SET.format(p="?"), (profile, user_id))
    return q_user(conn, user_id)


def q_avatar(conn: sqlite3.Connection, user_id: str) -> tuple[str, str, bytes] | None:
    row = conn.execute(avatar_rows.IMAGE_QUERY.format(p="?"), (user_id,)).fetchone()
    return None if row is None else (row[0], row[1], bytes(row[2]))


def op_edit_profile(
    conn: sqlite3.Connection, _state: object, user_id: str, changes: dict[str, Any]
) -> User | None:
    user = q_user(conn, user_id)  # the single writer: nothing changes it meanwhile
    if user is None:
        return None
    real_name, profile = profiles.edit(user.real_name, user.profile, changes)
    conn.execute(
        "UPDATE users SET real_name = ?, profile = ? WHERE id = ?", (real_name, profile, user_id)
    )
    return q_user(conn, user_id)


def op_add_pin(conn: sqlite3.Connection, _state: object, pin: Pin, most: int) -> str | None:
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM pins WHERE channel_id = ?", (pin.channel_id,)
    ).fetchone()
    if count >= most:
        return "too_many_pins"
    added = conn.execute(
        "INSERT OR IGNORE INTO pins VALUES (?, ?, ?, ?)",
        (pin.channel_id, pin.ts, pin.user_id, pin.created),
    )
    return None if added.rowcount == 1 else "already_pinned"


def op_remove_pin(conn: sqlite3.Connection, _state: object, channel_id: str, ts: int) -> bool:
    gone = conn.execute("DELETE FROM pins WHERE channel_id = ? AND ts = ?", (channel_id, ts))
    return gone.rowcount == 1


def q_pins(conn: sqlite3.Connection, channel_id: str) -> list[Pin]:
    rows = conn.execute(PINS_QUERY.format(p="?"), (channel_id,)).fetchall()
    return [Pin(*r) for r in rows]


def op_add_command_response(
    conn: sqlite3.Connection, _state: object, token_hash: str, r: CommandResponse, now: int
) -> None:
    conn.execute("DELETE FROM command_responses WHERE expires < ?", (now,))
    conn.execute(
        "INSERT INTO command_responses VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        (token_hash, r.team_id, r.channel_id, r.user_id, r.app_user_id, r.expires, r.message_ts),
    )


def op_use_command_response(
    conn: sqlite3.Connection, _state: object, token_hash: str, now: int, most: int
) -> CommandResponse | None:
    used = conn.execute(
        "UPDATE command_responses SET uses = uses + 1 "
        "WHERE token_hash = ? AND expires > ? AND uses < ?",
        (token_hash, now, most),
    )
    if used.rowcount != 1:
        return None
    row = conn.execute(
        "SELECT team_id, channel_id, user_id, app_user_id, expires, message_ts "
        "FROM command_responses "
        "WHERE token_hash = ?",
        (token_hash,),
    ).fetchone()
    return CommandResponse(*row)


def op_set_password(conn: sqlite3.Connection, _state: object, user_id: str, stored: str) -> None:
    conn.execute("UPDATE users SET password = ? WHERE id = ?", (stored, user_id))


def op_set_deleted(
    conn: sqlite3.Connection, _state: object, user_id: str, deleted: bool, notice: Retry
) -> None:
    """Deactivates the user (their web sessions revoked, their phones forgotten) or makes
    them active again, and records ``notice`` for the nodes, in one transaction."""
    conn.execute(accounts.SET_DELETED.format(p="?"), (int(deleted), user_id))
    if deleted:
        conn.execute(accounts.END_SESSIONS.format(p="?"), (user_id,))
        conn.execute(accounts.FORGET_DEVICES.format(p="?"), (user_id,))
    op_retry_later(conn, _state, notice)


def op_end_sessions(conn: sqlite3.Connection, _state: object, user_id: str, notice: Retry) -> int:
    """Revokes the user's web sessions and records ``notice``; how many were live."""
    ended = conn.execute(accounts.END_SESSIONS.format(p="?"), (user_id,)).rowcount
    op_retry_later(conn, _state, notice)
    return ended


def q_token_keys(conn: sqlite3.Connection, user_id: str, sessions: bool) -> list[bytes]:
    sql = accounts.SESSION_KEYS if sessions else accounts.TOKEN_KEYS
    return [r[0] for r in conn.execute(sql.format(p="?"), (user_id,)).fetchall()]


def q_logins(conn: sqlite3.Connection, name: str) -> list[tuple[User, Team, str | None]]:
    """Every live user called ``name`` (one per workspace), its workspace and password."""
    cols = ", ".join("u." + c.strip() for c in _USER_COLS.split(","))
    rows = conn.execute(
        f"SELECT {cols}, t.id, t.name, t.domain, t.created, u.password "
        "FROM users u JOIN teams t ON t.id = u.team_id WHERE u.name = ? AND u.deleted = 0",
        (name,),
    ).fetchall()
    n = len(_USER_COLS.split(","))
    return [(user_from_row(r[:n]), Team(*r[n : n + 4]), r[-1]) for r in rows]


def op_add_token(
    conn: sqlite3.Connection,
    _state: object,
    user_id: str,
    token_hash: bytes,
    now: int,
    scopes: str | None = None,
    session: bool = False,
    app: str = "",
) -> None:
    conn.execute(
        "INSERT INTO tokens (hash, user_id, created, scopes, session, app) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash, user_id, now, scopes, int(session), app),
    )


def q_user_by_name(conn: sqlite3.Connection, team_id: str, name: str) -> User | None:
    row = conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE team_id = ? AND name = ?", (team_id, name)
    ).fetchone()
    return user_from_row(row) if row else None


def q_all_channels(conn: sqlite3.Connection, team_id: str, after: str, limit: int) -> Page:
    rows = conn.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE team_id = ? AND id > ? ORDER BY id LIMIT ?",
        (team_id, after, limit + 1),
    ).fetchall()
    return Page(tuple(_channel(r) for r in rows[:limit]), len(rows) > limit)


def q_channel_by_name(conn: sqlite3.Connection, team_id: str, name: str) -> Channel | None:
    row = conn.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE team_id = ? AND name = ?", (team_id, name)
    ).fetchone()
    return _channel(row) if row else None
