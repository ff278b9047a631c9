"""Opaque pagination cursors, as Slack hands them out in ``response_metadata.next_cursor``.

A cursor names the kind of listing it belongs to and the key to continue after, so a
cursor from one listing is rejected by another. Pure code; the API turns a ``None``
from :func:`decode` into ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii


def encode(kind: str, key: str | int) -> str:
    """``encode("history", 1640995200123456)`` -> an opaque, URL-safe string."""
    raw = f"{kind}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, cursor: str) -> str | None:
    """The key inside ``cursor`` if it was made by :func:`encode` for ``kind``, else ``None``."""
    if not cursor or len(cursor) > 256:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
    prefix, sep, key = raw.partition(":")
    if not sep or prefix != kind or not key:
        return None
    return key


def decode_int(kind: str, cursor: str) -> int | None:
    """Like :func:`decode` for integer keys; ``None`` when the key is not a non-negative int."""
    key = decode(kind, cursor)
    if key is None or not key.isdigit() or len(key) > 20:
        return None
    return int(key)
