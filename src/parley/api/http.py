"""The HTTP application: routes a whole request (:class:`~parley.api.h1.Request`, from
:mod:`parley.api.h1server`) to :class:`~parley.api.dispatch.Api` and the other routes,
and returns the response. No method logic lives here.

Routes: ``/api/<method>`` (GET or POST), ``/api/openapi.json`` (GET: the Web API's OpenAPI
description, :mod:`parley.api.openapi`), ``/auth/signin`` and ``/auth/signout`` (the web
client's sessions, :mod:`parley.web`), ``/`` and ``/static/...`` (the web client),
``/commands/<token>`` (POST: a ``response_url``, :mod:`parley.apps.replies`),
``/oauth/v2/authorize`` (an app's consent page), ``/openid/connect/authorize`` and
``/openid/connect/keys``, ``/.well-known/openid-configuration`` (Sign in with Slack;
:mod:`parley.apps.installs`),
``/files/...`` (uploads and downloads, :mod:`parley.files.routes`),
``/healthz`` (alive; ``/health`` too) and ``/readyz`` (503 while draining or unable to
serve, with the circuit breakers' states); everything else is a JSON 404. A gateway
node (``--role gateway``) serves only the health routes. A body over ``max_body`` comes
as ``None`` (the server read and dropped it) and the API and auth routes answer it 413
``request_too_large``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from parley.api import openapi
from parley.api.dispatch import Api, Response, error_response
from parley.api.h1 import Request
from parley.apps.installs import PATHS as INSTALL_PATHS
from parley.apps.replies import RESPONSE_PATH
from parley.errors import ApiError, Code, StorageUnavailable, unavailable
from parley.files.routes import PREFIX as FILES_PREFIX
from parley.logs import REQUEST_ID, request_id
from parley.metrics import CONTENT_TYPE as METRICS_TYPE
from parley.web import CLIENT_HEADER, Sessions, session_token

log = logging.getLogger(__name__)
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_NOT_FOUND = Response(404, orjson.dumps({"ok": False, "error": "not_found"}))
_HEALTH = Response(200, orjson.dumps({"ok": True}))
_OK = _HEALTH
_DRAINING = Response(503, orjson.dumps({"ok": False, "error": "draining"}))
_OPENAPI_PATH = "/api/openapi.json"
#: What load balancers and monitoring ask, not clients: not work, for :meth:`HttpApp.quiet_for`.
_PROBES = frozenset(("/healthz", "/health", "/readyz", "/metrics"))
# built and encoded once: the document is fixed for the life of the process
_OPENAPI = Response(200, orjson.dumps(openapi.document()))
_OPENAPI_405 = error_response(
    ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "GET, HEAD"})
)


class HttpApp:
    """``async (Request) -> Response`` for :class:`~parley.api.h1server.HttpServer`.
    ``fallback_host`` names this server when a request's ``Host``
    header is missing or malformed (it is echoed in ``auth.test``'s ``url``)."""

    def __init__(
        self,
        api: Api,
        *,
        fallback_host: str,
        sessions: Sessions | None = None,
        static: dict[str, Response] | None = None,
        health_only: bool = False,
        metrics: Callable[[], bytes] | None = None,
        readiness: Callable[[], tuple[str | None, dict[str, str]]] | None = None,
        secure_cookies: bool = False,
        clock: Callable[[], float] = time.monotonic,
        replies: Callable[[str, bytes, str], Awaitable[None]] | None = None,
        files: Callable[[Request], Awaitable[Response]] | None = None,
        installs: Callable[[Request, str], Awaitable[Response]] | None = None,
    ) -> None:
        #: ``/oauth/v2/authorize``, Sign in with Slack's pages (:mod:`parley.apps.installs`),
        #: for a request and the base URL it reached.
        self._installs = installs
        #: The routes under ``/files/`` (:mod:`parley.files.routes`).
        self._files = files
        #: Takes a POST to a ``response_url``: ``Replies.respond(token, body, content
        #: type)``, raising :class:`ApiError` for what it refuses.
        self._replies = replies
        #: Session cookies are ``Secure`` always (behind a TLS proxy), not only over HTTPS.
        self._secure_cookies = secure_cookies
        self._api = api
        #: Why this node cannot serve now (``None``: it can) and its circuit breakers'
        #: states, for ``/readyz``.
        self._readiness = readiness
        #: The Prometheus exposition, for ``GET /metrics`` (every role).
        self._metrics = metrics
        #: A gateway node: only ``/healthz`` and ``/readyz`` (the Web API is elsewhere).
        self._health_only = health_only
        self._fallback_host = fallback_host
        self._sessions = sessions
        self._static = static or {}
        #: Set when the node starts draining: ``/readyz`` then answers 503 so a load
        #: balancer sends no new work, while requests already here are still served.
        self.draining = False
        self._clock = clock
        #: When the last request other than a health check or a metrics scrape came
        #: (``clock()``; ``-inf``: none yet), for :meth:`quiet_for`.
        self._last_work = float("-inf")

    def quiet_for(self) -> float:
        """Seconds since the last request other than a health check or a metrics
        scrape (``inf`` when none came): how a drain knows its load balancer has
        stopped sending work."""
        return self._clock() - self._last_work

    async def __call__(self, req: Request) -> Response:
        path = req.path
        if path not in _PROBES:
            self._last_work = self._clock()
        if path.startswith("/api/") and path != _OPENAPI_PATH and not self._health_only:
            rid = request_id(req.headers.get("x-request-id"))
            REQUEST_ID.set(rid)  # this request's task: every record while serving it
            response = await self._api_call(req, path[5:])
            return Response(
                response.status, response.body, (*response.headers, ("x-request-id", rid))
            )
        if path == "/metrics" and self._metrics is not None and req.method == "GET":
            return Response(200, self._metrics(), (("content-type", METRICS_TYPE),))
        if self._health_only and path not in ("/healthz", "/health", "/readyz"):
            return _NOT_FOUND
        if path == _OPENAPI_PATH:
            return _OPENAPI if req.method in ("GET", "HEAD") else _OPENAPI_405
        if path in ("/healthz", "/health"):
            return _HEALTH  # alive: the process answers
        if path == "/readyz":
            return self._ready()
        if path.startswith(FILES_PREFIX) and self._files is not None:
            return await self._files(req)
        if path.startswith(RESPONSE_PATH) and self._replies is not None:
            return await self._response_url(req, path[len(RESPONSE_PATH) :])
        if path in INSTALL_PATHS and self._installs is not None:
            return await self._installs(req, self._base_url(req.headers))
        if path.startswith("/auth/") and self._sessions is not None:
            return await self._auth_call(req, path[6:])
        if req.method in ("GET", "HEAD") and path in self._static:
            return self._static[path]
        if req.method in ("GET", "HEAD") and path.startswith("/archives/") and "/" in self._static:
            return self._static["/"]  # a permalink (chat.getPermalink): the app opens it
        return _NOT_FOUND

    def _ready(self) -> Response:
        """200 ``{"ok": true, "breakers": {...}}`` when this node can serve; 503 with
        ``error`` ``draining`` or the reason it cannot (``store_unavailable``: every
        shard's breaker is open)."""
        if self._readiness is None:
            return _DRAINING if self.draining else _HEALTH
        reason, breakers = self._readiness()
        reason = "draining" if self.draining else reason
        body: dict[str, Any] = {"ok": reason is None, "breakers": breakers}
        if reason is not None:
            body["error"] = reason
        return Response(200 if reason is None else 503, orjson.dumps(body))

    async def _api_call(self, req: Request, name: str) -> Response:
        headers, body = req.headers, req.body
        if body is None:
            return error_response(ApiError(Code.REQUEST_TOO_LARGE, status=413))
        return await self._api.handle(
            http_method=req.method,
            name=name,
            query=req.query_string,
            content_type=headers.get("content-type") or "",
            body=body,
            authorization=headers.get("authorization"),
            base_url=self._base_url(headers),
            # a session cookie counts only with the web client's header naming its user
            session=session_token(headers.get("cookie"), headers.get(CLIENT_HEADER)),
        )

    def _base_url(self, headers: dict[str, str]) -> str:
        """This server as the request reached it (its ``Host``; the fallback when that
        is missing or malformed), with a trailing slash."""
        host = headers.get("host")
        if not host or not _HOST_RE.match(host):
            host = self._fallback_host
        return f"http://{host}/"

    async def _response_url(self, req: Request, token: str) -> Response:
        """A POST to a ``response_url``: ``{"ok": true}`` once the reply is delivered,
        else a Slack-style error (404 ``expired_url``)."""
        assert self._replies is not None
        if req.method != "POST":
            return error_response(
                ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "POST"})
            )
        if req.body is None:
            return error_response(ApiError(Code.REQUEST_TOO_LARGE, status=413))
        try:
            await self._replies(token, req.body, req.headers.get("content-type") or "")
        except ApiError as exc:
            return error_response(exc)
        except StorageUnavailable as exc:  # as the Web API answers it: 503, Retry-After
            return error_response(unavailable(exc))
        except Exception:
            log.exception("a response URL's reply failed")
            return error_response(ApiError(Code.INTERNAL_ERROR, status=500))
        return _OK

    async def _auth_call(self, req: Request, action: str) -> Response:
        """``/auth/signin`` and ``/auth/signout`` (POST, with the web client's header)."""
        assert self._sessions is not None
        if action not in ("signin", "signout"):
            return _NOT_FOUND
        if req.method != "POST":
            return error_response(
                ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "POST"})
            )
        headers, body = req.headers, req.body
        if CLIENT_HEADER not in headers:
            return error_response(ApiError(Code.INVALID_ARGUMENTS, status=403))
        if body is None:
            return error_response(ApiError(Code.REQUEST_TOO_LARGE, status=413))
        secure = self._secure_cookies  # TLS ends at a proxy in front of this server
        if action == "signin":
            return await self._sessions.sign_in(body, secure=secure)
        return await self._sessions.sign_out(
            headers.get("cookie"), headers.get(CLIENT_HEADER), secure=secure
        )
