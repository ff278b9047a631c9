"""The directory on MySQL: workspaces, users, tokens, channels and memberships in one
database (``PARLEY_DIRECTORY_URL``, by default the first shard's), shared by a fleet.

Write ops are ``async op(cursor, state, ...)`` and read ops ``async q(cursor, ...)``,
named as in :mod:`parley.storage.sqlite.directory` so :mod:`parley.admin` runs the same
commands on either backend (:func:`admin`, :func:`admin_read`). Each write is its own
short transaction on a pooled connection (directory writes are rare next to messages;
there is no group commit here); deadlocks are retried.

The ``meta`` table also records the shard map: ``shards`` (the count the messages were
placed with), ``shard_map`` (the shards' URLs without passwords, for ``parley shards
list``) and, while ``parley shards add`` runs, ``shard_move``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from asyncmy.errors import IntegrityError

from parley.config import Settings
from parley.errors import ApiError, Code
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
from parley.storage.mysql import bookmarks as bookmark_ops
from parley.storage.mysql import db, migrations
from parley.storage.mysql import emoji as emoji_ops
from parley.storage.mysql import files as file_ops
from parley.storage.mysql import groups as group_ops
from parley.storage.mysql import retention as retention_ops
from parley.storage.mysql import stars as star_ops
from parley.storage.mysql import views as view_ops
from parley.storage.mysql.oauth import (  # noqa: F401 - the admin's
    op_add_oauth_grant,
    op_set_oauth_app,
    op_take_oauth_grant,
    op_uninstall_app,
    q_oauth_app,
    q_oauth_app_of,
)
from parley.storage.mysql.urls import DbUrl, topology
from parley.storage.mysql.views import op_set_shortcut  # noqa: F401 - the admin's

_USER_COLS = USER_COLUMNS
_CHANNEL_COLS = CHANNEL_COLUMNS


def _channel(row: Sequence) -> Channel:
    return channel_from_row(row)


def _prefixed(cols: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in cols.split(","))


# -- the shard map ---------------------------------------------------------------------------


async def q_meta(cur: Any, key: str) -> str | None:
    await cur.execute("SELECT value FROM meta WHERE `key` = %s", (key,))
    row = await cur.fetchone()
    return row[0] if row else None


async def op_set_meta(cur: Any, _state: object, values: dict[str, str | None]) -> None:
    """Sets (or, for ``None``, removes) ``meta`` keys in one transaction."""
    for key, value in values.items():
        if value is None:
            await cur.execute("DELETE FROM meta WHERE `key` = %s", (key,))
        else:
            await cur.execute(
                "INSERT INTO meta (`key`, value) VALUES (%s, %s) "
                "ON DUPLICATE KEY UPDATE value = VALUES(value)",
                (key, value),
            )


def shard_map_meta(shards: Sequence[DbUrl]) -> dict[str, str | None]:
    """The ``meta`` values that record ``shards`` as the map (and end any move)."""
    return {
        "shards": str(len(shards)),
        "shard_map": json.dumps([s.redacted() for s in shards]),
        "shard_move": None,
    }


# -- write ops -------------------------------------------------------------------------------


async def op_create_team(cur: Any, _state: object, team: Team) -> Team:
    try:
        await cur.execute(
            "INSERT INTO teams (id, name, domain, created) VALUES (%s, %s, %s, %s)",
            (team.id, team.name, team.domain, team.created),
        )
    except IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    return team


async def op_create_user(
    cur: Any,
    _state: object,
    user: User,
    token_hash: bytes,
    scopes: str | None = None,
    notice: Retry | None = None,
) -> User:
    """As :func:`parley.storage.sqlite.directory.op_create_user`."""
    await cur.execute("SELECT 1 FROM teams WHERE id = %s", (user.team_id,))
    if await cur.fetchone() is None:
        raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": f"no workspace {user.team_id}"})
    try:
        await cur.execute(
            f"INSERT INTO users ({_USER_COLS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0)",
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
    except IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    await cur.execute(
        "INSERT INTO tokens (hash, user_id, created, scopes) VALUES (%s, %s, %s, %s)",
        (token_hash, user.id, user.created, scopes),
    )
    if notice is not None:
        await op_retry_later(cur, _state, notice)
    return user


async def op_revoke_token(cur: Any, _state: object, token_hash: bytes) -> bool:
    await cur.execute(
        "UPDATE tokens SET revoked = 1 WHERE hash = %s AND revoked = 0", (token_hash,)
    )
    return cur.rowcount > 0


async def op_add_token(
    cur: Any,
    _state: object,
    user_id: str,
    token_hash: bytes,
    now: int,
    scopes: str | None = None,
    session: bool = False,
    app: str = "",
) -> None:
    await cur.execute(
        "INSERT INTO tokens (hash, user_id, created, scopes, session, app) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (token_hash, user_id, now, scopes, int(session), app),
    )


async def op_set_event_app(cur: Any, _state: object, app: EventApp, now: int) -> None:
    await cur.execute(
        "REPLACE INTO event_apps VALUES (%s, %s, %s, %s, %s)",
        (app.user_id, app.team_id, app.request_url, app.signing_secret, now),
    )


async def op_set_unfurl_domains(
    cur: Any, _state: object, user_id: str, team_id: str, domains: Sequence[str], now: int
) -> None:
    await cur.execute(UNFURL_DOMAINS_CLEAR.format(p="%s"), (user_id,))
    if domains:
        await cur.executemany(
            UNFURL_DOMAIN_PUT.format(p="%s"), [(user_id, team_id, d, now) for d in domains]
        )


async def q_app_parts(cur: Any) -> dict[str, list[tuple]]:
    """Every app's registrations (``parley app list``), by part of :data:`APP_PARTS`."""
    out: dict[str, list[tuple]] = {}
    for part in APP_PARTS:
        await cur.execute(app_part_query(part))
        out[part] = [tuple(r) for r in await cur.fetchall()]
    return out


