"""The directory's ops for apps installed with OAuth on MySQL (as
:mod:`parley.storage.sqlite.oauth` on SQLite)."""

from __future__ import annotations

from typing import Any

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


async def op_set_oauth_app(cur: Any, _state: object, app: OAuthApp, now: int) -> None:
    await cur.execute(APP_PUT.format(p="%s"), app_row(app, now))


async def q_oauth_app(cur: Any, client_id: str) -> OAuthApp | None:
    await cur.execute(APP_QUERY.format(p="%s"), (client_id,))
    return app_from(await cur.fetchone())


async def q_oauth_app_of(cur: Any, user_id: str) -> OAuthApp | None:
    await cur.execute(APP_OF_BOT_QUERY.format(p="%s"), (user_id,))
    return app_from(await cur.fetchone())


async def op_add_oauth_grant(cur: Any, _state: object, grant: OAuthGrant, now: int) -> None:
    await cur.execute(GRANTS_EXPIRED.format(p="%s"), (now,))
    await cur.execute(GRANT_ADD.format(p="%s"), grant_row(grant))


async def op_take_oauth_grant(cur: Any, _state: object, code_hash: bytes) -> OAuthGrant | None:
    """The grant, removed as it is read (the row locked, so two exchanges of one code
    cannot both have it)."""
    await cur.execute(GRANT_QUERY.format(p="%s") + " FOR UPDATE", (code_hash,))
    grant = grant_from(await cur.fetchone())
    if grant is not None:
        await cur.execute(GRANT_DELETE.format(p="%s"), (code_hash,))
    return grant


async def op_uninstall_app(cur: Any, _state: object, bot_id: str) -> list[tuple[bytes, str]]:
    """Revokes the live tokens the app's installations got (locked as they are read)."""
    await cur.execute(APP_TOKENS.format(p="%s") + " FOR UPDATE", (bot_id,))
    found = [(bytes(r[0]), r[1]) for r in await cur.fetchall()]
    await cur.execute(APP_TOKENS_REVOKE.format(p="%s"), (bot_id,))
    return found
