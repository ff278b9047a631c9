"""Installing an app with OAuth, as Slack's v2 flow: the pure parts (the shell is
:mod:`parley.apps.installs`).

1. The operator registers the bot's app (``parley app oauth U… --redirect-url URL
   --scopes … --user-scopes …``): it gets a client id and secret.
2. The app sends a person to ``/oauth/v2/authorize?client_id=…&scope=…&user_scope=…
   &redirect_uri=…&state=…``. Signed in (or after signing in there), they see what the
   app asks for, and Allow or Cancel.
3. Allow sends them back to ``redirect_uri`` with ``code`` and ``state``; Cancel with
   ``error=access_denied``; scopes the app may not ask for with ``error=invalid_scope``.
   An unknown client or a ``redirect_uri`` not registered is told on the page itself,
   never sent anywhere.
4. The app exchanges the code (``oauth.v2.access``, with its client id and secret, as
   arguments or HTTP Basic) within :data:`CODE_TTL_US`, once, for a bot token of the
   scopes granted and, with user scopes, a token of the installer's.

An app installs only in its bot's own workspace (Slack's apps that are not publicly
distributed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

from parley.pipeline import scopes as known

#: How long a consent page's code may wait for its exchange (10 minutes, as Slack's).
CODE_TTL_US = 600_000_000
#: Slack scopes every Parley app has without asking for them (nothing checks them):
#: accepted in a request and told as granted, on no token.
IMPLIED = frozenset({"commands", "app_mentions:read"})
#: What no app may ask for: operators' scopes and the app-level token's; a person's
#: token also never gets ``links:*`` (:data:`parley.pipeline.scopes.LINKS`), a bot's
#: never Sign in with Slack's (:data:`~parley.pipeline.scopes.OPENID`).
_NEVER = known.ADMIN | known.APP_LEVEL
MAX_REDIRECT_URLS = 10


def new_client_id() -> str:
    """A client id in Slack's shape (``123456789012.123456789012``)."""
    return f"{secrets.randbelow(10**12):012d}.{secrets.randbelow(10**12):012d}"


def new_secret() -> str:
    """A client secret: 128 random bits, as hex."""
    return secrets.token_hex(16)


def new_code() -> str:
    """A consent page's code: 256 random bits."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """What is kept instead of a client secret or a code (SHA-256; both are random)."""
    return hashlib.sha256(secret.encode()).digest()


def same_secret(secret: str, kept: bytes) -> bool:
    """Whether ``secret`` is the one ``kept`` is the digest of (in constant time)."""
    return hmac.compare_digest(digest(secret), kept)


def allowed_scopes(text: str, *, user: bool) -> str:
    """The scopes an app may ask for, as registered (comma-separated, sorted); a
    ValueError naming any that Parley does not know or never grants an app
    (``user``: of the person installing it, who never grants ``links:*``)."""
    names = split(text)
    never = _NEVER | known.LINKS if user else _NEVER | known.OPENID
    wrong = sorted(n for n in names if n in never or n not in known.ALL | IMPLIED)
    if wrong:
        raise ValueError(f"an app may not ask for {', '.join(wrong)}")
    return ",".join(sorted(names))


def split(text: str) -> set[str]:
    """A scope list as Slack writes it: comma- (or space-) separated."""
    return {s for s in text.replace(" ", ",").split(",") if s}


def requested(text: str, registered: str) -> str:
    """The scopes a request asks for, sorted and comma-separated, if the app may ask for
    every one of them (:func:`allowed_scopes`); else ValueError."""
    names = split(text)
    if len(text) > 4000 or not names <= split(registered):
        raise ValueError("invalid_scope")
    return ",".join(sorted(names))


def token_scopes(granted: str) -> str:
    """The scopes a token of ``granted`` carries: those Parley checks."""
    return known.encode(split(granted) & known.ALL)


def redirect_allowed(uri: str, registered: Iterable[str]) -> bool:
    """Whether an authorization may send people back to ``uri``: one of the app's
    ``registered`` URLs, or a path below one on the same origin (as Slack allows)."""
    if len(uri) > 2000:
        return False
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        return False
    if ".." in parts.path.split("/"):
        return False
    for url in registered:
        if uri == url:
            return True
        base = urlsplit(url)
        below = parts.path.startswith(base.path.rstrip("/") + "/")
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and below:
            return True
    return False


def back_to(redirect_uri: str, /, **params: str) -> str:
    """``redirect_uri`` with ``params`` added to its query (those empty left out)."""
    query = urlencode({k: v for k, v in params.items() if v})
    if not query:
        return redirect_uri
    return redirect_uri + ("&" if urlsplit(redirect_uri).query else "?") + query


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for a Content-Security-Policy source."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def form_key(session_token: str) -> str:
    """The consent form's anti-forgery value for a session: only a page served to that
    session's browser has it."""
    return hmac.new(session_token.encode(), b"parley oauth consent", hashlib.sha256).hexdigest()


def access_answer(
    *,
    app_id: str,
    team: dict[str, str],
    bot_user_id: str,
    scopes: str,
    bot_token: str | None,
    installer_id: str,
    user_scopes: str,
    user_token: str | None,
) -> dict[str, Any]:
    """``oauth.v2.access``'s answer, as Slack's: the bot's token at the top (when bot
    scopes were granted), the installer's in ``authed_user`` (when user scopes were)."""
    out: dict[str, Any] = {"app_id": app_id, "team": team, "enterprise": None}
    out["is_enterprise_install"] = False
    if bot_token is not None:
        out.update(access_token=bot_token, token_type="bot", scope=scopes, bot_user_id=bot_user_id)
    authed: dict[str, Any] = {"id": installer_id}
    if user_token is not None:
        authed.update(scope=user_scopes, access_token=user_token, token_type="user")
    out["authed_user"] = authed
    return out
