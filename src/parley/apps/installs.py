"""Installing an app with OAuth: the consent page (``/oauth/v2/authorize``),
``oauth.v2.access`` and ``apps.uninstall``; and Sign in with Slack, its twin: its
consent page (``/openid/connect/authorize``), ``openid.connect.token``,
``openid.connect.userInfo``, its public key and OpenID description. The flows and their
rules are :mod:`parley.apps.oauth`'s and :mod:`parley.apps.oidc`'s; this shell reads
and writes the directory and answers HTTP.

The page is served to a browser, as Slack's is: GET shows it (or, when no one of the
app's workspace is signed in to this browser, a sign-in form first); its forms POST
back to the same URL. Which person allows is named by the form, and counts only with
that person's session cookie and the form key derived from that session
(:func:`~parley.apps.oauth.form_key`), so another site cannot make a browser allow
anything; the page may not be framed, runs no script, and may submit only to this
server and the app's redirect URL.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from parley.api.args import Args
from parley.api.dispatch import JSON, Ctx, Response
from parley.api.h1 import Request
from parley.api.request import parse_body, parse_query
from parley.apps import oauth, oidc
from parley.apps.callback import app_id
from parley.apps.signing import SigningKey
from parley.bus.interface import APP_UNINSTALLED, TOKENS_REVOKED, Event
from parley.errors import ApiError
from parley.ids import format_ts
from parley.pipeline import events
from parley.pipeline import scopes as known
from parley.pipeline.auth import hash_token, new_token
from parley.storage.interface import Directory
from parley.storage.models import OAuthApp, OAuthGrant, Team, User
from parley.web import Sessions, consent

PATH = "/oauth/v2/authorize"
#: Sign in with Slack's consent page, its keys and its description (:mod:`.oidc`).
OIDC_PATH = "/openid/connect/authorize"
KEYS_PATH = "/openid/connect/keys"
DISCOVERY_PATH = "/.well-known/openid-configuration"
#: Every path :meth:`Installs.route` serves.
PATHS = frozenset({PATH, OIDC_PATH, KEYS_PATH, DISCOVERY_PATH})
#: The request's parameters the page carries from step to step.
_FIELDS = ("client_id", "scope", "user_scope", "redirect_uri", "state", "nonce", "response_type")
_CSP = (
    "default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self' {back}; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class _Ask:
    """An authorization request found valid: the app, its bot and workspace, where
    people go back to, and the scopes asked for."""

    app: OAuthApp
    bot: User
    team: Team
    redirect_uri: str
    scopes: str
    user_scopes: str
    request: dict[str, str]
    #: Sign in with Slack's (``/openid/connect/authorize``).
    openid: bool


class Installs:
    """The consent pages (:meth:`route`) and the codes' exchanges (:meth:`access`,
    :meth:`openid_token`)."""

    def __init__(
        self,
        directory: Directory,
        sessions: Sessions,
        clock: Callable[[], int],
        *,
        forget: Callable[[list[bytes]], Awaitable[None]],
        publish: Callable[[Event], object],
        signing: SigningKey,
        secure_cookies: bool = False,
    ) -> None:
        #: Signs Sign in with Slack's id tokens.
        self._signing = signing
        self._directory = directory
        self._sessions = sessions
        #: Tells every node to forget revoked tokens (``Authenticator.forget``).
        self._forget = forget
        self._publish = publish
        #: Wall-clock µs (codes expire by it).
        self._clock = clock
        self._secure = secure_cookies

    async def route(self, req: Request, base_url: str) -> Response:
        """The paths of :data:`PATHS`, for a request that reached the server at
        ``base_url``: the consent pages, the public key and the OpenID description."""
        if req.path in (PATH, OIDC_PATH):
            return await self.page(req, openid=req.path == OIDC_PATH)
        if req.method not in ("GET", "HEAD"):
            return Response(405, b"", (("allow", "GET"),))
        if req.path == KEYS_PATH:
            body = await self._signing.jwks()
        else:
            body = oidc.discovery(base_url)
        headers = (("content-type", JSON), ("cache-control", "max-age=300"))
        return Response(200, orjson.dumps(body), headers)

    async def page(self, req: Request, *, openid: bool = False) -> Response:
        """``/oauth/v2/authorize`` (``/openid/connect/authorize``: ``openid``): GET
        shows the page, POST signs in, allows or cancels."""
        if req.method not in ("GET", "HEAD", "POST"):
            return Response(405, b"", (("allow", "GET, POST"),))
        nonce = secrets.token_urlsafe(12)
        try:
            form = parse_query(req.query_string)
            if req.method == "POST":
                form.update(parse_body(req.headers.get("content-type") or "", req.body or b""))
        except ApiError as exc:
            return _refused(nonce, exc.code, "The request could not be read.")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        ask = await self._ask(fields, nonce, openid)
        if isinstance(ask, Response):
            return ask
        cookies = req.headers.get("cookie")
        people = [
            (user, token)
            for user, token in await self._sessions.signed_in(cookies)
            if user.team_id == ask.team.id and not user.is_bot
        ]
        if req.method != "POST":
            return self._show(ask, people, nonce)
        decision = fields.get("decision")
        if decision == "signin":
            return await self._sign_in(ask, fields, nonce, req.path)
        if decision == "deny":
            state = fields.get("state", "")
            return _redirect(oauth.back_to(ask.redirect_uri, error="access_denied", state=state))
        chosen = [token for user, token in people if user.id == fields.get("user")]
        key = fields.get("form_key", "")
        if decision != "allow" or not chosen or not _same(oauth.form_key(chosen[0]), key):
            why = "This form has expired: open the app's link again."
            return _refused(nonce, "invalid_form", why, 403)
        return await self._allow(ask, fields["user"])

    async def _ask(self, fields: dict[str, str], nonce: str, openid: bool) -> _Ask | Response:
        """The request, if valid; else what to answer: a page for a client or a
        redirect URL that cannot be trusted, a redirect back with ``invalid_scope`` (or,
        for Sign in with Slack, ``unsupported_response_type``). Sign in with Slack asks
        ``scope`` of the person, ``openid`` among them; an installation may not ask for
        Sign in with Slack's scopes."""
        app = await self._directory.oauth_app(fields.get("client_id", "")[:64])
        bot = await self._directory.user(app.user_id) if app else None
        team = await self._directory.team(app.team_id) if app else None
        if app is None or bot is None or bot.deleted or team is None:
            return _refused(nonce, "invalid_client_id", "No app has this client id.", 400)
        redirect_uri = fields.get("redirect_uri") or app.redirect_urls[0]
        if not oauth.redirect_allowed(redirect_uri, app.redirect_urls):
            why = "The app asked to send you to an address it has not registered."
            return _refused(nonce, "bad_redirect_uri", why, 400)
        state = fields.get("state", "")
        if openid and fields.get("response_type") != "code":
            error = "unsupported_response_type"
            return _redirect(oauth.back_to(redirect_uri, error=error, state=state))
        try:
            if openid:
                scopes = ""
                user_scopes = oauth.requested(fields.get("scope", ""), app.user_scopes)
                if "openid" not in user_scopes.split(",") or not oauth.split(user_scopes) <= (
                    known.OPENID
                ):
                    raise ValueError("invalid_scope")
            else:
                scopes = oauth.requested(fields.get("scope", ""), app.scopes)
                user_scopes = oauth.requested(fields.get("user_scope", ""), app.user_scopes)
                if oauth.split(user_scopes) & known.OPENID or not (scopes or user_scopes):
                    raise ValueError("invalid_scope")
        except ValueError:
            return _redirect(oauth.back_to(redirect_uri, error="invalid_scope", state=state))
        request = {k: fields[k] for k in _FIELDS if fields.get(k)}
        return _Ask(app, bot, team, redirect_uri, scopes, user_scopes, request, openid)

    def _show(self, ask: _Ask, people: list[tuple[User, str]], nonce: str) -> Response:
        if not people:
            body = consent.sign_in(
                nonce, app=ask.bot.name, team=ask.team.name, request=ask.request, error=""
            )
            return _html(body, nonce, ask.redirect_uri)
        body = consent.consent(
            nonce,
            app=ask.bot.name,
            team=ask.team.name,
            scopes=ask.scopes,
            user_scopes=ask.user_scopes,
            people=[(u.id, u.name, oauth.form_key(token)) for u, token in people],
            request=ask.request,
            sign_in_with=ask.openid,
        )
        return _html(body, nonce, ask.redirect_uri)

    async def _sign_in(self, ask: _Ask, fields: dict[str, str], nonce: str, path: str) -> Response:
        """Signs in with the form's name and password (in the app's workspace), then
        shows the consent page again; a wrong password shows the form again."""
        try:
            user, _ = await self._sessions.check_password(
                fields.get("username"), fields.get("password"), ask.team.id
            )
        except ApiError as exc:
            why = {
                "invalid_credentials": "That name and password do not match.",
                "ratelimited": "Too many tries: wait a minute.",
            }.get(exc.code, "Give your name and password.")
            body = consent.sign_in(
                nonce, app=ask.bot.name, team=ask.team.name, request=ask.request, error=why
            )
            return _html(body, nonce, ask.redirect_uri, status=max(exc.status, 400))
        cookie = await self._sessions.open(user, secure=self._secure)
        again = oauth.back_to(path, **ask.request)
        return Response(303, b"", (("location", again), ("set-cookie", cookie), *_PRIVATE))

    async def _allow(self, ask: _Ask, installer_id: str) -> Response:
        code = oauth.new_code()
        now = self._clock()
        grant = OAuthGrant(
            oauth.digest(code),
            ask.app.client_id,
            installer_id,
            ask.scopes,
            ask.user_scopes,
            ask.request.get("redirect_uri", ""),
            now + oauth.CODE_TTL_US,
            nonce=ask.request.get("nonce", "")[:256],
            openid=ask.openid,
        )
        await self._directory.add_oauth_grant(grant, now)
        return _redirect(
            oauth.back_to(ask.redirect_uri, code=code, state=ask.request.get("state", ""))
        )

    async def access(self, args: Args, base_url: str) -> dict[str, Any]:
        """``oauth.v2.access``: the code's tokens, once (see :mod:`parley.apps.oauth`)."""
        app, grant, bot, installer, team = await self._exchange(args, openid=False)
        bot_token = user_token = None
        if grant.scopes:
            bot_token = new_token(True)
            scopes = oauth.token_scopes(grant.scopes)
            await self._directory.add_token(bot.id, hash_token(bot_token), scopes, app=bot.id)
        if grant.user_scopes:
            user_token = await self._person_token(installer, grant.user_scopes, bot)
        return oauth.access_answer(
            app_id=app_id(bot),
            team={"id": team.id, "name": team.name},
            bot_user_id=bot.id,
            scopes=grant.scopes,
            bot_token=bot_token,
            installer_id=installer.id,
            user_scopes=grant.user_scopes,
            user_token=user_token,
        )

    async def openid_token(self, args: Args, base_url: str) -> dict[str, Any]:
        """``openid.connect.token``: Sign in with Slack's code exchanged, once, for a
        token of the person's (good for ``openid.connect.userInfo``) and an id token
        (:func:`parley.apps.oidc.claims`, issued for ``base_url``)."""
        app, grant, bot, person, team = await self._exchange(args, openid=True)
        token = await self._person_token(person, grant.user_scopes, bot)
        granted = oauth.split(grant.user_scopes)
        claims = oidc.claims(
            base_url=base_url,
            client_id=app.client_id,
            user=person,
            team=team,
            scopes=frozenset(granted),
            nonce=grant.nonce,
            now_s=self._clock() // 1_000_000,
        )
        id_token = await self._signing.sign(claims)
        return {"access_token": token, "token_type": "Bearer", "id_token": id_token}

    async def user_info(self, ctx: Ctx, args: Args) -> dict[str, Any]:
        """``openid.connect.userInfo``: what the token's Sign in with Slack scopes tell
        of its person (:func:`parley.apps.oidc.about`)."""
        team = await self._directory.team(ctx.user.team_id)
        if team is None:
            raise ApiError("team_not_found")
        return oidc.about(ctx.user, team, ctx.scopes & known.OPENID, ctx.base_url)

    async def _person_token(self, person: User, granted: str, bot: User) -> str:
        """A new token of ``person``'s, of the scopes ``granted`` to ``bot``'s app."""
        token = new_token(False)
        scopes = oauth.token_scopes(granted)
        await self._directory.add_token(person.id, hash_token(token), scopes, app=bot.id)
        return token

    async def _exchange(
        self, args: Args, *, openid: bool
    ) -> tuple[OAuthApp, OAuthGrant, User, User, Team]:
        """The grant of ``args``' code, taken (once), with its app, bot, person and
        workspace: ``invalid_client_id``, ``bad_client_secret``, ``invalid_code``
        (unknown, used, expired, another app's, or of the other flow than ``openid``
        says), ``bad_redirect_uri`` (not the authorization's), ``invalid_grant_type``
        (token rotation, which Parley's tokens do not need)."""
        if args.str("grant_type", max_len=64) not in (None, "authorization_code"):
            raise ApiError("invalid_grant_type")
        client_id = args.str("client_id", required=True, missing="invalid_client_id", max_len=64)
        secret = args.str("client_secret", required=True, missing="bad_client_secret", max_len=256)
        code = args.str("code", required=True, missing="invalid_code", max_len=256)
        assert client_id is not None and secret is not None and code is not None
        app = await self._directory.oauth_app(client_id)
        if app is None:
            raise ApiError("invalid_client_id")
        if not oauth.same_secret(secret, app.secret_hash):
            raise ApiError("bad_client_secret")
        grant = await self._directory.take_oauth_grant(oauth.digest(code))
        if grant is None or grant.client_id != client_id or grant.expires < self._clock():
            raise ApiError("invalid_code")
        if grant.openid != openid:
            raise ApiError("invalid_code")
        if grant.redirect_uri and args.str("redirect_uri", max_len=2000) != grant.redirect_uri:
            raise ApiError("bad_redirect_uri")
        bot = await self._directory.user(app.user_id)
        installer = await self._directory.user(grant.installer_id)
        team = await self._directory.team(app.team_id)
        if bot is None or bot.deleted or installer is None or installer.deleted or team is None:
            raise ApiError("invalid_code")
        return app, grant, bot, installer, team

    async def uninstall(self, ctx: Ctx, args: Args) -> dict[str, Any]:
        """``apps.uninstall``: with its client id and secret and a token of its
        workspace, an app revokes every token its installations got (its bot's and the
        installers'; the operator's own tokens of the bot stay, as does the bot), and
        hears ``tokens_revoked`` and ``app_uninstalled``. Installing it again works as
        the first time."""
        client_id = args.str("client_id", required=True, missing="invalid_client_id", max_len=64)
        secret = args.str("client_secret", required=True, missing="bad_client_secret", max_len=256)
        assert client_id is not None and secret is not None
        app = await self._directory.oauth_app(client_id)
        if app is None or app.team_id != ctx.user.team_id:
            raise ApiError("invalid_client_id")
        if not oauth.same_secret(secret, app.secret_hash):
            raise ApiError("bad_client_secret")
        revoked = await self._directory.uninstall_app(app.user_id)
        await self._forget([key for key, _ in revoked])
        holders = {user_id for _, user_id in revoked}
        tokens = {"oauth": sorted(holders - {app.user_id}), "bot": sorted(holders & {app.user_id})}
        at = self._clock()
        for kind, body in (
            (TOKENS_REVOKED, {"type": TOKENS_REVOKED, "tokens": tokens}),
            (APP_UNINSTALLED, {"type": APP_UNINSTALLED}),
        ):
            body["event_ts"] = format_ts(at)
            self._publish(events.for_app(kind, "", app.team_id, app.user_id, at, body))
        return {}


#: Headers of every answer of the page: never cached, never named as a referrer.
_PRIVATE = (("cache-control", "no-store"), ("referrer-policy", "no-referrer"))


def _html(body: bytes, nonce: str, redirect_uri: str, status: int = 200) -> Response:
    csp = _CSP.format(nonce=nonce, back=oauth.origin(redirect_uri))
    headers = (
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", csp),
        ("x-content-type-options", "nosniff"),
        *_PRIVATE,
    )
    return Response(status, body, headers)


def _refused(nonce: str, error: str, why: str, status: int = 400) -> Response:
    csp = _CSP.format(nonce=nonce, back="")
    headers = (("content-type", "text/html; charset=utf-8"), ("content-security-policy", csp))
    return Response(status, consent.refused(nonce, error, why), (*headers, *_PRIVATE))


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def _redirect(url: str) -> Response:
    return Response(302, b"", (("location", url), *_PRIVATE))