async def op_remove_app_parts(cur: Any, _state: object, user_id: str, parts: Sequence[str]) -> int:
    """Forgets the bot's registrations of ``parts`` (``parley app remove``); how many."""
    removed = 0
    for part in parts:
        await cur.execute(app_part_delete(part, "%s"), (user_id,))
        removed += cur.rowcount
    return removed


async def op_close_conversation(
    cur: Any, _state: object, user_id: str, channel_id: str, seq: int
) -> None:
    await cur.execute(CLOSE_QUERY.format(p="%s"), (user_id, channel_id, seq))


async def op_reopen_conversation(cur: Any, _state: object, user_id: str, channel_id: str) -> bool:
    await cur.execute(REOPEN_QUERY.format(p="%s"), (user_id, channel_id))
    return cur.rowcount > 0


async def q_closed_conversations(cur: Any, user_id: str) -> dict[str, int]:
    await cur.execute(CLOSED_QUERY.format(p="%s"), (user_id,))
    return {r[0]: r[1] for r in await cur.fetchall()}


async def q_unfurl_domains(cur: Any) -> list[AppDomain]:
    await cur.execute(UNFURL_DOMAINS_QUERY)
    return [AppDomain(*r) for r in await cur.fetchall()]


async def q_event_apps(cur: Any) -> list[EventApp]:
    await cur.execute(
        "SELECT user_id, team_id, request_url, signing_secret FROM event_apps ORDER BY user_id"
    )
    return [EventApp(*r) for r in await cur.fetchall()]


async def op_set_command(cur: Any, _state: object, cmd: AppCommand, now: int) -> None:
    await cur.execute(
        "REPLACE INTO app_commands VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (*command_row(cmd), now),
    )


async def q_commands(cur: Any, team_id: str) -> list[AppCommand]:
    await cur.execute(
        f"SELECT {COMMAND_COLUMNS} FROM app_commands WHERE team_id = %s ORDER BY command",
        (team_id,),
    )
    return [AppCommand(*r) for r in await cur.fetchall()]


async def q_app_secret(cur: Any, user_id: str) -> str | None:
    await cur.execute(app_secret_query("%s"), (user_id,) * len(SECRET_TABLES))
    row = await cur.fetchone()
    return row[0] if row else None


async def op_set_interactivity(cur: Any, _state: object, app: EventApp, now: int) -> None:
    await cur.execute(
        "REPLACE INTO app_interactivity VALUES (%s, %s, %s, %s, %s)",
        (app.user_id, app.team_id, app.request_url, app.signing_secret, now),
    )


async def q_interactivity(cur: Any, user_id: str) -> EventApp | None:
    await cur.execute(endpoint_query("app_interactivity", "%s"), (user_id,))
    row = await cur.fetchone()
    return EventApp(*row) if row else None


async def q_bot_user(cur: Any, bot_id: str) -> User | None:
    await cur.execute(f"SELECT {_USER_COLS} FROM users WHERE bot_id = %s", (bot_id,))
    row = await cur.fetchone()
    return user_from_row(row) if row else None


async def q_user_by_email(cur: Any, team_id: str, email: str) -> User | None:
    if not email:
        return None
    await cur.execute(
        f"SELECT {_USER_COLS} FROM users WHERE team_id = %s AND email = %s AND deleted = 0",
        (team_id, email),
    )
    row = await cur.fetchone()
    return user_from_row(row) if row else None


async def op_set_away(cur: Any, _state: object, user_id: str, away: bool) -> None:
    await cur.execute("UPDATE users SET away = %s WHERE id = %s", (int(away), user_id))


async def q_away_users(cur: Any, team_id: str) -> set[str]:
    await cur.execute(
        "SELECT id FROM users WHERE team_id = %s AND away = 1 AND deleted = 0", (team_id,)
    )
    return {r[0] for r in await cur.fetchall()}


