"""Streamed messages: an app's reply that grows while it is written (Slack's
``chat.startStream``, ``chat.appendStream``, ``chat.stopStream``; slack_sdk's
``client.chat_stream()`` and Bolt's ``say_stream``). Pure: the clock is an argument.

A stream is a message of the app's bot whose stored content carries a ``stream`` field
(:class:`Stream`, shown to clients as the message's ``stream``: Parley's extension):
``streaming`` from its start until it is stopped, or until :data:`LIFETIME_US` after it
started (as Slack's, about five minutes), when appending or stopping answers
``message_not_in_streaming_state``. Each call brings chunks, applied in order:

- ``markdown_text`` (``{"type": "markdown_text", "text": …}``, or the ``markdown_text``
  argument): appended to the message's text;
- ``task_update`` (``id``, ``title``, ``status`` one of :data:`TASK_STATUSES`,
  ``details``, ``output``, ``sources``): a task of the reply, by ``id``; ``title``,
  ``status``, ``output`` and ``sources`` replace what it had, ``details`` is appended;
- ``plan_update`` (``title``): the plan's title, over the tasks;
- ``blocks`` (``blocks``): appended to the message's blocks.

The person a stream answers (its ``recipient_user_id``, or in a direct message the
person in it) may stop it too (Parley's: the web client's Stop): the app's next call
then answers ``stopped_by_user``, as Slack's does.

A chunk's text is at most :data:`MAX_CHUNK_TEXT` characters (``msg_too_long``); a chunk
of no known type, or missing what its type needs, is ``invalid_chunks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson

from parley.content import MAX_BLOCKS
from parley.errors import ApiError, Code

#: How long after its start a stream takes appends (Slack's: about five minutes).
LIFETIME_US = 300 * 1_000_000
#: A chunk's text, at most (Slack's ``markdown_text`` limit).
MAX_CHUNK_TEXT = 12_000
#: Chunks in one call, at most.
MAX_CHUNKS = 100
#: Tasks in one stream, at most.
MAX_TASKS = 50
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
DISPLAY_MODES = frozenset({"timeline", "plan"})
STREAMING, STOPPED = "streaming", "stopped"


class Task(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    title: str = ""
    status: str = "pending"
    details: str = ""
    output: str = ""
    sources: tuple = ()


class Stream(msgspec.Struct, frozen=True, omit_defaults=True):
    """A streamed message's state: ``started`` (Unix µs), how its tasks show
    (``task_display_mode``), the person it answers, the plan's title, the tasks."""

    state: str
    started: int
    task_display_mode: str = "timeline"
    recipient_user_id: str = ""
    plan: str = ""
    tasks: tuple[Task, ...] = ()
    #: The person who stopped it (the web client's Stop), when not its app.
    stopped_by: str = ""


class Applied(msgspec.Struct, frozen=True):
    """What chunks made of a message: its text, its stream, and blocks to add."""

    text: str
    stream: Stream
    blocks: tuple[dict, ...] = ()


def _invalid(detail: str) -> ApiError:
    return ApiError(Code.INVALID_CHUNKS, data={"detail": detail})


def _text(chunk: dict, key: str, *, required: bool = False) -> str:
    value = chunk.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _invalid(f"a {chunk.get('type')} chunk's {key} is a non-empty string")
    if len(value) > MAX_CHUNK_TEXT:
        raise ApiError(Code.MSG_TOO_LONG, data={"detail": f"{key}: {MAX_CHUNK_TEXT} at most"})
    return value


