"""The method table and request handling, independent of the HTTP server.

``Api.handle`` takes the parts of an HTTP request and returns a :class:`Response`;
the server shell (:mod:`parley.api.http`) only moves bytes. Every outcome is JSON:
``{"ok": true, ...}`` or ``{"ok": false, "error": code, ...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import msgspec
import orjson

from parley.api.args import Args
from parley.api.request import basic_credentials, bearer_token, parse_body, parse_query
from parley.errors import ApiError, Code, StorageError, StorageUnavailable, unavailable
from parley.metrics import Metrics
from parley.pipeline import scopes
from parley.pipeline.auth import Authenticator
from parley.pipeline.limits import Limiter, Unlimited
from parley.storage.models import User

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"


class Response(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("content-type", JSON),)


class Ctx(msgspec.Struct, frozen=True):
    """Who is calling, with which token and scopes, and from where (``base_url`` for
    ``auth.test``'s ``url``)."""

    user: User
    base_url: str
    scopes: frozenset[str] = frozenset()
    token: str = ""


Handler = Callable[[Ctx, Args], Awaitable[dict[str, Any]]]
#: A method anyone may call, with no token (``api.test``): its arguments, and the base
#: URL the request reached the server at.
PublicHandler = Callable[[Args, str], Awaitable[dict[str, Any]]]


class Method(msgspec.Struct, frozen=True):
    name: str
    handler: Handler | None
    #: Read methods may also be called with GET and query arguments.
    read: bool
    #: Set for a method called without a token (then ``handler`` is ``None``).
    public: PublicHandler | None = None


def error_response(exc: ApiError) -> Response:
    body = orjson.dumps({"ok": False, "error": exc.code, **exc.data})
    headers = (("content-type", JSON), *exc.headers.items())
    return Response(exc.status, body, headers)


class Api:
    """Routes ``/api/<method>`` calls to handlers after authenticating them."""

    def __init__(
        self, auth: Authenticator, limiter: Limiter | None = None, metrics: Metrics | None = None
    ) -> None:
        self._auth = auth
        #: The ``auth`` stage: how long a token takes to check (cached, or read).
        self._t_auth = (metrics or Metrics()).stage["auth"]
        self._limiter = limiter or Unlimited()
        self._methods: dict[str, Method] = {}

    def add(self, name: str, handler: Handler, *, read: bool = False) -> None:
        self._methods[name] = Method(name, handler, read)

    def add_public(self, name: str, handler: PublicHandler) -> None:
        """A method called without a token (a ``token`` given is ignored); GET too."""
        self._methods[name] = Method(name, None, True, handler)

    async def handle(
        self,
        *,
        http_method: str,
        name: str,
        query: str,
        content_type: str,
        body: bytes,
        authorization: str | None,
        base_url: str,
        session: str | None = None,
    ) -> Response:
        try:
            method = self._methods.get(name)
            if method is None:
                raise ApiError(Code.UNKNOWN_METHOD, status=404)
            if http_method == "GET":
                if not method.read:
                    raise ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "POST"})
                args = parse_query(query)
            elif http_method == "POST":
                args = parse_query(query) if query else {}
                args.update(parse_body(content_type, body))
            else:
                allow = "GET, POST" if method.read else "POST"
                raise ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": allow})
            if method.public is not None:
                args.pop("token", None)
                for key, value in basic_credentials(authorization).items():
                    args.setdefault(key, value)
                return _answer(await method.public(Args(args), base_url))
            token = bearer_token(authorization) or _str_or_none(args.pop("token", None)) or session
            began = perf_counter()
            caller = await self._auth.authorize(token)
            self._t_auth.observe(perf_counter() - began)
            scopes.require(name, caller.scopes)
            if self._limiter.calls_limited(name):
                await self._limiter.check_call(caller.user, name)
            ctx = Ctx(caller.user, base_url, caller.scopes, token)
            assert method.handler is not None
            result = await method.handler(ctx, Args(args))
            if log.isEnabledFor(logging.DEBUG):
                log.debug("api call", extra={"method": name, "user": caller.user.id})
            return _answer(result)
        except ApiError as exc:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("api call refused", extra={"method": name, "error": exc.code})
            return error_response(exc)
        except StorageUnavailable as exc:
            if exc.retry_after is None:  # an open breaker's refusals are counted, not logged
                log.warning("%s: store unavailable: %s", name, exc)
            return error_response(unavailable(exc))
        except StorageError:
            log.exception("%s: storage error", name)
            return error_response(ApiError(Code.FATAL_ERROR, status=500))
        except Exception:
            log.exception("%s: internal error", name)
            return error_response(ApiError(Code.INTERNAL_ERROR, status=500))


def _answer(result: dict[str, Any]) -> Response:
    return Response(200, orjson.dumps({"ok": True, **result}))


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
