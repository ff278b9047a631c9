"""The web client's server side: sign-in sessions and the app's static files.

``POST /auth/signin`` (JSON ``{"username", "password", "workspace"?}``) checks the
password (scrypt, off the event loop; at most :data:`ATTEMPTS_PER_MINUTE` tries per
username a minute) and answers with a new session: a user token of the default scopes,
set as the cookie ``ps_<user id>`` (HttpOnly, SameSite=Lax, Secure over TLS) and never
shown to the page's script. The Web API accepts that cookie in place of a token only on
requests whose ``X-Parley-Client`` header names that user id: a cross-site form or image
cannot send the header, so the cookie alone authorizes nothing (CSRF); and each tab
says which of the browser's sessions it uses (it keeps the id in ``sessionStorage``),
so two windows of one browser can be signed in as two people. ``POST /auth/signout``
revokes the named session's token and clears its cookie.

Static files (``/`` and ``/static/...``, and ``/static/emoji.json``: the standard emoji
by name, :mod:`.emoji_names`) are read from this package once, at start-up,
and served with a Content-Security-Policy that allows only this server's own scripts and
styles, so no asset is ever fetched from another host and injected markup cannot run.
"""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import orjson

from parley.api.dispatch import JSON, Response, error_response
from parley.errors import ApiError, Code
from parley.pipeline import passwords
from parley.pipeline.auth import Authenticator, hash_token, new_token
from parley.pipeline.limits import ratelimited
from parley.pipeline.ratelimit import RateStore
from parley.storage.interface import Directory
from parley.storage.models import Team, User
from parley.web import emoji_names

COOKIE_PREFIX = "ps_"
CLIENT_HEADER = "x-parley-client"
ATTEMPTS_PER_MINUTE = 10

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' {gateway}; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def gateway_source(gateway_url: str, gateway_port: int) -> str:
    """Where the page may open its WebSocket, as a CSP source: the origin of
    ``PARLEY_GATEWAY_URL`` when set (what ``rtm.connect`` hands out), else this server's
    gateway port on whatever host the page was loaded from."""
    if gateway_url:
        parts = urlsplit(gateway_url)
        return f"{parts.scheme}://{parts.netloc}"
    return f"ws://*:{gateway_port} wss://*:{gateway_port}"


def load_static(gateway: str = "ws: wss:") -> dict[str, Response]:
    """Every file of ``parley/web/static`` as a ready response, by URL path, allowed to
    connect to its own origin and ``gateway`` (a CSP source, :func:`gateway_source`)."""
    security = (
        ("content-security-policy", _CSP.format(gateway=gateway)),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    )
    out: dict[str, Response] = {}
    names = orjson.dumps(emoji_names.standard())
    out["/static/emoji.json"] = Response(200, names, (("content-type", JSON), *security))
    root = resources.files("parley.web") / "static"
    for item in root.iterdir():
        kind = _TYPES.get("." + item.name.rsplit(".", 1)[-1])
        if kind is None or not item.is_file():
            continue
        response = Response(200, item.read_bytes(), (("content-type", kind), *security))
        out[f"/static/{item.name}"] = response
        if item.name == "index.html":
            out["/"] = response
    return out


def session_token(cookie_header: str | None, user_id: str | None) -> str | None:
    """The token of ``user_id``'s session in a ``Cookie`` header, if any (never raises)."""
    if not _is_user_id(user_id):
        return None
    return sessions_in(cookie_header).get(user_id or "")


def sessions_in(cookie_header: str | None) -> dict[str, str]:
    """The sessions a ``Cookie`` header carries, token by user id (at most 20; never
    raises: a malformed header carries none)."""
    if not cookie_header or len(cookie_header) > 8192:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed cookie header is no session  # noqa: BLE001
        return {}
    out: dict[str, str] = {}
    for name, morsel in jar.items():
        user_id = name[len(COOKIE_PREFIX) :]
        if name.startswith(COOKIE_PREFIX) and morsel.value and _is_user_id(user_id):
            out[user_id] = morsel.value
        if len(out) == 20:
            break
    return out


def _is_user_id(value: str | None) -> bool:
    return value is not None and 1 < len(value) <= 32 and value.isalnum() and value[0] == "U"


