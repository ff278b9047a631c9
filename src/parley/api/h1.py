"""HTTP/1.1 as bytes in, requests out, and responses to bytes: the sans-I/O core of
Parley's HTTP server (:mod:`parley.api.h1server` is its socket shell).

:class:`RequestReader` wraps httptools' parser (llhttp, Node's) and applies the server's
bounds. :meth:`RequestReader.feed` takes what a connection received and returns what
that completed, in order:

- a :class:`Request`: one whole request, to answer in turn (keep-alive and pipelining:
  a connection's requests are answered in the order they came);
- :data:`CONTINUE`: the client sent ``Expect: 100-continue`` and waits for
  ``100 Continue`` before its body;
- a :class:`Refusal`: answer it, then close; the reader takes nothing more.

Bounds (constructor parameters):

- **Head**: the request line and headers at most ``max_header`` bytes and
  ``max_headers`` fields, else 431. Bytes that do not yet make a whole header count
  too (past ``max_header`` + 64 KiB of an unfinished head, 431), so a client cannot make
  the parser buffer an endless header.
- **Body**: at most ``max_body`` bytes (``upload``: ``(path prefix, bytes)``, a larger
  bound for the requests whose path begins so: files' uploads). A bigger body (by
  ``Content-Length`` or as chunks arrive) is read and dropped, up to 16 times
  ``max_body``, so the client, still
  sending, gets an answer instead of a broken pipe; its request comes with
  ``body=None`` (the app answers 413) and the connection stays open. A body announced
  or sent past 16 times, or a too-large one whose client waits for ``100 Continue``, is
  handed over at once with ``body=None`` and ``keep_alive=False``: the connection
  closes after the answer.
- **Malformed** (bad request line, header or chunk framing, conflicting lengths): 400.
- An ``Upgrade`` request is answered as plain HTTP and the connection closed after it:
  this server does not switch protocols (WebSockets are the gateway's own port).
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

import httptools
import msgspec
import orjson

from parley.api.dispatch import JSON

#: How far past ``max_header`` an unfinished head may run before it is refused.
_HEAD_SLACK = 64 << 10
#: A body past ``max_body`` is read and dropped up to this many times ``max_body``.
DISCARD_FACTOR = 16


class Request(msgspec.Struct, frozen=True):
    """One request, whole. ``headers``: names lower-cased, values latin-1 decoded, repeats
    joined (``, ``; cookies ``; ``). ``body`` is ``None`` when it was over ``max_body``.
    ``keep_alive``: the connection may carry another request after this one's answer."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes | None
    keep_alive: bool


class Refusal(msgspec.Struct, frozen=True):
    """A request the reader will not hand over (``status`` 400 or 431); answer and close."""

    status: int
    error: str


#: The client waits for ``100 Continue`` before sending its body.
CONTINUE = object()
CONTINUE_BYTES = b"HTTP/1.1 100 Continue\r\n\r\n"


