"""A message's rich content: Block Kit ``blocks`` and legacy ``attachments``, bounded.

Pure. Parley stores them as given (one JSON object, ``{"blocks": [...],
"attachments": [...]}``) and returns them on every read and event; it does not render
or interpret them. Bounds, with Slack's error codes:

- ``blocks``: a JSON array (or its JSON text, as form bodies send it) of at most
  :data:`MAX_BLOCKS` objects, each with a string ``type`` (``invalid_blocks_format``
  if it is not an array at all, ``invalid_blocks`` otherwise); at most
  :data:`MAX_BYTES` encoded (``msg_blocks_too_long``).
- ``attachments``: a JSON array of at most :data:`MAX_ATTACHMENTS` objects
  (``too_many_attachments``; ``invalid_attachments`` for anything else), at most
  :data:`MAX_BYTES` encoded.

A bot's post may also carry the name and icon it shows (Slack's ``chat:write.customize``:
``username``, ``icons``; :func:`customize`), and any post its ``metadata`` (Slack's
``event_type`` and ``event_payload``: :func:`with_metadata`), kept in the same object;
they are not content (:func:`has_content`).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from parley.errors import ApiError, Code

MAX_BLOCKS = 50
#: The text of a message's ``markdown`` blocks, at most, in all (Slack's).
MAX_MARKDOWN = 12_000
MAX_ATTACHMENTS = 100
MAX_BYTES = 64 << 10
#: The longest name a bot's post may show (Slack's ``username``), and icon URL.
MAX_USERNAME = 80
MAX_ICON_URL = 500
_EMOJI = re.compile(r":[a-z0-9_+'-]{1,98}:")


def is_emoji_name(text: str) -> bool:
    """Whether ``text`` names an emoji as Slack writes one, between colons
    (``:rocket:``): a bot's icon, a status, a bookmark's emoji."""
    return _EMOJI.fullmatch(text) is not None


def _array(value: Any, bad_format: Code) -> list | None:
    if value is None or value == "":
        return None
    if isinstance(value, (str, bytes)):
        if len(value) > 4 * MAX_BYTES:
            raise ApiError(bad_format, data={"detail": "too large"})
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ApiError(bad_format, data={"detail": "not JSON"}) from exc
    if not isinstance(value, list):
        raise ApiError(bad_format, data={"detail": "must be a JSON array"})
    return value


def _encoded(value: list, code: Code) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:  # nested past what JSON encoders take
        raise ApiError(code, data={"detail": "nested too deeply"}) from exc


def parse(blocks: Any, attachments: Any) -> str | None:
    """The stored form of a message's rich content, or ``None`` when it has none
    (nothing given, or only empty arrays)."""
    out = _validated(blocks, attachments)
    out = {key: items for key, items in out.items() if items}
    return orjson.dumps(out).decode() if out else None


def patch(blocks: Any, attachments: Any) -> str | None:
    """``chat.update``'s change: the fields given (an empty array removes that field),
    as JSON, or ``None`` when neither was given (the content stays as it is)."""
    out = _validated(blocks, attachments)
    return orjson.dumps(out).decode() if out else None


def merge(stored: str | None, change: str | None) -> str | None:
    """``stored`` content with ``change`` applied (see :func:`patch`; a bot's name and icon
    stay)."""
    if change is None:
        return stored
    out = {**fields(stored), **orjson.loads(change)}
    out = {key: items for key, items in out.items() if items}
    return orjson.dumps(out).decode() if out else None


def _validated(blocks: Any, attachments: Any) -> dict[str, list]:
    out: dict[str, list] = {}
    items = _array(blocks, Code.INVALID_BLOCKS_FORMAT)
    if items is not None:
        if len(items) > MAX_BLOCKS:
            raise ApiError(Code.INVALID_BLOCKS, data={"detail": f"at most {MAX_BLOCKS} blocks"})
        if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in items):
            raise ApiError(Code.INVALID_BLOCKS, data={"detail": "each block needs a type"})
        markdown = [b.get("text") for b in items if b["type"] == "markdown"]
        if not all(isinstance(text, str) for text in markdown):
            raise ApiError(Code.INVALID_BLOCKS, data={"detail": "a markdown block's text"})
        if sum(len(text) for text in markdown) > MAX_MARKDOWN:
            detail = f"markdown blocks hold {MAX_MARKDOWN} characters in all"
            raise ApiError(Code.INVALID_BLOCKS, data={"detail": detail})
        if len(_encoded(items, Code.INVALID_BLOCKS)) > MAX_BYTES:
            raise ApiError(Code.MSG_BLOCKS_TOO_LONG)
        out["blocks"] = items
    items = _array(attachments, Code.INVALID_ATTACHMENTS)
    if items is not None:
        if len(items) > MAX_ATTACHMENTS:
            raise ApiError(Code.TOO_MANY_ATTACHMENTS)
        if not all(isinstance(a, dict) for a in items):
            raise ApiError(Code.INVALID_ATTACHMENTS, data={"detail": "each must be an object"})
        if len(_encoded(items, Code.INVALID_ATTACHMENTS)) > MAX_BYTES:
            raise ApiError(Code.INVALID_ATTACHMENTS, data={"detail": f"over {MAX_BYTES} bytes"})
        out["attachments"] = items
    return out


def customize(
    rich: str | None, username: str | None, icon_emoji: str | None, icon_url: str | None
) -> str | None:
    """``rich`` with the name and icon a bot's post shows instead of its own
    (``username``: 1 to :data:`MAX_USERNAME` characters; ``icon_emoji`` ``:name:``, else
    ``icon_url`` an http(s) URL), stored as Slack shows them (``username``, ``icons``);
    ``invalid_arguments`` for one that is not so. Unchanged when none is given."""
    out: dict[str, Any] = {}
    if username is not None and username.strip():
        if len(username.strip()) > MAX_USERNAME:
            raise _bad_custom("username", f"at most {MAX_USERNAME} characters")
        out["username"] = username.strip()
    if icon_emoji:
        if not is_emoji_name(icon_emoji):
            raise _bad_custom("icon_emoji", "an emoji's name between colons, :rocket:")
        out["icons"] = {"emoji": icon_emoji}
    elif icon_url:
        if len(icon_url) > MAX_ICON_URL or not icon_url.startswith(("https://", "http://")):
            raise _bad_custom("icon_url", f"an http(s) URL of at most {MAX_ICON_URL} characters")
        out["icons"] = {"image_48": icon_url}
    if not out:
        return rich
    return orjson.dumps({**fields(rich), **out}).decode()


#: The largest metadata of a message, encoded.
MAX_METADATA = 8 << 10
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.-]{1,255}")


def with_metadata(rich: str | None, raw: Any) -> str | None:
    """``rich`` with a message's ``metadata`` (Slack's: ``event_type``, a name, and
    ``event_payload``, an object), kept as given; ``invalid_metadata_format`` for
    something that is no JSON object, ``invalid_metadata_schema`` for one without those
    two, ``metadata_too_large`` past :data:`MAX_METADATA` bytes. Unchanged when none."""
    if raw is None or raw == "":
        return rich
    if isinstance(raw, (str, bytes)):
        if len(raw) > 4 * MAX_METADATA:
            raise ApiError("metadata_too_large")
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError("invalid_metadata_format", data={"detail": "not JSON"}) from None
    if not isinstance(raw, dict):
        raise ApiError("invalid_metadata_format", data={"detail": "a JSON object"})
    kind, payload = raw.get("event_type"), raw.get("event_payload")
    if not isinstance(kind, str) or not _EVENT_TYPE.fullmatch(kind):
        raise ApiError("invalid_metadata_schema", data={"detail": "event_type: a name"})
    if not isinstance(payload, dict):
        raise ApiError("invalid_metadata_schema", data={"detail": "event_payload: an object"})
    metadata = {"event_type": kind, "event_payload": payload}
    if len(_encoded([metadata], Code.INVALID_ARGUMENTS)) > MAX_METADATA:
        raise ApiError("metadata_too_large")
    return orjson.dumps({**fields(rich), "metadata": metadata}).decode()


def _bad_custom(arg: str, detail: str) -> ApiError:
    return ApiError(Code.INVALID_ARGUMENTS, data={"arg": arg, "detail": detail})


#: What a post may carry beside its content: a bot's name and icon (:func:`customize`),
#: its metadata (:func:`with_metadata`).
_NOT_CONTENT = frozenset({"username", "icons", "metadata"})


def has_content(rich: str | None) -> bool:
    """Whether ``rich`` (stored form or patch) holds any content: blocks, attachments, a
    share's files (a bot's name and icon are not content)."""
    return any(value for key, value in fields(rich).items() if key not in _NOT_CONTENT)


def tombstone_file(rich: str | None, file_id: str) -> str | None:
    """The change (:func:`merge`'s) that leaves ``file_id`` among a message's ``files``
    as Slack's tombstone, ``{"id": …, "mode": "tombstone"}``: the file was deleted. ``None``
    when the message does not carry it, or carries its tombstone already."""
    files = fields(rich).get("files")
    if not isinstance(files, list):
        return None

    def this(f: Any) -> bool:
        return isinstance(f, dict) and f.get("id") == file_id

    if not any(this(f) and f.get("mode") != "tombstone" for f in files):
        return None
    out = [{"id": file_id, "mode": "tombstone"} if this(f) else f for f in files]
    return orjson.dumps({"files": out}).decode()


def fields(rich: str | None) -> dict[str, Any]:
    """The stored content back as message fields (``{}`` when there is none)."""
    return orjson.loads(rich) if rich else {}