def _cookie(user_id: str, value: str, *, secure: bool, clear: bool = False) -> str:
    parts = [f"{COOKIE_PREFIX}{user_id}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if clear:
        parts.append("Max-Age=0")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _json(status: int, body: dict[str, Any], *headers: tuple[str, str]) -> Response:
    return Response(status, orjson.dumps(body), (("content-type", JSON), *headers))


class Sessions:
    """Sign-in and sign-out (see the module docstring)."""

    def __init__(self, directory: Directory, auth: Authenticator, attempts: RateStore) -> None:
        self._directory = directory
        self._auth = auth
        self._attempts = attempts

    async def sign_in(self, body: bytes, *, secure: bool) -> Response:
        try:
            form = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return error_response(ApiError(Code.INVALID_JSON))
        if not isinstance(form, dict):
            return error_response(ApiError(Code.INVALID_JSON))
        name, password = form.get("username"), form.get("password")
        workspace = form.get("workspace") or None
        try:
            user, team = await self.check_password(name, password, workspace)
        except ApiError as exc:
            return error_response(exc)
        return _json(
            200,
            {
                "ok": True,
                "user": {"id": user.id, "name": user.name},
                "team": {"id": team.id, "name": team.name, "domain": team.domain},
            },
            ("set-cookie", await self.open(user, secure=secure)),
        )

    async def check_password(self, name: Any, password: Any, workspace: Any) -> tuple[User, Team]:
        """The person ``name`` signs in as, with their workspace (``workspace``: its
        domain or id, needed when the name is taken in several), if ``password`` is
        theirs. Raises ``invalid_arguments``, ``ratelimited`` (429, past
        :data:`ATTEMPTS_PER_MINUTE` tries of the name), ``workspace_required`` (400) or
        ``invalid_credentials`` (401: no such person, or not their password: the same
        answer, in the same time)."""
        if not (isinstance(name, str) and isinstance(password, str) and 0 < len(name) <= 80):
            raise ApiError(Code.INVALID_ARGUMENTS)
        if workspace is not None and not isinstance(workspace, str):
            raise ApiError(Code.INVALID_ARGUMENTS)
        wait = await self._attempts.take(f"signin:{name}", ATTEMPTS_PER_MINUTE / 60, 10)
        if wait:
            raise ratelimited(wait)
        candidates = [
            c
            for c in await self._directory.logins(name)
            if workspace is None or workspace in (c[1].domain, c[1].id)
        ]
        if len(candidates) > 1:
            raise ApiError("workspace_required", status=400)
        user, team, stored = candidates[0] if candidates else (None, None, None)
        # the hash runs even for an unknown user, so timing tells nothing about names
        ok = await asyncio.to_thread(passwords.verify, password, stored or _DUMMY)
        if user is None or team is None or not ok or stored is None:
            raise ApiError("invalid_credentials", status=401)
        return user, team

    async def open(self, user: User, *, secure: bool) -> str:
        """A new session of ``user``: the ``Set-Cookie`` value that carries its token."""
        token = new_token(False)
        await self._directory.add_token(user.id, hash_token(token), None, session=True)
        return _cookie(user.id, token, secure=secure)

    async def signed_in(self, cookie_header: str | None) -> list[tuple[User, str]]:
        """Everyone signed in to this browser (a ``Cookie`` header's sessions that are
        valid: active people's), with their session tokens; never raises."""
        out: list[tuple[User, str]] = []
        for user_id, token in sessions_in(cookie_header).items():
            try:
                caller = await self._auth.authorize(token)
            except ApiError:
                continue
            if caller.user.id == user_id:
                out.append((caller.user, token))
        return out

    async def sign_out(
        self, cookie_header: str | None, user_id: str | None, *, secure: bool
    ) -> Response:
        token = session_token(cookie_header, user_id)
        if token is None or user_id is None:
            return _json(200, {"ok": True})
        await self._auth.revoke(token)
        return _json(
            200, {"ok": True}, ("set-cookie", _cookie(user_id, "", secure=secure, clear=True))
        )


_DUMMY = passwords.hash_password("an unguessable dummy, so unknown names cost the same")