async def op_edit_profile(
    cur: Any, _state: object, user_id: str, changes: dict[str, Any]
) -> User | None:
    await cur.execute(f"SELECT {_USER_COLS} FROM users WHERE id = %s FOR UPDATE", (user_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    user = user_from_row(row)
    real_name, profile = profiles.edit(user.real_name, user.profile, changes)
    await cur.execute(
        "UPDATE users SET real_name = %s, profile = %s WHERE id = %s",
        (real_name, profile, user_id),
    )
    return await q_user(cur, user_id)


async def op_set_avatar(
    cur: Any, _state: object, user_id: str, photo: tuple[str, bytes, str] | None, now: int
) -> User | None:
    """The person's photo ``(media type, bytes, its path)``, or none: kept, and its path
    in their profile, in one transaction; the user as they now are."""
    await cur.execute(f"SELECT {_USER_COLS} FROM users WHERE id = %s FOR UPDATE", (user_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    user = user_from_row(row)
    if photo is None:
        await cur.execute(avatar_rows.REMOVE.format(p="%s"), (user_id,))
    else:
        kind, data, _url = photo
        await cur.execute(avatar_rows.PUT.format(p="%s"), (user_id, user.team_id, kind, data, now))
    profile = profiles.with_image(user.profile, photo[2] if photo else None)
    await cur.execute(avatar_rows.PROFILE_SET.format(p="%s"), (profile, user_id))
    return await q_user(cur, user_id)


async def q_avatar(cur: Any, user_id: str) -> tuple[str, str, bytes] | None:
    await cur.execute(avatar_rows.IMAGE_QUERY.format(p="%s"), (user_id,))
    row = await cur.fetchone()
    return None if row is None else (row[0], row[1], bytes(row[2]))


async def op_add_pin(cur: Any, _state: object, pin: Pin, most: int) -> str | None:
    await cur.execute(
        "SELECT COUNT(*) FROM pins WHERE channel_id = %s FOR UPDATE", (pin.channel_id,)
    )
    (count,) = await cur.fetchone()
    if count >= most:
        return "too_many_pins"
    await cur.execute(
        "INSERT IGNORE INTO pins VALUES (%s, %s, %s, %s)",
        (pin.channel_id, pin.ts, pin.user_id, pin.created),
    )
    return None if cur.rowcount == 1 else "already_pinned"


async def op_remove_pin(cur: Any, _state: object, channel_id: str, ts: int) -> bool:
    await cur.execute("DELETE FROM pins WHERE channel_id = %s AND ts = %s", (channel_id, ts))
    return cur.rowcount == 1


async def q_pins(cur: Any, channel_id: str) -> list[Pin]:
    await cur.execute(PINS_QUERY.format(p="%s"), (channel_id,))
    return [Pin(*r) for r in await cur.fetchall()]


async def op_add_command_response(
    cur: Any, _state: object, token_hash: str, r: CommandResponse, now: int
) -> None:
    await cur.execute("DELETE FROM command_responses WHERE expires < %s", (now,))
    await cur.execute(
        "INSERT INTO command_responses VALUES (%s, %s, %s, %s, %s, %s, %s, 0)",
        (token_hash, r.team_id, r.channel_id, r.user_id, r.app_user_id, r.expires, r.message_ts),
    )


async def op_use_command_response(
    cur: Any, _state: object, token_hash: str, now: int, most: int
) -> CommandResponse | None:
    await cur.execute(
        "UPDATE command_responses SET uses = uses + 1 "
        "WHERE token_hash = %s AND expires > %s AND uses < %s",
        (token_hash, now, most),
    )
    if cur.rowcount != 1:
        return None
    await cur.execute(
        "SELECT team_id, channel_id, user_id, app_user_id, expires, message_ts "
        "FROM command_responses "
        "WHERE token_hash = %s",
        (token_hash,),
    )
    return CommandResponse(*(await cur.fetchone()))


async def op_set_password(cur: Any, _state: object, user_id: str, stored: str) -> None:
    await cur.execute("UPDATE users SET password = %s WHERE id = %s", (stored, user_id))


async def op_set_deleted(
    cur: Any, _state: object, user_id: str, deleted: bool, notice: Retry
) -> None:
    """As :func:`parley.storage.sqlite.directory.op_set_deleted`."""
    await cur.execute(accounts.SET_DELETED.format(p="%s"), (int(deleted), user_id))
    if deleted:
        await cur.execute(accounts.END_SESSIONS.format(p="%s"), (user_id,))
        await cur.execute(accounts.FORGET_DEVICES.format(p="%s"), (user_id,))
    await op_retry_later(cur, _state, notice)


async def op_end_sessions(cur: Any, _state: object, user_id: str, notice: Retry) -> int:
    await cur.execute(accounts.END_SESSIONS.format(p="%s"), (user_id,))
    ended = cur.rowcount
    await op_retry_later(cur, _state, notice)
    return ended


async def q_token_keys(cur: Any, user_id: str, sessions: bool) -> list[bytes]:
    sql = accounts.SESSION_KEYS if sessions else accounts.TOKEN_KEYS
    await cur.execute(sql.format(p="%s"), (user_id,))
    return [bytes(r[0]) for r in await cur.fetchall()]


async def op_create_channel(cur: Any, _state: object, ch: Channel) -> Channel:
    try:
        await cur.execute(
            f"INSERT INTO channels ({_CHANNEL_COLS}) VALUES ({', '.join(['%s'] * CHANNEL_WIDTH)})",
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
    except IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    await cur.execute(
        "INSERT INTO members (channel_id, user_id, joined) VALUES (%s, %s, %s)",
        (ch.id, ch.creator, ch.created),
    )
    return ch


async def op_set_archived(cur: Any, _state: object, channel_id: str, archived: bool) -> None:
    await cur.execute(
        "UPDATE channels SET is_archived = %s WHERE id = %s", (int(archived), channel_id)
    )


async def op_mark_read(cur: Any, _state: object, channel_id: str, user_id: str, ts: int) -> bool:
    await cur.execute(
        "SELECT 1 FROM members WHERE channel_id = %s AND user_id = %s",
        (channel_id, user_id),
    )
    if await cur.fetchone() is None:
        return False
    await cur.execute(
        "UPDATE members SET last_read = %s WHERE channel_id = %s AND user_id = %s",
        (ts, channel_id, user_id),
    )
    return True


async def q_last_read(cur: Any, channel_id: str, user_id: str) -> int | None:
    await cur.execute(
        "SELECT last_read FROM members WHERE channel_id = %s AND user_id = %s",
        (channel_id, user_id),
    )
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def op_update_channel(
    cur: Any,
    _state: object,
    channel_id: str,
    name: str | None,
    topic: str | None,
    purpose: str | None,
) -> Channel | None:
    try:
        await cur.execute(
            "UPDATE channels SET name = COALESCE(%s, name), topic = COALESCE(%s, topic), "
            "purpose = COALESCE(%s, purpose) WHERE id = %s",
            (name, topic, purpose, channel_id),
        )
    except IntegrityError as exc:
        raise ApiError(Code.NAME_TAKEN) from exc
    return await q_channel(cur, channel_id)


async def op_add_members(
    cur: Any, _state: object, channel_id: str, user_ids: Sequence[str], now: int
) -> list[str]:
    added = []
    for uid in user_ids:
        await cur.execute(
            "INSERT INTO members (channel_id, user_id, joined) VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE user_id = user_id",
            (channel_id, uid, now),
        )
        if cur.rowcount:
            added.append(uid)
    return added


async def op_remove_member(cur: Any, _state: object, channel_id: str, user_id: str) -> bool:
    await cur.execute(
        "DELETE FROM members WHERE channel_id = %s AND user_id = %s", (channel_id, user_id)
    )
    return cur.rowcount > 0


async def op_set_dnd(cur: Any, _state: object, user_id: str, dnd: Dnd) -> None:
    s = dnd.schedule
    await cur.execute(
        "INSERT INTO dnd (user_id, snooze_until, start_min, end_min, tz, off_until) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
        "snooze_until = VALUES(snooze_until), start_min = VALUES(start_min), "
        "end_min = VALUES(end_min), tz = VALUES(tz), off_until = VALUES(off_until)",
        (user_id, dnd.snooze_until, s and s.start, s and s.end, s and s.tz, dnd.off_until),
    )


def _token_key(token: str) -> bytes:
    """The primary key of a device token (tokens are too long for an index)."""
    return hashlib.sha256(token.encode()).digest()


async def op_add_device(cur: Any, _state: object, device: Device, most: int) -> bool:
    key = _token_key(device.token)
    await cur.execute(
        "SELECT COUNT(*) FROM devices "
        "WHERE user_id = %s AND NOT (platform = %s AND token_key = %s)",
        (device.user_id, device.platform, key),
    )
    if int((await cur.fetchone())[0]) >= most:
        return False
    await cur.execute(
        "INSERT INTO devices VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
        "user_id = VALUES(user_id), created = VALUES(created)",
        (device.platform, device.token, device.user_id, device.created, key),
    )
    return True


async def op_remove_device(
    cur: Any, _state: object, platform: str, token: str, user_id: str | None
) -> bool:
    owner = "" if user_id is None else " AND user_id = %s"
    args = [platform, _token_key(token)] + ([] if user_id is None else [user_id])
    await cur.execute(f"DELETE FROM devices WHERE platform = %s AND token_key = %s{owner}", args)
    return cur.rowcount > 0


async def op_set_push_prefs(cur: Any, _state: object, user_id: str, p: Prefs) -> None:
    await cur.execute(
        "INSERT INTO push_prefs VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
        "level = VALUES(level), keywords = VALUES(keywords), muted = VALUES(muted)",
        (user_id, *encode_prefs(p)),
    )


async def op_hold_pushes(cur: Any, _state: object, held: list[tuple[str, Notice]]) -> None:
    await cur.executemany(
        "INSERT IGNORE INTO push_held VALUES (%s, %s, %s, %s)",
        [(user, n.channel, n.ts, encode_notice(n)) for user, n in held],
    )


async def op_take_held(cur: Any, _state: object, user_id: str) -> list[Notice]:
    await cur.execute("SELECT notice FROM push_held WHERE user_id = %s FOR UPDATE", (user_id,))
    rows = await cur.fetchall()
    await cur.execute("DELETE FROM push_held WHERE user_id = %s", (user_id,))
    return decode_notices(r[0] for r in rows)


# -- retries and dead letters (parley.resilience) ------------------------------------------


def _retry(row: Sequence) -> Retry:
    return Retry(
        row[0],
        row[1],
        bytes(row[2]),
        int(row[3]),
        int(row[4]),
        tuple(json.loads(row[5])),
        int(row[6]),
    )


def _letter(row: Sequence) -> DeadLetter:
    return DeadLetter(
        row[0],
        row[1],
        bytes(row[2]),
        int(row[3]),
        tuple(json.loads(row[4])),
        int(row[5]),
        int(row[6]),
    )


async def op_retry_later(cur: Any, _state: object, r: Retry) -> None:
    await cur.execute(
        "REPLACE INTO retries VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (r.step, r.item, r.payload, r.attempts, r.next_at, json.dumps(list(r.errors)), r.created),
    )


async def op_claim_due(
    cur: Any, _state: object, step: str, now: int, limit: int, lease: int
) -> list[Retry]:
    await cur.execute(
        "SELECT step, item, payload, attempts, next_at, errors, created FROM retries "
        "WHERE step = %s AND next_at <= %s ORDER BY next_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (step, now, limit),
    )
    rows = await cur.fetchall()
    if rows:
        await cur.executemany(
            "UPDATE retries SET next_at = %s WHERE step = %s AND item = %s",
            [(lease, step, r[1]) for r in rows],
        )
    return [_retry(r) for r in rows]


async def q_waiting(cur: Any, step: str, prefix: str, after: str, limit: int) -> list[Retry]:
    await cur.execute(
        "SELECT step, item, payload, attempts, next_at, errors, created FROM retries "
        "WHERE step = %s AND item >= %s AND item < %s AND item > %s ORDER BY item LIMIT %s",
        (step, prefix, prefix + "\U0010ffff", after, limit),
    )
    return [_retry(r) for r in await cur.fetchall()]


async def op_retry_done(cur: Any, _state: object, step: str, item: str) -> None:
    await cur.execute("DELETE FROM retries WHERE step = %s AND item = %s", (step, item))


async def op_bury(cur: Any, _state: object, d: DeadLetter) -> None:
    await cur.execute("DELETE FROM retries WHERE step = %s AND item = %s", (d.step, d.item))
    await cur.execute(
        "REPLACE INTO dead_letters VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (d.step, d.item, d.payload, d.attempts, json.dumps(list(d.errors)), d.created, d.died),
    )


async def q_dead_letters(cur: Any, step: str | None, after: str, limit: int) -> list[DeadLetter]:
    await cur.execute(
        "SELECT step, item, payload, attempts, errors, created, died FROM dead_letters "
        "WHERE (%s IS NULL OR step = %s) AND CONCAT(step, '/', item) > %s "
        "ORDER BY step, item LIMIT %s",
        (step, step, after, limit),
    )
    return [_letter(r) for r in await cur.fetchall()]


async def q_dead_letter(cur: Any, step: str, item: str) -> DeadLetter | None:
    await cur.execute(
        "SELECT step, item, payload, attempts, errors, created, died FROM dead_letters "
        "WHERE step = %s AND item = %s",
        (step, item),
    )
    row = await cur.fetchone()
    return _letter(row) if row else None


async def q_retry_counts(cur: Any) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for table in ("retries", "dead_letters"):
        await cur.execute(f"SELECT step, COUNT(*) FROM {table} GROUP BY step")
        for step, n in await cur.fetchall():
            out[(step, table)] = int(n)
    return out


def _chosen(items: Sequence[str] | None) -> tuple[str, list]:
    if items is None:
        return "", []
    if not items:
        return " AND FALSE", []
    return f" AND item IN ({', '.join(['%s'] * len(items))})", list(items)


async def op_replay(
    cur: Any, _state: object, step: str, items: Sequence[str] | None, now: int
) -> int:
    which, args = _chosen(items)
    await cur.execute(
        "INSERT IGNORE INTO retries SELECT step, item, payload, 0, %s, errors, created "
        f"FROM dead_letters WHERE step = %s{which}",
        [now, step, *args],
    )
    await cur.execute(f"DELETE FROM dead_letters WHERE step = %s{which}", [step, *args])
    return cur.rowcount


async def op_purge(cur: Any, _state: object, step: str, items: Sequence[str] | None) -> int:
    which, args = _chosen(items)
    await cur.execute(f"DELETE FROM dead_letters WHERE step = %s{which}", [step, *args])
    return cur.rowcount


# -- read ops --------------------------------------------------------------------------------


async def q_teams(cur: Any) -> list[Team]:
    await cur.execute("SELECT id, name, domain, created FROM teams ORDER BY created, id")
    return [Team(*r) for r in await cur.fetchall()]


async def q_team(cur: Any, team_id: str) -> Team | None:
    await cur.execute("SELECT id, name, domain, created FROM teams WHERE id = %s", (team_id,))
    row = await cur.fetchone()
    return Team(*row) if row else None


async def q_caller_by_token(cur: Any, token_hash: bytes) -> Caller | None:
    await cur.execute(
        f"SELECT {_prefixed(_USER_COLS, 'u')}, t.scopes, t.revoked "
        "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = %s",
        (token_hash,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    scopes = None if row[-2] is None else frozenset(s for s in row[-2].split(",") if s)
    return Caller(user_from_row(row[:-2]), scopes, bool(row[-1]))


async def q_user(cur: Any, user_id: str) -> User | None:
    await cur.execute(f"SELECT {_USER_COLS} FROM users WHERE id = %s", (user_id,))
    row = await cur.fetchone()
    return user_from_row(row) if row else None


async def q_users(cur: Any, team_id: str, after: str, limit: int) -> Page:
    await cur.execute(
        f"SELECT {_USER_COLS} FROM users WHERE team_id = %s AND id > %s ORDER BY id LIMIT %s",
        (team_id, after, limit + 1),
    )
    rows = await cur.fetchall()
    return Page(tuple(user_from_row(r) for r in rows[:limit]), len(rows) > limit)


async def q_user_by_name(cur: Any, team_id: str, name: str) -> User | None:
    await cur.execute(
        f"SELECT {_USER_COLS} FROM users WHERE team_id = %s AND name = %s", (team_id, name)
    )
    row = await cur.fetchone()
    return user_from_row(row) if row else None


async def q_logins(cur: Any, name: str) -> list[tuple[User, Team, str | None]]:
    """Every live user called ``name`` (one per workspace), its workspace and password."""
    await cur.execute(
        f"SELECT {_prefixed(_USER_COLS, 'u')}, t.id, t.name, t.domain, t.created, u.password "
        "FROM users u JOIN teams t ON t.id = u.team_id WHERE u.name = %s AND u.deleted = 0",
        (name,),
    )
    n = len(_USER_COLS.split(","))
    return [(user_from_row(r[:n]), Team(*r[n : n + 4]), r[-1]) for r in await cur.fetchall()]


async def q_channel(cur: Any, channel_id: str) -> Channel | None:
    await cur.execute(f"SELECT {_CHANNEL_COLS} FROM channels WHERE id = %s", (channel_id,))
    row = await cur.fetchone()
    return _channel(row) if row else None


async def q_all_channels(cur: Any, team_id: str, after: str, limit: int) -> Page:
    await cur.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE team_id = %s AND id > %s ORDER BY id LIMIT %s",
        (team_id, after, limit + 1),
    )
    rows = await cur.fetchall()
    return Page(tuple(_channel(r) for r in rows[:limit]), len(rows) > limit)


async def q_channel_by_name(cur: Any, team_id: str, name: str) -> Channel | None:
    await cur.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE team_id = %s AND name = %s", (team_id, name)
    )
    row = await cur.fetchone()
    return _channel(row) if row else None


def _named(name: str) -> str:
    return f"%({name})s"


async def q_channels(
    cur: Any,
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
    await cur.execute(
        f"SELECT {_prefixed(_CHANNEL_COLS, 'c')}, "
        "(SELECT COUNT(*) FROM members m WHERE m.channel_id = c.id), "
        "EXISTS (SELECT 1 FROM members m WHERE m.channel_id = c.id AND m.user_id = %(shown)s) "
        "FROM channels c WHERE c.team_id = %(team)s AND c.id > %(after)s "
        f"AND {kinds} {archived} ORDER BY c.id LIMIT %(limit)s",
        {
            "team": team_id,
            "user": user_id,
            "viewer": viewer,
            "shown": viewer or user_id,
            "after": after,
            "limit": limit + 1,
        },
    )
    rows = await cur.fetchall()
    return Page(
        tuple(
            (_channel(r), int(r[CHANNEL_WIDTH]), bool(r[CHANNEL_WIDTH + 1])) for r in rows[:limit]
        ),
        len(rows) > limit,
    )


async def q_members(cur: Any, channel_id: str) -> frozenset[str]:
    await cur.execute("SELECT user_id FROM members WHERE channel_id = %s", (channel_id,))
    return frozenset(r[0] for r in await cur.fetchall())


async def q_dnd(cur: Any, user_ids: list[str]) -> dict[str, Dnd]:
    if not user_ids:
        return {}
    marks = ", ".join(["%s"] * len(user_ids))
    await cur.execute(
        "SELECT user_id, snooze_until, start_min, end_min, tz, off_until FROM dnd "
        f"WHERE user_id IN ({marks})",
        user_ids,
    )
    out = {}
    for r in await cur.fetchall():
        schedule = Schedule(int(r[2]), int(r[3]), r[4] or "UTC") if r[2] is not None else None
        out[r[0]] = Dnd(int(r[1]), schedule, int(r[5]))
    return out


async def q_devices(cur: Any, user_ids: list[str]) -> list[Device]:
    if not user_ids:
        return []
    marks = ", ".join(["%s"] * len(user_ids))
    await cur.execute(
        "SELECT platform, token, user_id, created FROM devices "
        f"WHERE user_id IN ({marks}) ORDER BY created",
        user_ids,
    )
    return [Device(r[0], r[1], r[2], int(r[3])) for r in await cur.fetchall()]


async def q_push_prefs(cur: Any, user_ids: list[str] | None) -> dict[str, Prefs]:
    sql = "SELECT user_id, level, keywords, muted FROM push_prefs"
    if user_ids is None:
        await cur.execute(sql)
    else:
        await cur.execute(
            sql + f" WHERE user_id IN ({', '.join(['%s'] * len(user_ids))})", user_ids
        )
    return {r[0]: decode_prefs(*r[1:]) for r in await cur.fetchall()}


async def q_held_users(cur: Any) -> list[str]:
    await cur.execute("SELECT DISTINCT user_id FROM push_held")
    return [r[0] for r in await cur.fetchall()]


async def q_member_channels(cur: Any, user_id: str) -> frozenset[str]:
    await cur.execute("SELECT channel_id FROM members WHERE user_id = %s", (user_id,))
    return frozenset(r[0] for r in await cur.fetchall())


async def q_members_page(cur: Any, channel_id: str, after: str, limit: int) -> Page:
    await cur.execute(
        "SELECT user_id FROM members WHERE channel_id = %s AND user_id > %s "
        "ORDER BY user_id LIMIT %s",
        (channel_id, after, limit + 1),
    )
    rows = await cur.fetchall()
    return Page(tuple(r[0] for r in rows[:limit]), len(rows) > limit)


# -- the backend -----------------------------------------------------------------------------


class MysqlDirectory:
    """:class:`~parley.storage.interface.Directory` in the database at ``url``."""

    def __init__(self, settings: Settings, url: DbUrl) -> None:
        self.url = url
        self._timeout = settings.mysql_timeout
        self._pool = db.Pool(url, size=settings.mysql_pool, timeout=settings.mysql_timeout)

    async def start(self) -> None:
        """Creates and migrates the database as needed."""
        await db.prepare(self.url, "directory", migrations.DIRECTORY, timeout=self._timeout)

    async def close(self) -> None:
        await self._pool.close()

    async def _read(self, q: Callable, *args: Any) -> Any:
        return await self._pool.run(q, *args)

    async def _write(self, op: Callable, *args: Any) -> Any:
        return await self._pool.transaction(op, None, *args)

    async def meta(self, key: str) -> str | None:
        return await self._read(q_meta, key)

    async def set_meta(self, values: dict[str, str | None]) -> None:
        await self._write(op_set_meta, values)

    async def teams(self) -> list[Team]:
        return await self._read(q_teams)

    async def team(self, team_id: str) -> Team | None:
        return await self._read(q_team, team_id)

    async def create_team(self, team: Team) -> Team:
        return await self._write(op_create_team, team)

    async def create_user(self, user: User, token_hash: bytes) -> User:
        return await self._write(op_create_user, user, token_hash)

    async def caller_by_token(self, token_hash: bytes) -> Caller | None:
        return await self._read(q_caller_by_token, token_hash)

    async def revoke_token(self, token_hash: bytes) -> bool:
        return await self._write(op_revoke_token, token_hash)

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
        await self._write(op_add_token, user_id, token_hash, wall_us(), scopes, session, app)

    async def set_deleted(self, user_id: str, deleted: bool, notice: Retry) -> None:
        await self._write(op_set_deleted, user_id, deleted, notice)

    async def end_sessions(self, user_id: str, notice: Retry) -> int:
        return await self._write(op_end_sessions, user_id, notice)

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
        return await self._write(op_create_channel, channel)

    async def set_archived(self, channel_id: str, archived: bool) -> None:
        await self._write(op_set_archived, channel_id, archived)

    async def event_apps(self) -> list[EventApp]:
        return await self._read(q_event_apps)

    async def unfurl_domains(self) -> list[AppDomain]:
        return await self._read(q_unfurl_domains)

    async def oauth_app(self, client_id: str) -> OAuthApp | None:
        return await self._read(q_oauth_app, client_id)

    async def add_oauth_grant(self, grant: OAuthGrant, now: int) -> None:
        await self._write(op_add_oauth_grant, grant, now)

    async def uninstall_app(self, bot_id: str) -> list[tuple[bytes, str]]:
        return await self._write(op_uninstall_app, bot_id)

    async def take_oauth_grant(self, code_hash: bytes) -> OAuthGrant | None:
        return await self._write(op_take_oauth_grant, code_hash)

    async def close_conversation(self, user_id: str, channel_id: str, seq: int) -> None:
        await self._write(op_close_conversation, user_id, channel_id, seq)

    async def reopen_conversation(self, user_id: str, channel_id: str) -> bool:
        return await self._write(op_reopen_conversation, user_id, channel_id)

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
        return await self._write(op_edit_profile, user_id, changes)

    async def set_avatar(
        self, user_id: str, photo: tuple[str, bytes, str] | None, now: int
    ) -> User | None:
        return await self._write(op_set_avatar, user_id, photo, now)

    async def avatar(self, user_id: str) -> tuple[str, str, bytes] | None:
        return await self._read(q_avatar, user_id)

    async def set_away(self, user_id: str, away: bool) -> None:
        await self._write(op_set_away, user_id, away)

    async def away_users(self, team_id: str) -> set[str]:
        return await self._read(q_away_users, team_id)

    async def add_pin(self, pin: Pin, most: int) -> str | None:
        return await self._write(op_add_pin, pin, most)

    async def remove_pin(self, channel_id: str, ts: int) -> bool:
        return await self._write(op_remove_pin, channel_id, ts)

    async def add_star(self, star: Star) -> bool:
        return await self._write(star_ops.op_add_star, star)

    async def remove_star(self, user_id: str, channel_id: str, ts: int) -> bool:
        return await self._write(star_ops.op_remove_star, user_id, channel_id, ts)

    async def stars(self, user_id: str, after: Star | None, limit: int) -> list[Star]:
        return await self._read(star_ops.q_stars, user_id, after, limit)

    async def set_retention(self, policy: RetentionPolicy) -> None:
        await self._write(retention_ops.op_set_retention, policy)

    async def remove_retention(self, team_id: str, channel_id: str) -> bool:
        return await self._write(retention_ops.op_remove_retention, team_id, channel_id)

    async def retention(self) -> list[RetentionPolicy]:
        return await self._read(retention_ops.q_retention)

    async def pins(self, channel_id: str) -> list[Pin]:
        return await self._read(q_pins, channel_id)

    async def add_bookmark(self, b: Bookmark, most: int) -> bool:
        return await self._write(bookmark_ops.op_add_bookmark, b, most)

    async def put_bookmark(self, b: Bookmark) -> None:
        await self._write(bookmark_ops.op_put_bookmark, b)

    async def remove_bookmark(self, channel_id: str, bookmark_id: str) -> bool:
        return await self._write(bookmark_ops.op_remove_bookmark, channel_id, bookmark_id)

    async def add_emoji(self, e: CustomEmoji, data: bytes) -> None:
        await self._write(emoji_ops.op_add_emoji, e, data)

    async def remove_emoji(self, team_id: str, name: str) -> list[str]:
        return await self._write(emoji_ops.op_remove_emoji, team_id, name)

    async def emoji(self, team_id: str) -> list[CustomEmoji]:
        return await self._read(emoji_ops.q_emoji, team_id)

    async def emoji_image(self, team_id: str, name: str) -> tuple[str, bytes] | None:
        return await self._read(emoji_ops.q_emoji_image, team_id, name)

    async def bookmarks(self, channel_id: str) -> list[Bookmark]:
        return await self._read(bookmark_ops.q_bookmarks, channel_id)

    async def create_group(self, g: UserGroup) -> None:
        await self._write(group_ops.op_create_group, g)

    async def update_group(
        self, group_id: str, name: str, handle: str, description: str, updated: int
    ) -> None:
        await self._write(group_ops.op_update_group, group_id, name, handle, description, updated)

    async def set_group_disabled(self, group_id: str, disabled: bool, updated: int) -> None:
        await self._write(group_ops.op_set_group_disabled, group_id, disabled, updated)

    async def set_group_members(self, group_id: str, users: Sequence[str], updated: int) -> None:
        await self._write(group_ops.op_set_group_members, group_id, users, updated)

    async def groups(self, team_id: str, include_disabled: bool = False) -> list[UserGroup]:
        return await self._read(group_ops.q_groups, team_id, include_disabled)

    async def group(self, group_id: str) -> UserGroup | None:
        return await self._read(group_ops.q_group, group_id)

    async def put_view(self, v: AppView, now: int, stale_before: int) -> None:
        await self._write(view_ops.op_put_view, v, now, stale_before)

    async def view(self, view_id: str) -> AppView | None:
        return await self._read(view_ops.q_view, view_id)

    async def view_by_external(self, team_id: str, external_id: str) -> AppView | None:
        return await self._read(view_ops.q_view_by_external, team_id, external_id)

    async def meta_default(self, key: str, value: str) -> str:
        return await self._write(view_ops.op_meta_default, key, value)

    async def create_file(self, f: StoredFile, stale_before: int, most: int) -> bool:
        return await self._write(file_ops.op_create_file, f, stale_before, most)

    async def put_file(self, file_id: str, upload_hash: str, data: bytes) -> bool:
        return await self._write(file_ops.op_put_file, file_id, upload_hash, data)

    async def complete_file(
        self, file_id: str, user_id: str, title: str, channels: tuple[str, ...]
    ) -> bool:
        return await self._write(file_ops.op_complete_file, file_id, user_id, title, channels)

    async def record_share(self, file_ids: Sequence[str], channel_id: str, ts: int) -> None:
        await self._write(file_ops.op_record_share, file_ids, channel_id, ts)

    async def delete_file(self, file_id: str) -> list[tuple[str, int]] | None:
        return await self._write(file_ops.op_delete_file, file_id)

    async def set_file_link(self, file_id: str, secret: str | None, now: int) -> None:
        await self._write(file_ops.op_set_file_link, file_id, secret, now)

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
        await self._write(op_add_command_response, token_hash, response, now)

    async def use_command_response(
        self, token_hash: str, now: int, most: int
    ) -> CommandResponse | None:
        return await self._write(op_use_command_response, token_hash, now, most)

    async def mark_read(self, channel_id: str, user_id: str, ts: int) -> bool:
        return await self._write(op_mark_read, channel_id, user_id, ts)

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
        return await self._write(op_update_channel, channel_id, name, topic, purpose)

    async def members(self, channel_id: str) -> frozenset[str]:
        return await self._read(q_members, channel_id)

    async def members_page(self, channel_id: str, after: str, limit: int) -> Page:
        return await self._read(q_members_page, channel_id, after, limit)

    async def member_channels(self, user_id: str) -> frozenset[str]:
        return await self._read(q_member_channels, user_id)

    async def add_members(self, channel_id: str, user_ids: Sequence[str]) -> list[str]:
        return await self._write(op_add_members, channel_id, list(user_ids), wall_us())

    async def remove_member(self, channel_id: str, user_id: str) -> bool:
        return await self._write(op_remove_member, channel_id, user_id)

    async def dnd(self, user_ids: Sequence[str]) -> dict[str, Dnd]:
        return await self._read(q_dnd, list(user_ids))

    async def set_dnd(self, user_id: str, dnd: Dnd) -> None:
        await self._write(op_set_dnd, user_id, dnd)

    async def devices(self, user_ids: Sequence[str]) -> list[Device]:
        return await self._read(q_devices, list(user_ids))

    async def add_device(self, device: Device, max_per_user: int) -> bool:
        return await self._write(op_add_device, device, max_per_user)

    async def remove_device(self, platform: str, token: str, user_id: str | None) -> bool:
        return await self._write(op_remove_device, platform, token, user_id)

    async def push_prefs(self, user_ids: Sequence[str] | None) -> dict[str, Prefs]:
        if user_ids is not None and not user_ids:
            return {}
        return await self._read(q_push_prefs, None if user_ids is None else list(user_ids))

    async def set_push_prefs(self, user_id: str, prefs: Prefs) -> None:
        await self._write(op_set_push_prefs, user_id, prefs)

    async def retry_later(self, retry: Retry) -> None:
        await self._write(op_retry_later, retry)

    async def claim_due(self, step: str, now: int, limit: int, lease_until: int) -> list[Retry]:
        return await self._write(op_claim_due, step, now, limit, lease_until)

    async def waiting(self, step: str, prefix: str, after: str, limit: int) -> list[Retry]:
        return await self._read(q_waiting, step, prefix, after, limit)

    async def retry_done(self, step: str, item: str) -> None:
        await self._write(op_retry_done, step, item)

    async def bury(self, letter: DeadLetter) -> None:
        await self._write(op_bury, letter)

    async def dead_letters(self, step: str | None, after: str, limit: int) -> list[DeadLetter]:
        return await self._read(q_dead_letters, step, after, limit)

    async def dead_letter(self, step: str, item: str) -> DeadLetter | None:
        return await self._read(q_dead_letter, step, item)

    async def retry_counts(self) -> dict[tuple[str, str], int]:
        return await self._read(q_retry_counts)

    async def replay(self, step: str, items: Sequence[str] | None, now: int) -> int:
        return await self._write(op_replay, step, items, now)

    async def purge(self, step: str, items: Sequence[str] | None) -> int:
        return await self._write(op_purge, step, items)

    async def hold_pushes(self, held: Sequence[tuple[str, Notice]]) -> None:
        if held:
            await self._write(op_hold_pushes, list(held))

    async def held_users(self) -> list[str]:
        return await self._read(q_held_users)

    async def take_held(self, user_id: str) -> list[Notice]:
        return await self._write(op_take_held, user_id)


# -- admin commands (synchronous, server or not) -----------------------------------------------


def run_sync(make: Callable[[], Any]) -> Any:
    """Runs the coroutine ``make()`` to completion from synchronous code: on this thread
    when no event loop runs here, else on a short-lived thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="parley-mysql-admin")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _directory(settings: Settings) -> MysqlDirectory:
    topo = topology(settings.shard_urls, settings.directory_url, settings.shard_replicas)
    return MysqlDirectory(settings.with_(mysql_pool=1), topo.directory)


def admin(settings: Settings, op: Callable, *args: Any) -> Any:
    """Runs a directory write op in its own transaction (admin commands)."""
    return run_sync(lambda: _on_directory(settings, lambda d: d._write(op, *args)))


def admin_read(settings: Settings, q: Callable, *args: Any) -> Any:
    """Runs a directory read op (admin commands)."""
    return run_sync(lambda: _on_directory(settings, lambda d: d._read(q, *args)))


async def _on_directory(settings: Settings, call: Callable[[MysqlDirectory], Any]) -> Any:
    """``call`` on a directory of its own, opened and closed around it."""
    d = _directory(settings)
    await d.start()
    try:
        return await call(d)
    finally:
        await d.close()