def chunks(markdown_text: str | None, raw: Any) -> list[dict]:
    """A call's chunks, checked: ``markdown_text`` first (as a chunk), then ``raw`` (a
    JSON array or its text)."""
    out: list[dict] = []
    if markdown_text:
        out.append({"type": "markdown_text", "text": markdown_text})
    if raw is None or raw == "":
        items: list = []
    elif isinstance(raw, str):
        try:
            items = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _invalid("chunks is a JSON array") from None
    else:
        items = raw
    if not isinstance(items, list) or len(items) > MAX_CHUNKS:
        raise _invalid(f"chunks is an array of at most {MAX_CHUNKS}")
    for chunk in items:
        if not isinstance(chunk, dict):
            raise _invalid("each chunk is an object")
        kind = chunk.get("type")
        if kind == "markdown_text":
            out.append({"type": kind, "text": _text(chunk, "text", required=True)})
        elif kind == "task_update":
            status = chunk.get("status", "pending")
            if status not in TASK_STATUSES:
                raise _invalid(f"a task's status is one of {sorted(TASK_STATUSES)}")
            sources = chunk.get("sources") or []
            if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
                raise _invalid("a task's sources are objects")
            out.append(
                {
                    "type": kind,
                    "id": _text(chunk, "id", required=True),
                    "title": _text(chunk, "title"),
                    "status": status,
                    "details": _text(chunk, "details"),
                    "output": _text(chunk, "output"),
                    "sources": sources,
                    "given": [k for k in ("title", "output", "sources") if k in chunk],
                }
            )
        elif kind == "plan_update":
            out.append({"type": kind, "title": _text(chunk, "title", required=True)})
        elif kind == "blocks":
            blocks = chunk.get("blocks")
            if not isinstance(blocks, list) or not all(
                isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
            ):
                raise _invalid("a blocks chunk's blocks are objects with a type")
            out.append({"type": kind, "blocks": blocks})
        else:
            raise _invalid(f"unknown chunk type {kind!r}")
    return out


def _task(tasks: Sequence[Task], chunk: dict) -> tuple[Task, ...]:
    found = next((t for t in tasks if t.id == chunk["id"]), None)
    if found is None:
        if len(tasks) >= MAX_TASKS:
            raise _invalid(f"a stream has at most {MAX_TASKS} tasks")
        found = Task(chunk["id"])
        tasks = (*tasks, found)
    given = chunk["given"]
    updated = msgspec.structs.replace(
        found,
        title=chunk["title"] if "title" in given else found.title,
        status=chunk["status"],
        details=found.details + chunk["details"],
        output=chunk["output"] if "output" in given else found.output,
        sources=tuple(chunk["sources"]) if "sources" in given else found.sources,
    )
    return tuple(updated if t.id == found.id else t for t in tasks)


def applied(text: str, stream: Stream, items: Sequence[dict]) -> Applied:
    """``items`` (from :func:`chunks`) applied to a message's ``text`` and ``stream``."""
    blocks: list[dict] = []
    for chunk in items:
        kind = chunk["type"]
        if kind == "markdown_text":
            text += chunk["text"]
        elif kind == "task_update":
            stream = msgspec.structs.replace(stream, tasks=_task(stream.tasks, chunk))
        elif kind == "plan_update":
            stream = msgspec.structs.replace(stream, plan=chunk["title"])
        else:
            blocks += chunk["blocks"]
    return Applied(text, stream, tuple(blocks))


def of(fields: dict[str, Any]) -> Stream | None:
    """The stream a message's content holds (``parley.content.fields``), if any."""
    raw = fields.get("stream")
    if not isinstance(raw, dict):
        return None
    try:
        return msgspec.convert(raw, Stream)
    except msgspec.ValidationError:
        return None


def live(fields: dict[str, Any], now_us: int) -> Stream:
    """The message's stream if it still takes appends; ``stopped_by_user`` if the
    person it answers stopped it, ``message_not_in_streaming_state`` if it never
    streamed, its app stopped it, or it outlived :data:`LIFETIME_US`."""
    stream = of(fields)
    if stream is not None and stream.stopped_by:
        raise ApiError(Code.STOPPED_BY_USER)
    if stream is None or stream.state != STREAMING or now_us - stream.started > LIFETIME_US:
        raise ApiError(Code.MESSAGE_NOT_IN_STREAMING_STATE)
    return stream


def patch(fields: dict[str, Any], result: Applied, blocks: Sequence[dict] = ()) -> str:
    """The content change (:func:`parley.content.merge`'s) that stores ``result``'s stream
    and adds its blocks and ``blocks`` after the message's (``invalid_blocks`` past
    :data:`parley.content.MAX_BLOCKS` in all)."""
    out: dict[str, Any] = {"stream": msgspec.to_builtins(result.stream)}
    added = [*result.blocks, *blocks]
    if added:
        out["blocks"] = [*(fields.get("blocks") or []), *added]
        if len(out["blocks"]) > MAX_BLOCKS:
            detail = f"a message holds at most {MAX_BLOCKS} blocks"
            raise ApiError(Code.INVALID_BLOCKS, data={"detail": detail})
    return orjson.dumps(out).decode()
