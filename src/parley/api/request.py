"""Turning an HTTP request into ``(token, arguments)``: pure, framework-independent.

Accepted bodies: ``application/json`` (an object), ``application/x-www-form-urlencoded``,
``multipart/form-data`` (what ``slack_sdk``'s WebClient sends) and empty. Query-string
arguments are merged in, body first. Anything else is answered with a Slack error code.
"""

from __future__ import annotations

import base64
import io
from typing import Any
from urllib.parse import parse_qsl

import orjson
from multipart import MultipartError, MultipartParser, parse_options_header

from parley.errors import ApiError, Code

_MAX_FIELDS = 1000
#: The multipart fields whose file is kept, as bytes: ``users.setPhoto``'s ``image``.
FILE_FIELDS = frozenset({"image"})


def parse_query(query: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=_MAX_FIELDS,
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(Code.INVALID_FORM_DATA) from exc
    return dict(pairs)


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    mime, options = parse_options_header(content_type or "")
    mime = mime.lower()
    if mime == "application/json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(Code.INVALID_JSON) from exc
        if not isinstance(data, dict):
            raise ApiError(Code.INVALID_JSON, data={"detail": "the body must be a JSON object"})
        return data
    if mime == "application/x-www-form-urlencoded" or not mime:
        try:
            return parse_query(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ApiError(Code.INVALID_FORM_DATA) from exc
    if mime == "multipart/form-data":
        return _multipart(options.get("boundary", ""), body)
    raise ApiError(Code.INVALID_POST_TYPE, data={"detail": f"unsupported content type {mime}"})


def _multipart(boundary: str, body: bytes) -> dict[str, Any]:
    if not boundary:
        raise ApiError(Code.INVALID_FORM_DATA, data={"detail": "multipart body without boundary"})
    fields: dict[str, Any] = {}
    try:
        parser = MultipartParser(
            io.BytesIO(body), boundary, content_length=len(body), charset="utf8"
        )
        for part in parser:
            if len(fields) >= _MAX_FIELDS:
                raise ApiError(Code.INVALID_FORM_DATA, data={"detail": "too many fields"})
            if part.filename:
                if part.name in FILE_FIELDS:  # the bytes, as uploaded
                    fields[part.name] = part.raw
                continue  # no other method takes a file
            fields[part.name] = part.value
    except (MultipartError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(Code.INVALID_FORM_DATA) from exc
    return fields


def basic_credentials(authorization: str | None) -> dict[str, str]:
    """``client_id`` and ``client_secret`` from an ``Authorization: Basic`` header, as
    ``oauth.v2.access`` takes them (slack_sdk sends them so); else ``{}``."""
    if not authorization or len(authorization) > 1024:
        return {}
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return {}
    client_id, colon, secret = decoded.partition(":")
    return {"client_id": client_id, "client_secret": secret} if colon else {}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
