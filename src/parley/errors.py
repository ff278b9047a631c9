"""Parley's exceptions and the Slack error codes the Web API answers with.

Every exception Parley raises on purpose derives from :class:`ParleyError`::

    ParleyError
    ├── ApiError            a request the API refuses: Slack code, HTTP status, extra data
    ├── StorageError        the store failed (sqlite3 / MySQL errors are translated to this)
    │   └── StorageUnavailable   the store cannot take work right now (closed, disk, lock)
    └── ConfigError         settings that cannot be served

Foreign exceptions (sqlite3, OS errors) are translated at the edge of the package that
owns the dependency; nothing above ``storage`` sees a ``sqlite3.Error``.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Slack's error codes, as strings on the wire (``{"ok": false, "error": code}``)."""

    NOT_AUTHED = "not_authed"
    INVALID_AUTH = "invalid_auth"
    TOKEN_REVOKED = "token_revoked"
    MISSING_SCOPE = "missing_scope"
    ACCOUNT_INACTIVE = "account_inactive"
    CHANNEL_NOT_FOUND = "channel_not_found"
    NOT_IN_CHANNEL = "not_in_channel"
    FILE_NOT_FOUND = "file_not_found"
    IS_ARCHIVED = "is_archived"
    ALREADY_ARCHIVED = "already_archived"
    NOT_ARCHIVED = "not_archived"
    NO_TEXT = "no_text"
    MSG_TOO_LONG = "msg_too_long"
    INVALID_BLOCKS = "invalid_blocks"
    INVALID_BLOCKS_FORMAT = "invalid_blocks_format"
    MSG_BLOCKS_TOO_LONG = "msg_blocks_too_long"
    INVALID_ATTACHMENTS = "invalid_attachments"
    TOO_MANY_ATTACHMENTS = "too_many_attachments"
    MESSAGE_NOT_FOUND = "message_not_found"
    THREAD_NOT_FOUND = "thread_not_found"
    NOT_FOUND = "not_found"
    CANT_UPDATE_MESSAGE = "cant_update_message"
    MESSAGE_NOT_IN_STREAMING_STATE = "message_not_in_streaming_state"
    STOPPED_BY_USER = "stopped_by_user"
    INVALID_CHUNKS = "invalid_chunks"
    MISSING_RECIPIENT_USER_ID = "missing_recipient_user_id"
    MISSING_RECIPIENT_TEAM_ID = "missing_recipient_team_id"
    CANT_DELETE_MESSAGE = "cant_delete_message"
    EDIT_CONFLICT = "edit_conflict"
    ALREADY_REACTED = "already_reacted"
    NO_REACTION = "no_reaction"
    INVALID_NAME = "invalid_name"
    NAME_TAKEN = "name_taken"
    USER_NOT_FOUND = "user_not_found"
    USER_NOT_IN_CHANNEL = "user_not_in_channel"
    TEAM_NOT_FOUND = "team_not_found"
    METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE = "method_not_supported_for_channel_type"
    USERS_NOT_FOUND = "users_not_found"
    ALREADY_IN_CHANNEL = "already_in_channel"
    CANT_INVITE_SELF = "cant_invite_self"
    CANT_KICK_SELF = "cant_kick_self"
    NOT_AUTHORIZED = "not_authorized"
    TOO_LONG = "too_long"
    NO_USER = "no_user"
    NO_QUERY = "no_query"
    SNOOZE_NOT_ACTIVE = "snooze_not_active"
    TOO_MANY_DEVICES = "too_many_devices"
    DEVICE_NOT_FOUND = "device_not_found"
    NOT_ALLOWED_TOKEN_TYPE = "not_allowed_token_type"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_LIMIT = "invalid_limit"
    INVALID_TS_LATEST = "invalid_ts_latest"
    INVALID_TS_OLDEST = "invalid_ts_oldest"
    INVALID_TIMESTAMP = "invalid_timestamp"
    INVALID_ARGUMENTS = "invalid_arguments"
    INVALID_ARG_NAME = "invalid_arg_name"
    INVALID_JSON = "invalid_json"
    INVALID_FORM_DATA = "invalid_form_data"
    INVALID_POST_TYPE = "invalid_post_type"
    REQUEST_TOO_LARGE = "request_too_large"
    UNKNOWN_METHOD = "unknown_method"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    RATELIMITED = "ratelimited"
    FATAL_ERROR = "fatal_error"
    INTERNAL_ERROR = "internal_error"


class ParleyError(Exception):
    """Root of every exception Parley raises on purpose."""


class ConfigError(ParleyError):
    """Settings that cannot be served (bad value, unreadable data dir)."""


class StorageError(ParleyError):
    """The store failed; the operation did not take effect."""


class StorageUnavailable(StorageError):
    """The store cannot take work right now; retrying later may succeed, after
    ``retry_after`` seconds when known (an open circuit breaker knows)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiError(ParleyError):
    """A refused request: a stable Slack ``code``, an HTTP ``status`` and extra body ``data``.

    The Web API renders it as ``{"ok": false, "error": code, **data}`` with ``status``
    and ``headers`` (for example ``Retry-After``).
    """

    def __init__(
        self,
        code: Code | str,
        *,
        status: int = 200,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = str(code)
        self.status = status
        self.data = data or {}
        self.headers = headers or {}
        super().__init__(self.code)

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, status={self.status})"


def unavailable(exc: StorageUnavailable) -> ApiError:
    """How a client hears that the store cannot take its request now: ``fatal_error``,
    HTTP 503 and ``Retry-After`` in whole seconds (at least 1; the time an open circuit
    breaker has left when there is one)."""
    wait = max(1, math.ceil(exc.retry_after or 1))
    return ApiError(Code.FATAL_ERROR, status=503, headers={"retry-after": str(wait)})
