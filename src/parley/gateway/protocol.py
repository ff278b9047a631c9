"""The RTM session protocol, sans I/O: client frames in, commands and reply frames out.

Client frames (JSON objects):

- ``{"id": N, "type": "message", "channel": C, "text": T}`` (optionally ``thread_ts``,
  ``client_msg_id``, ``reply_broadcast``): a :class:`Send`, answered by :func:`ack` or
  :func:`nack` with ``reply_to: N``.
- ``{"id": N, "type": "ping"}``: answered ``{"type": "pong", "reply_to": N}``.
- ``{"type": "typing", "channel": C}``: a :class:`Typing`.
- ``{"type": "presence_sub", "ids": [U, ...]}``: a :class:`PresenceSub`, replacing the
  set of users whose ``presence_change`` events this connection receives (none until it
  asks, as in Slack: presence is opt-in, so a team's connections never all hear of
  each other); answered with each one's current presence.
- ``{"type": "presence_query", "ids": [U, ...]}``: each one's current presence, once.

Anything else is answered with an error frame (``{"ok": false, "reply_to": N, "error":
{"code": …, "msg": …}}``, or ``"type": "error"`` instead of ``reply_to`` when the frame
carried no usable ``id``) and never raises; the one frame that closes the connection is
text that is not UTF-8 (:class:`Close`, code 1007), which RFC 6455 §8.1 requires.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import orjson

from parley import wire
from parley.ids import format_ts, parse_ts
from parley.storage.models import Message

HELLO = orjson.dumps({"type": "hello"})
GOODBYE = orjson.dumps({"type": "goodbye"})


class Send(msgspec.Struct, frozen=True):
    reply_to: Any
    channel: str | None
    text: str | None
    thread_ts: int | None = None
    client_msg_id: str | None = None
    reply_broadcast: bool = False


class Typing(msgspec.Struct, frozen=True):
    channel: str


class PresenceSub(msgspec.Struct, frozen=True):
    ids: tuple[str, ...]
    subscribe: bool = True  # False: presence_query, an answer without a subscription


MAX_PRESENCE_IDS = 5000


class Reply(msgspec.Struct, frozen=True):
    """A frame to send back to this client only."""

    data: bytes


class Close(msgspec.Struct, frozen=True):
    """Close the connection with ``code`` and ``reason`` (RFC 6455 §7.4)."""

    code: int
    reason: str


#: RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
NOT_UTF8 = Close(1007, "text frames must be UTF-8")

Command = Send | Typing | PresenceSub | Reply | Close


def error_frame(reply_to: Any, code: str, msg: str) -> bytes:
    body: dict[str, Any] = {"ok": False, "error": {"code": code, "msg": msg}}
    if reply_to is not None:
        body["reply_to"] = reply_to
    else:
        body["type"] = "error"
    return orjson.dumps(body)


def ack(reply_to: Any, message: Message) -> bytes:
    return orjson.dumps(
        {
            "ok": True,
            "reply_to": reply_to,
            "ts": format_ts(message.ts),
            "text": message.text,
            "channel": message.channel,
            "seq": message.seq,
            "message": wire.message(message),
        }
    )


def nack(reply_to: Any, code: str, data: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {
        "ok": False,
        "reply_to": reply_to,
        "error": {"code": code, "msg": code.replace("_", " ")},
    }
    if data:
        body["error"].update(data)
    return orjson.dumps(body)


def ratelimited(reply_to: Any, retry_after: float) -> bytes:
    """The answer to a frame refused for coming too fast: retry in whole seconds."""
    retry = max(1, math.ceil(retry_after))
    if reply_to is None:
        return orjson.dumps(
            {
                "type": "error",
                "ok": False,
                "error": {"code": "ratelimited", "msg": "ratelimited", "retry_after": retry},
            }
        )
    return nack(reply_to, "ratelimited", {"retry_after": retry})


def reply_id(data: bytes | str) -> Any:
    """The ``id`` of a frame that will not be run (to answer it), or ``None``."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    reply_to = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(reply_to, bool) or not isinstance(reply_to, (int, str)):
        return None
    return reply_to


def _str(frame: dict, key: str, limit: int) -> str | None:
    value = frame.get(key)
    return value if isinstance(value, str) and len(value) <= limit else None


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def parse(data: bytes | str, *, max_text: int) -> Command:
    """One client frame as the command it asks for (a :class:`Reply` if it is bad, or
    :data:`NOT_UTF8` if it is not text)."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, bytes) and not _utf8(data):
            return NOT_UTF8
        return Reply(error_frame(None, "invalid_json", "frames must be JSON objects"))
    if not isinstance(frame, dict):
        return Reply(error_frame(None, "invalid_json", "frames must be JSON objects"))
    reply_to = frame.get("id")
    if reply_to is not None and (
        isinstance(reply_to, bool) or not isinstance(reply_to, (int, str))
    ):
        return Reply(error_frame(None, "invalid_arguments", "id must be a number or string"))
    kind = frame.get("type")
    if kind == "ping":
        pong = {k: v for k, v in frame.items() if k not in ("type", "id")}
        pong.update({"type": "pong", "reply_to": reply_to})
        try:
            return Reply(orjson.dumps(pong))
        except TypeError:  # fields orjson reads but cannot write (nested past 254 levels)
            return Reply(orjson.dumps({"type": "pong", "reply_to": reply_to}))
    if kind == "typing":
        channel = _str(frame, "channel", 32)
        if channel is None:
            return Reply(error_frame(reply_to, "channel_not_found", "unknown channel"))
        return Typing(channel)
    if kind in ("presence_sub", "presence_query"):
        ids = frame.get("ids")
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_PRESENCE_IDS
            or not all(isinstance(i, str) and 0 < len(i) <= 32 for i in ids)
        ):
            return Reply(
                error_frame(
                    reply_to, "invalid_arguments", f"ids: up to {MAX_PRESENCE_IDS} user ids"
                )
            )
        return PresenceSub(tuple(dict.fromkeys(ids)), kind == "presence_sub")
    if kind == "message":
        text = frame.get("text")
        if text is not None and not isinstance(text, str):
            return Reply(nack(reply_to, "invalid_arguments"))
        if isinstance(text, str) and len(text) > max_text:
            return Reply(nack(reply_to, "msg_too_long"))
        thread_ts = None
        if frame.get("thread_ts") is not None:
            raw = frame["thread_ts"]
            thread_ts = parse_ts(raw) if isinstance(raw, str) else None
            if thread_ts is None:
                return Reply(nack(reply_to, "thread_not_found"))
        return Send(
            reply_to,
            _str(frame, "channel", 32),
            text,
            thread_ts,
            _str(frame, "client_msg_id", 128),
            frame.get("reply_broadcast") is True,
        )
    return Reply(error_frame(reply_to, "unknown_type", f"unsupported frame type {kind!r}"))
