"""The directory's ops for apps installed with OAuth on SQLite (``meta.db``;
:mod:`parley.storage.oauth_rows` has the SQL both backends share)."""

from __future__ import annotations

import sqlite3

from parley.storage.models import OAuthApp, OAuthGrant
from parley.storage.oauth_rows import (
    APP_OF_BOT_QUERY,
    APP_PUT,
    APP_QUERY,
    APP_TOKENS,
    APP_TOKENS_REVOKE,
    GRANT_ADD,
    GRANT_DELETE,
    GRANT_QUERY,
    GRANTS_EXPIRED,
    app_from,
    app_row,
    grant_from,
    grant_row,
)


def op_set_oauth_app(conn: sqlite3.Connection, _state: object, app: OAuthApp, now: int) -> None:
    conn.execute(APP_PUT.format(p="?"), app_row(app, now))


def q_oauth_app(conn: sqlite3.Connection, client_id: str) -> OAuthApp | None:
    return app_from(conn.execute(APP_QUERY.format(p="?"), (client_id,)).fetchone())


def q_oauth_app_of(conn: sqlite3.Connection, user_id: str) -> OAuthApp | None:
    return app_from(conn.execute(APP_OF_BOT_QUERY.format(p="?"), (user_id,)).fetchone())


def op_add_oauth_grant(
    conn: sqlite3.Connection, _state: object, grant: OAuthGrant, now: int
) -> None:
    """Adds ``grant``, forgetting those that expired before ``now``."""
    conn.execute(GRANTS_EXPIRED.format(p="?"), (now,))
    conn.execute(GRANT_ADD.format(p="?"), grant_row(grant))


def op_take_oauth_grant(
    conn: sqlite3.Connection, _state: object, code_hash: bytes
) -> OAuthGrant | None:
    """The grant of ``code_hash``, removed as it is read: a code is exchanged once."""
    grant = grant_from(conn.execute(GRANT_QUERY.format(p="?"), (code_hash,)).fetchone())
    if grant is not None:
        conn.execute(GRANT_DELETE.format(p="?"), (code_hash,))
    return grant


def op_uninstall_app(
    conn: sqlite3.Connection, _state: object, bot_id: str
) -> list[tuple[bytes, str]]:
    """Revokes the live tokens the app's installations got: their keys and users."""
    found = [(bytes(r[0]), r[1]) for r in conn.execute(APP_TOKENS.format(p="?"), (bot_id,))]
    conn.execute(APP_TOKENS_REVOKE.format(p="?"), (bot_id,))
    return found
