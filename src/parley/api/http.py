"""The HTTP shell: an RSGI application (served by Granian) that moves bytes between the
socket and :class:`~parley.api.dispatch.Api`. No method logic lives here.

Routes: ``/api/<method>`` (GET or POST), ``/api/openapi.json`` (GET: the Web API's OpenAPI
description, :mod:`parley.api.openapi`), ``/auth/signin`` and ``/auth/signout`` (the web
client's sessions, :mod:`parley.web`), ``/`` and ``/static/...`` (the web client),
``/healthz`` (alive; ``/health`` too) and ``/readyz`` (503 while draining or unable to
serve, with the circuit breakers' states); everything
else is a JSON 404. A gateway node (``--role gateway``) serves only the health routes.
Granian was chosen by measurement: on the project's 2-core machines its embedded RSGI
server answered a JSON echo at ~37K req/s, aiohttp's low-level server ~22K and aiohttp's
web app ~18K (``docs/architecture.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from parley.api import openapi
from parley.api.dispatch import Api, Response, error_response
from parley.errors import ApiError, Code
from parley.logs import REQUEST_ID, request_id
from parley.metrics import CONTENT_TYPE as METRICS_TYPE
from parley.web import CLIENT_HEADER, Sessions, session_token

_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_NOT_FOUND = Response(404, orjson.dumps({"ok": False, "error": "not_found"}))
_HEALTH = Response(200, orjson.dumps({"ok": True}))
_DRAINING = Response(503, orjson.dumps({"ok": False, "error": "draining"}))
_OPENAPI_PATH = "/api/openapi.json"
# built and encoded once: the document is fixed for the life of the process
_OPENAPI = Response(200, orjson.dumps(openapi.document()))
_OPENAPI_405 = error_response(
    ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "GET, HEAD"})
)


class HttpApp:
    """RSGI entry point. ``fallback_host`` names this server when a request's ``Host``
    header is missing or malformed (it is echoed in ``auth.test``'s ``url``)."""

    def __init__(
        self,
        api: Api,
        *,
        max_body: int,
        fallback_host: str,
        sessions: Sessions | None = None,
        static: dict[str, Response] | None = None,
        health_only: bool = False,
        metrics: Callable[[], bytes] | None = None,
        readiness: Callable[[], tuple[str | None, dict[str, str]]] | None = None,
        secure_cookies: bool = False,
    ) -> None:
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
        self._max_body = max_body
        self._fallback_host = fallback_host
        self._sessions = sessions
        self._static = static or {}
        #: Set when the node starts draining: ``/readyz`` then answers 503 so a load
        #: balancer sends no new work, while requests already here are still served.
        self.draining = False

    async def __call__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            proto.close(1008)  # WebSocket comes with the gateway
            return
        path = scope.path
        if path == "/metrics" and self._metrics is not None and scope.method == "GET":
            response = Response(200, self._metrics(), (("content-type", METRICS_TYPE),))
        elif self._health_only and path not in ("/healthz", "/health", "/readyz"):
            response = _NOT_FOUND
        elif path == _OPENAPI_PATH:
            response = _OPENAPI if scope.method in ("GET", "HEAD") else _OPENAPI_405
        elif path.startswith("/api/"):
            rid = request_id(scope.headers.get("x-request-id"))
            REQUEST_ID.set(rid)  # this request's task: every record while serving it
            response = await self._api_call(scope, proto, path[5:])
            response = Response(
                response.status, response.body, (*response.headers, ("x-request-id", rid))
            )
        elif path in ("/healthz", "/health"):
            response = _HEALTH  # alive: the process answers
        elif path == "/readyz":
            response = self._ready()
        elif path.startswith("/auth/") and self._sessions is not None:
            response = await self._auth_call(scope, proto, path[6:])
        elif scope.method in ("GET", "HEAD") and path in self._static:
            response = self._static[path]
        else:
            response = _NOT_FOUND
        proto.response_bytes(response.status, list(response.headers), response.body)

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

    async def _api_call(self, scope: Any, proto: Any, name: str) -> Response:
        headers = scope.headers
        body = await self._body(headers, proto)
        if body is None:
            return error_response(ApiError(Code.REQUEST_TOO_LARGE, status=413))
        host = headers.get("host")
        if not host or not _HOST_RE.match(host):
            host = self._fallback_host
        return await self._api.handle(
            http_method=scope.method,
            name=name,
            query=scope.query_string,
            content_type=headers.get("content-type") or "",
            body=body,
            authorization=headers.get("authorization"),
            base_url=f"http://{host}/",
            # a session cookie counts only with the web client's header naming its user
            session=session_token(headers.get("cookie"), headers.get(CLIENT_HEADER)),
        )

    async def _auth_call(self, scope: Any, proto: Any, action: str) -> Response:
        """``/auth/signin`` and ``/auth/signout`` (POST, with the web client's header)."""
        assert self._sessions is not None
        if action not in ("signin", "signout"):
            return _NOT_FOUND
        if scope.method != "POST":
            return error_response(
                ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "POST"})
            )
        headers = scope.headers
        if CLIENT_HEADER not in headers:
            return error_response(ApiError(Code.INVALID_ARGUMENTS, status=403))
        body = await self._body(headers, proto)
        if body is None:
            return error_response(ApiError(Code.REQUEST_TOO_LARGE, status=413))
        secure = self._secure_cookies or scope.scheme == "https"
        if action == "signin":
            return await self._sessions.sign_in(body, secure=secure)
        return await self._sessions.sign_out(
            headers.get("cookie"), headers.get(CLIENT_HEADER), secure=secure
        )

    async def _body(self, headers: Any, proto: Any) -> bytes | None:
        """The request body, or ``None`` if it is larger than ``max_body``.

        An oversized body is still read (and dropped) up to ``16 * max_body`` bytes so the
        client, still sending, gets the 413 instead of a broken pipe; past that the
        answer goes out at once.
        """
        length = headers.get("content-length")
        if length is not None:
            # ASCII digits only and at most 19 of them: str.isdigit() accepts "²" and int()
            # refuses 5,000 digits, so neither must reach int() (Granian checks it too)
            if not (length.isascii() and length.isdigit() and len(length) <= 19):
                return None
            if int(length) > self._max_body:
                if int(length) <= 16 * self._max_body:
                    await self._discard(proto)
                return None
            return await proto()
        chunks, size = [], 0
        async for chunk in proto:
            size += len(chunk)
            if size > self._max_body:
                await self._discard(proto)
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _discard(self, proto: Any) -> None:
        size = 0
        async for chunk in proto:
            size += len(chunk)
            if size > 16 * self._max_body:
                return