class RequestReader:
    """Turns a connection's bytes into :class:`Request`, :data:`CONTINUE` and
    :class:`Refusal` (see the module docstring for the bounds)."""

    def __init__(
        self,
        *,
        max_header: int,
        max_headers: int,
        max_body: int,
        upload: tuple[str, int] | None = None,
    ) -> None:
        self._max_header = max_header
        self._max_headers = max_headers
        self._max_body = self._default_body = max_body
        self._upload = (upload[0].encode(), upload[1]) if upload else None
        self._parser = httptools.HttpRequestParser(self)
        self._out: list[object] = []
        #: Nothing more is read: a refusal, an upgrade, or a request handed over early.
        self._stopped = False
        #: Between requests or inside a head (not in a body).
        self._in_head = True
        self._raw_head = 0
        self._boundary = False
        self._begin()

    @property
    def in_body(self) -> bool:
        """Whether a request's head has come and its body is arriving."""
        return not self._in_head and not self._stopped

    def feed(self, data: bytes) -> list[object]:
        """What ``data`` completed (possibly nothing), in order."""
        if self._stopped:
            return []
        self._boundary = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._stopped = True  # the upgrade request itself was handed over
        except httptools.HttpParserError:
            if not self._stopped:
                self._refuse(400, "invalid_request")
        if self._in_head and not self._stopped:
            # the parser holds an unfinished head's bytes until the header is whole:
            # count them (from the last whole head on; a chunk that finished one starts
            # the count again, so pipelined requests are never counted together)
            self._raw_head = 0 if self._boundary else self._raw_head + len(data)
            if self._raw_head > self._max_header + _HEAD_SLACK:
                self._refuse(431, "request_header_fields_too_large")
        return self._take()

    def _take(self) -> list[object]:
        out, self._out = self._out, []
        return out

    def _begin(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._too_large = False
        self._method = ""
        self._keep_alive = True
        self._fields: dict[str, str] = {}

    def _refuse(self, status: int, error: str) -> None:
        self._out.append(Refusal(status, error))
        self._stopped = True

    def _hand_over(self, body: bytes | None, keep_alive: bool) -> None:
        url = httptools.parse_url(self._url)
        path = (url.path or b"/").decode("latin-1")
        if "%" in path:
            path = unquote(path, encoding="latin-1")
        query = url.query.decode("latin-1") if url.query else ""
        self._out.append(Request(self._method, path, query, self._fields, body, keep_alive))

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._begin()
        self._in_head = True

    def on_url(self, url: bytes) -> None:
        if self._stopped:
            return
        self._url += url
        self._head_size += len(url)
        if self._head_size > self._max_header:
            self._refuse(431, "request_header_fields_too_large")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._stopped:
            return
        self._headers.append((name, value))
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self._max_header or len(self._headers) > self._max_headers:
            self._refuse(431, "request_header_fields_too_large")

    def on_headers_complete(self) -> None:
        if self._stopped:
            return
        self._in_head = False
        self._boundary = True
        upload = self._upload
        big = upload is not None and self._url.startswith(upload[0])
        self._max_body = upload[1] if big and upload is not None else self._default_body
        parser = self._parser
        self._method = parser.get_method().decode("ascii")
        self._keep_alive = parser.should_keep_alive() and not parser.should_upgrade()
        fields: dict[str, str] = {}
        for raw_name, raw_value in self._headers:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name in fields:
                value = fields[name] + ("; " if name == "cookie" else ", ") + value
            fields[name] = value
        self._fields = fields
        waits = fields.get("expect", "").lower() == "100-continue"
        length = fields.get("content-length", "")
        # llhttp has checked it is digits (and that it does not conflict with chunking)
        size = int(length) if length.isdigit() else 0
        if size > self._max_body:
            self._too_large = True
            if size > DISCARD_FACTOR * self._max_body or waits:
                self._early()
                return
        if waits:
            self._out.append(CONTINUE)

    def _early(self) -> None:
        """Hands the request over now without its body, and stops reading."""
        self._hand_over(None, False)
        self._stopped = True

    def on_body(self, chunk: bytes) -> None:
        if self._stopped:
            return
        self._body_size += len(chunk)
        if self._too_large:
            if self._body_size > DISCARD_FACTOR * self._max_body:
                self._early()
        elif self._body_size > self._max_body:
            self._too_large = True
            self._body.clear()
        else:
            self._body.append(chunk)

    def on_message_complete(self) -> None:
        if self._stopped:
            return
        body = None if self._too_large else b"".join(self._body)
        self._hand_over(body, self._keep_alive)
        if not self._keep_alive:
            self._stopped = True
        self._in_head = True


_STATUS_LINES: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode()
    return line


class DateHeader:
    """The ``date`` header line, built once a second from ``clock`` (Unix seconds)."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        second = int(self._clock())
        if second != self._second:
            self._second = second
            self._line = b"date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        return self._line


def encode_response(
    status: int,
    headers: tuple[tuple[str, str], ...] | list[tuple[str, str]],
    body: bytes,
    *,
    date: bytes,
    head: bool = False,
    close: bool = False,
) -> bytes:
    """A whole response: status line, ``headers`` (CR and LF in a name or value would
    split the header, so they are replaced by spaces), ``content-length``, ``date``,
    ``connection: close`` when ``close``, then ``body`` unless answering a HEAD."""
    lines = []
    for name, value in headers:
        line = f"{name}: {value}\r\n"
        if line.count("\n") != 1 or line.count("\r") != 1:
            line = f"{_flat(name)}: {_flat(value)}\r\n"
        lines.append(line)
    if close:
        lines.append("connection: close\r\n")
    lines.append(f"content-length: {len(body)}\r\n")
    out = _status_line(status) + "".join(lines).encode("latin-1", "replace") + date + b"\r\n"
    return out if head else out + body


def _flat(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def refusal_response(refusal: Refusal, date: bytes) -> bytes:
    """A :class:`Refusal`'s answer: a Slack-style JSON error, and the connection closes."""
    body = orjson.dumps({"ok": False, "error": refusal.error})
    headers = (("content-type", JSON),)
    return encode_response(refusal.status, headers, body, date=date, close=True)
