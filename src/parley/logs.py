"""Logs: one JSON object per line (or plain text), with the request id that follows a
message from the Web API through the event log to the gateway and the push worker.

- :data:`REQUEST_ID` holds the id of the request being served: the client's
  ``X-Request-Id`` when it is a sane one, else a new one (:func:`request_id`). Every log
  record made while serving it carries it as ``rid``; the event a message becomes
  carries it too (``Event.rid``), so the gateway's and the push worker's records about
  that message (``extra={"rid": ...}``) name the same id.
- Nothing logs a token or a message's text: records name ids (user, channel, ``seq``).
- :func:`setup` is called once by ``parley serve`` (``PARLEY_LOG_FORMAT`` json|text,
  ``PARLEY_LOG_LEVEL``). At ``DEBUG`` the Web API logs each call and the gateway each
  message it hands out; at ``INFO`` (the default) neither, so the hot paths pay nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
from contextvars import ContextVar

import orjson

REQUEST_ID: ContextVar[str] = ContextVar("parley_request_id", default="")
#: The request ids' own generator (seeded once from the system; not the global one,
#: which tests and libraries may seed or watch).
_IDS = random.Random()
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
#: LogRecord attributes that are not a caller's ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def request_id(offered: str | None = None) -> str:
    """``offered`` (a client's ``X-Request-Id``) if it is 1-64 of ``A-Z a-z 0-9 . _ : -``,
    else a new random id: 64 bits from the process's PRNG, not the system's (an id
    follows a request, it guards nothing; the ``getrandom`` call each send paid showed
    in py-spy at about 2% of the event loop)."""
    if offered and _SANE.match(offered):
        return offered
    return f"{_IDS.getrandbits(64):016x}"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "rid"?, ...extra, "exc"?}``, one line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "rid", None) or REQUEST_ID.get()
        if rid:
            out["rid"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup(fmt: str = "json", level: str = "INFO") -> None:
    """Configures the root logger for a serving process (once)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("picows").setLevel(logging.WARNING)  # it logs every connection at INFO
