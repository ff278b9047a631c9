"""SQL both directory backends share for apps installed with OAuth (``oauth_apps``) and
the codes of their consent pages (``oauth_grants``). Pure: builds text and rows, runs
nothing; ``{p}`` is the backend's placeholder."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from parley.storage.models import OAuthApp, OAuthGrant

#: The columns of an :class:`OAuthApp`, in its fields' order.
APP_COLUMNS = "user_id, team_id, client_id, secret_hash, redirect_urls, scopes, user_scopes"
#: One app, by its client id.
APP_QUERY = f"SELECT {APP_COLUMNS} FROM oauth_apps WHERE client_id = {{p}}"
#: The bot's app, by the bot's id.
APP_OF_BOT_QUERY = f"SELECT {APP_COLUMNS} FROM oauth_apps WHERE user_id = {{p}}"
#: Writes one (new, or as it now is).
APP_PUT = (
    f"REPLACE INTO oauth_apps ({APP_COLUMNS}, created) VALUES (" + ", ".join(["{p}"] * 8) + ")"
)

#: The columns of an :class:`OAuthGrant`, in its fields' order.
GRANT_COLUMNS = (
    "code_hash, client_id, installer_id, scopes, user_scopes, redirect_uri, expires, nonce, openid"
)
GRANT_ADD = f"INSERT INTO oauth_grants ({GRANT_COLUMNS}) VALUES (" + ", ".join(["{p}"] * 9) + ")"
GRANT_QUERY = f"SELECT {GRANT_COLUMNS} FROM oauth_grants WHERE code_hash = {{p}}"
GRANT_DELETE = "DELETE FROM oauth_grants WHERE code_hash = {p}"
#: Forgets the codes no one exchanged in time (before ``{p}``, wall µs).
GRANTS_EXPIRED = "DELETE FROM oauth_grants WHERE expires < {p}"

#: The live tokens installations of an app got (its bot's id), ``hash, user_id``.
APP_TOKENS = "SELECT hash, user_id FROM tokens WHERE app = {p} AND revoked = 0"
#: Revokes them.
APP_TOKENS_REVOKE = "UPDATE tokens SET revoked = 1 WHERE app = {p} AND revoked = 0"


def app_row(app: OAuthApp, now: int) -> tuple:
    """``app``'s values for :data:`APP_PUT`."""
    urls = orjson.dumps(list(app.redirect_urls)).decode()
    return (
        app.user_id,
        app.team_id,
        app.client_id,
        app.secret_hash,
        urls,
        app.scopes,
        app.user_scopes,
        now,
    )


def app_from(row: Sequence | None) -> OAuthApp | None:
    if row is None:
        return None
    urls = tuple(orjson.loads(row[4]))
    return OAuthApp(row[0], row[1], row[2], bytes(row[3]), urls, row[5], row[6])


def grant_row(g: OAuthGrant) -> tuple:
    """``g``'s values for :data:`GRANT_ADD`."""
    return (
        g.code_hash,
        g.client_id,
        g.installer_id,
        g.scopes,
        g.user_scopes,
        g.redirect_uri,
        g.expires,
        g.nonce,
        int(g.openid),
    )


def grant_from(row: Sequence | None) -> OAuthGrant | None:
    if row is None:
        return None
    return OAuthGrant(bytes(row[0]), *row[1:6], int(row[6]), row[7], bool(row[8]))
