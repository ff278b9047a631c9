"""Typed access to a method's arguments, answering bad ones with Slack's error codes.

Arguments arrive as strings (query strings, form bodies) or JSON values; each accessor
accepts both spellings Slack accepts (``true``/``1``, ``"20"``/``20``) and raises
:class:`~parley.errors.ApiError` naming the argument when a value cannot be used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from parley.errors import ApiError, Code
from parley.ids import parse_ts

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bad(code: Code | str, arg: str, detail: str) -> ApiError:
    return ApiError(code, data={"arg": arg, "detail": detail})


class Args:
    """Read-only view of a request's arguments."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def raw(self, name: str) -> Any:
        return self._data.get(name)

    def file(self, name: str) -> bytes | None:
        """A file uploaded as a multipart part (:data:`.request.FILE_FIELDS`), as its
        bytes; ``None`` when none was (a text field of that name is none)."""
        value = self._data.get(name)
        return value if isinstance(value, bytes) else None

    def all(self) -> dict[str, Any]:
        """Every argument, as given."""
        return dict(self._data)

    def has(self, name: str) -> bool:
        value = self._data.get(name)
        return value is not None and value != ""

    def given(self, name: str) -> bool:
        """Whether the call named ``name`` at all, even as ``""`` (which :meth:`has` and
        :meth:`str` take for absent): an argument whose empty value means something."""
        return self._data.get(name) is not None

    def str(
        self,
        name: str,
        *,
        required: bool = False,
        missing: Code | str = Code.INVALID_ARGUMENTS,
        default: str | None = None,
        max_len: int = 10_000,
    ) -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise _bad(missing, name, f"{name} is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} must be a string")
        text = value if isinstance(value, str) else str(value)
        if len(text) > max_len:
            raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} is longer than {max_len}")
        return text

    def int(
        self,
        name: str,
        *,
        default: int,
        lo: int,
        hi: int,
        code: Code | str = Code.INVALID_ARGUMENTS,
    ) -> int:
        value = self._data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise _bad(code, name, f"{name} must be an integer")
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            number = None
        if number is None or not lo <= number <= hi:
            raise _bad(code, name, f"{name} must be an integer in [{lo}, {hi}]")
        return number

    def bool(self, name: str, *, default: bool = False) -> bool:
        value = self._data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return True
        if isinstance(value, str) and value.strip().lower() in _FALSE:
            return False
        raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} must be a boolean")

    def ts(
        self,
        name: str,
        *,
        required: bool = False,
        missing: Code | str = Code.INVALID_ARGUMENTS,
        invalid: Code | str = Code.INVALID_ARGUMENTS,
    ) -> int | None:
        """A Slack ``ts`` argument as integer microseconds."""
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise _bad(missing, name, f"{name} is required")
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = f"{value:.6f}"
        us = parse_ts(value) if isinstance(value, str) else None
        if us is None:
            raise _bad(invalid, name, f"{name} is not a valid timestamp")
        return us

    def message_ts(self, name: str = "ts") -> int:
        """The ``ts`` of the message a call names: ``message_not_found`` when it is
        missing or not a timestamp (no message could be that)."""
        ts = self.ts(
            name, required=True, missing=Code.MESSAGE_NOT_FOUND, invalid=Code.MESSAGE_NOT_FOUND
        )
        assert ts is not None
        return ts

    def list(
        self,
        name: str,
        *,
        required: bool = False,
        missing: Code | str = Code.INVALID_ARGUMENTS,
        max_items: int = 1000,
    ) -> list[str]:
        """A comma-separated list (or a JSON array) of strings."""
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise _bad(missing, name, f"{name} is required")
            return []
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [v.strip() for v in value if v.strip()]
        else:
            raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} must be a list of strings")
        if len(items) > max_items:
            raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} has more than {max_items} items")
        return items

    def json_object(self, name: str) -> dict | None:
        """A JSON object argument, given as an object or as a JSON-encoded string."""
        value = self._data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} is not valid JSON") from exc
        if not isinstance(value, dict):
            raise _bad(Code.INVALID_ARGUMENTS, name, f"{name} must be a JSON object")
        return value
