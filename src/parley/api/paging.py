"""Cursor pagination helpers shared by the list methods (Slack's ``cursor``/``limit``
arguments and ``response_metadata.next_cursor``)."""

from __future__ import annotations

from typing import Any

from parley import cursors
from parley.api.args import Args
from parley.errors import ApiError, Code


def limit(args: Args, *, default: int, maximum: int) -> int:
    """``limit``: 0 or absent means ``default``; above ``maximum`` is clamped (as Slack
    does); negative or non-numeric is ``invalid_limit``."""
    n = args.int("limit", default=default, lo=0, hi=1 << 31, code=Code.INVALID_LIMIT)
    return default if n == 0 else min(n, maximum)


def after_key(args: Args, kind: str) -> str | None:
    """The key a ``cursor`` argument continues after; ``invalid_cursor`` if it is not ours."""
    raw = args.str("cursor", max_len=256)
    if raw is None:
        return None
    key = cursors.decode(kind, raw)
    if key is None:
        raise ApiError(Code.INVALID_CURSOR)
    return key


def after_int(args: Args, kind: str) -> int | None:
    """Like :func:`after_key` for listings keyed by integers (timestamps)."""
    raw = args.str("cursor", max_len=256)
    if raw is None:
        return None
    key = cursors.decode_int(kind, raw)
    if key is None:
        raise ApiError(Code.INVALID_CURSOR)
    return key


def metadata(kind: str, last_key: str | int | None, has_more: bool) -> dict[str, Any]:
    """``{"response_metadata": {"next_cursor": ...}}``; the cursor is empty at the end."""
    cursor = cursors.encode(kind, last_key) if has_more and last_key is not None else ""
    return {"response_metadata": {"next_cursor": cursor}}
