"""The Web API described as OpenAPI 3.0, from one table of methods. Pure: no I/O.

:data:`METHODS` lists every ``/api/<method>`` the server registers, with its arguments
and the fields of its success answer; :func:`document` turns it into the OpenAPI
document that :mod:`parley.api.http` encodes once and serves at ``GET /api/openapi.json``.
A test holds :data:`METHODS` equal to the methods the running server registers (names and
whether GET is allowed), so the description cannot drift from the code.

What the document states for every method, as :mod:`parley.api.dispatch` does it:

- ``POST`` with a JSON object, form-encoded or multipart body (query arguments are merged
  in); read methods also ``GET`` with query arguments.
- The token comes as ``Authorization: Bearer <token>`` or as a ``token`` argument.
- Every answer is JSON: ``{"ok": true, ...}`` or ``{"ok": false, "error": "<slack code>"}``.
  Refusals are ``200`` with ``ok: false`` (as in Slack); ``400`` for a request that is not
  valid HTTP/1.1, ``431`` for a head over the limit, ``413`` for a body over the limit,
  ``429`` with ``Retry-After`` when rate limited, ``503`` with ``Retry-After`` when the
  store cannot take work, ``500`` for a bug. A path that names no method answers ``404``
  ``unknown_method`` and a method called with the wrong verb ``405``
  ``method_not_allowed`` with ``Allow``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from parley import __version__, content

JsonSchema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument. ``schema`` is its JSON-body type; ``text`` its type in a query string
    or form body when that differs (a JSON object sent as JSON text)."""

    name: str
    schema: JsonSchema
    doc: str
    required: bool = False
    text: JsonSchema | None = None


@dataclass(frozen=True, slots=True)
class MethodDoc:
    """One Web API method: ``read`` methods may also be called with GET. ``result`` holds
    the success answer's fields besides ``ok``; ``always`` names those always present."""

    name: str
    summary: str
    read: bool = False
    args: tuple[Arg, ...] = ()
    result: dict[str, JsonSchema] = field(default_factory=dict)
    always: tuple[str, ...] = ()
    #: Called without a token (``api.test``).
    public: bool = False


# -- argument and result building blocks -----------------------------------------------------

_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_STEP = {"type": "string", "enum": ["index", "push"]}
_TS = {"type": "string", "pattern": r"^\d{1,12}(\.\d{1,6})?$", "example": "1700000000.000100"}


#: What an app exchanges its consent page's code with (``oauth.v2.access``,
#: ``openid.connect.token``).
_CODE_EXCHANGE = (
    Arg("client_id", _STR, "The app's client id (`parley app oauth`)."),
    Arg("client_secret", _STR, "Its client secret."),
    Arg("code", _STR, "The code the consent page sent back.", required=True),
    Arg("redirect_uri", _STR, "The `redirect_uri` the authorization named, if any."),
    Arg("grant_type", _STR, "`authorization_code` (the default) only."),
)

#: A reminder of the caller's (``reminders.*``).
_REMINDER = Arg("reminder", {"type": "string", "maxLength": 64}, "Its id (`Rm…`).", required=True)
#: An emoji's name (``admin.emoji.*``), with or without its colons.
_EMOJI_NAME = Arg("name", {"type": "string", "maxLength": 102}, "The emoji's name.", required=True)
#: The user an ``admin.users.*`` method acts on, and (where Slack asks) their workspace.
_USER_ID = Arg("user_id", {"type": "string", "maxLength": 64}, "User id (`U…`).", required=True)
_RETENTION_CHANNEL = Arg(
    "channel_id",
    {"type": "string", "maxLength": 64},
    "A conversation of the caller's workspace (`channel_not_found` otherwise).",
    required=True,
)
_ADMIN_USER = (
    Arg(
        "team_id",
        {"type": "string", "maxLength": 64},
        "The caller's workspace (`team_not_found` for another).",
        required=True,
    ),
    _USER_ID,
)
#: Which dead letters ``admin.dlq.replay`` and ``admin.dlq.purge`` act on.
_DLQ_CHOICE = (
    Arg("step", _STEP, "Their step.", required=True),
    Arg("items", {"type": "string", "maxLength": 100000}, "Items, comma-separated."),
    Arg("all", _BOOL, "Every dead letter of the step."),
)


def _ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> JsonSchema:
    return {"type": "array", "items": _ref(name)}


def _channel(doc: str = "Channel id (`C…`).") -> Arg:
    return Arg("channel", {"type": "string", "maxLength": 32}, doc, required=True)


def _ts(name: str, doc: str, *, required: bool = False) -> Arg:
    return Arg(name, _TS, doc, required=required)


def _bool(name: str, doc: str) -> Arg:
    return Arg(name, _BOOL, doc)


_DEVICE = (
    Arg("platform", {"type": "string", "enum": ["apns", "fcm"]}, "The provider.", required=True),
    Arg("device_token", {"type": "string", "maxLength": 4096}, "The token.", required=True),
)

_CURSOR = Arg(
    "cursor",
    {"type": "string", "maxLength": 256},
    "`response_metadata.next_cursor` of the previous page; absent or empty for the first.",
)


def _limit(default: int, maximum: int) -> Arg:
    return Arg(
        "limit",
        {"type": "integer", "minimum": 0},
        f"Page size: 0 or absent means {default}; above {maximum} is clamped.",
    )


_PAGE = {"response_metadata": _ref("ResponseMetadata")}
#: ``chat.postMessage``'s and ``chat.update``'s ``link_names``.
_LINK_NAMES = Arg(
    "link_names",
    {"type": "boolean"},
    "Write `@name`, `@handle`, `@here` and `#channel` as mentions and channel links.",
)
#: A message's ``metadata``.
_METADATA = Arg(
    "metadata",
    {"type": "string", "maxLength": 32768},
    "JSON: `event_type` and `event_payload` (an object), kept with the message; apps in "
    "the channel hear `message_metadata_posted`.",
)
#: The arguments of the ``search.*`` methods' query and pages.
_SEARCH_PAGE = (
    Arg("query", {"type": "string", "maxLength": 1000}, "The query.", required=True),
    Arg("sort", {"type": "string", "enum": ["score", "timestamp"]}, "Default `score`."),
    Arg("sort_dir", {"type": "string", "enum": ["desc", "asc"]}, "Default `desc`."),
    Arg("count", {"type": "integer", "minimum": 0}, "Per page: default 20, at most 100."),
    Arg("page", {"type": "integer", "minimum": 1}, "Page number (from 1)."),
)
_HISTORY_BOUNDS = (
    _ts("latest", "Only messages before this ts (`invalid_ts_latest` if malformed)."),
    _ts("oldest", "Only messages after this ts (`invalid_ts_oldest` if malformed)."),
    _bool("inclusive", "Include messages at exactly `latest` and `oldest`."),
)
_TEXT = Arg(
    "text",
    _STR,
    "Message text; at most `PARLEY_MAX_TEXT` (40000) characters, else `msg_too_long`. "
    "Optional with blocks or attachments (then their fallback).",
)


def _objects(max_items: int) -> JsonSchema:
    """A JSON array of objects, or its JSON text (as form bodies send it)."""
    return {
        "oneOf": [
            {"type": "array", "maxItems": max_items, "items": {"type": "object"}},
            {"type": "string", "description": "The array as JSON text (form bodies)."},
        ]
    }


_STREAM_CHUNKS = (
    Arg(
        "markdown_text",
        {"type": "string", "maxLength": 12000},
        "Text appended to the message (`msg_too_long` past 12,000 characters).",
    ),
    Arg(
        "chunks",
        _objects(100),
        "Chunks applied in order (`invalid_chunks`): `markdown_text` (`text`, appended), "
        "`task_update` (`id`, `title`, `status` pending/in_progress/complete/error, "
        "`details` appended, `output`, `sources`), `plan_update` (`title`), `blocks` "
        "(appended to the message's).",
    ),
)
_ASSISTANT_CHANNEL = Arg(
    "channel_id", {"type": "string", "maxLength": 32}, "The conversation.", required=True
)
_MARKDOWN_TEXT = Arg(
    "markdown_text",
    {"type": "string", "maxLength": 12000},
    "Standard markdown instead of `text` and `blocks` (`invalid_arguments` with either): "
    "kept as the text and a `markdown` block holding it; 12,000 characters at most "
    "(`msg_too_long`).",
)
_RICH = (
    Arg(
        "blocks",
        _objects(content.MAX_BLOCKS),
        "Block Kit blocks, stored and returned as given: at most 50, each with a `type` "
        "(`invalid_blocks`, `invalid_blocks_format`), at most 64 KiB (`msg_blocks_too_long`). "
        "On `chat.update`, replaces the blocks; left out, they stay.",
    ),
    Arg(
        "attachments",
        _objects(content.MAX_ATTACHMENTS),
        "Legacy attachments, stored and returned as given: at most 100 "
        "(`too_many_attachments`), at most 64 KiB (`invalid_attachments`).",
    ),
)


#: A list of conversations: which kinds, archived or not, a page at a time.
_CHANNEL_LISTING = (
    Arg(
        "types",
        _STR,
        "Comma-separated among `public_channel` (default), `private_channel`, `im` (direct "
        "messages), `mpim` (group direct messages) (`invalid_types`).",
    ),
    _bool("exclude_archived", "Leave archived channels out."),
    _CURSOR,
    _limit(100, 1000),
)


# -- the methods --------------------------------------------------------------------------------

METHODS: tuple[MethodDoc, ...] = (
    MethodDoc(
        "apps.connections.open",
        "A Socket Mode connection's URL, for an app-level token (scope "
        "`connections:write`): single-use, valid for 30 seconds.",
        result={"url": _STR},
        always=("url",),
    ),
    MethodDoc(
        "oauth.v2.access",
        "Exchanges the code of an app's consent page (`/oauth/v2/authorize`) for tokens, "
        "once, within 10 minutes: the bot's (`access_token`, of the scopes granted) and, "
        "when user scopes were granted, the installer's (`authed_user.access_token`). The "
        "client id and secret come as arguments or as HTTP Basic credentials; no token.",
        read=True,
        public=True,
        args=_CODE_EXCHANGE,
        result={
            "access_token": _STR,
            "token_type": _STR,
            "scope": _STR,
            "bot_user_id": _STR,
            "app_id": _STR,
            "team": {"type": "object"},
            "enterprise": {"nullable": True},
            "is_enterprise_install": _BOOL,
            "authed_user": {"type": "object"},
        },
        always=("app_id", "team", "authed_user"),
    ),
    MethodDoc(
        "openid.connect.token",
        "Sign in with Slack: exchanges the code of `/openid/connect/authorize` for a token "
        "of the person's (good for `openid.connect.userInfo`) and an `id_token`, a JWT "
        "signed RS256 with the key at `/openid/connect/keys`. Once, within 10 minutes; the "
        "client id and secret as arguments or HTTP Basic credentials; no token.",
        read=True,
        public=True,
        args=_CODE_EXCHANGE,
        result={"access_token": _STR, "token_type": _STR, "id_token": _STR},
        always=("access_token", "token_type", "id_token"),
    ),
    MethodDoc(
        "openid.connect.userInfo",
        "Sign in with Slack: who the token's person is, as its scopes allow (`openid`: "
        "`sub` and the Slack ids; `email`; `profile`: names, locale and `picture`).",
        read=True,
        result={"sub": _STR, "email": _STR, "email_verified": _BOOL, "name": _STR},
        always=("sub",),
    ),
    MethodDoc(
        "apps.uninstall",
        "Uninstalls an app installed with OAuth from the token's workspace: every token its "
        "installations got is revoked (its bot's and the installers'), and the app hears "
        "`tokens_revoked` and `app_uninstalled`.",
        args=(
            Arg("client_id", _STR, "The app's client id.", required=True),
            Arg("client_secret", _STR, "Its client secret.", required=True),
        ),
    ),
    MethodDoc(
        "api.test",
        "Checks calling code, with no token: the arguments come back in `args`; with "
        "`error`, the call fails with that error (and `args`).",
        read=True,
        public=True,
        args=(Arg("error", {"type": "string", "maxLength": 100}, "An error to answer."),),
        result={"args": {"type": "object", "additionalProperties": {"type": "string"}}},
        always=("args",),
    ),
    MethodDoc(
        "auth.test",
        "Who the token belongs to.",
        read=True,
        result={
            "url": _STR,
            "team": _STR,
            "user": _STR,
            "team_id": _STR,
            "user_id": _STR,
            "bot_id": _STR,
            "is_enterprise_install": _BOOL,
            "scopes": {"type": "string", "description": "The token's scopes, comma-separated."},
        },
        always=("url", "team", "user", "team_id", "user_id"),
    ),
    MethodDoc(
        "auth.revoke",
        "Revokes the calling token; with `test` only says whether it would.",
        read=True,
        args=(_bool("test", "Do not revoke; answer `revoked: false`."),),
        result={"revoked": _BOOL},
        always=("revoked",),
    ),
    MethodDoc(
        "chat.postMessage",
        "Posts a message (or a thread reply); acknowledged once durably written.",
        args=(
            _channel(
                "Channel id (`C…`, `G…`, `D…`), or a user id (`U…`): the direct message "
                "with that user, opened if need be."
            ),
            _TEXT,
            _MARKDOWN_TEXT,
            *_RICH,
            _ts("thread_ts", "Reply in the thread of this message (`thread_not_found`)."),
            _bool("reply_broadcast", "A thread reply that is also shown in the channel."),
            _bool(
                "unfurl_links",
                "Preview the pages it links to (the server fetches them); a person's posts "
                "do unless false, an app's only if true.",
            ),
            _bool("unfurl_media", "Preview the images it links to (unless false)."),
            _LINK_NAMES,
            _METADATA,
            Arg(
                "client_msg_id",
                {"type": "string", "maxLength": 128},
                "Idempotency key: a retry with the same id returns the original message.",
            ),
            Arg(
                "username",
                {"type": "string", "maxLength": 81},
                "A bot's token with `chat:write.customize`: the name the post shows (at most "
                "80 characters); ignored for others.",
            ),
            Arg(
                "icon_emoji",
                {"type": "string", "maxLength": 100},
                "The same: its icon, an emoji's name between colons (`:rocket:`).",
            ),
            Arg(
                "icon_url",
                {"type": "string", "maxLength": 501},
                "The same: its icon, an http(s) image URL (when no `icon_emoji`).",
            ),
        ),
        result={"channel": _STR, "ts": _STR, "message": _ref("Message")},
        always=("channel", "ts", "message"),
    ),
    MethodDoc(
        "chat.postEphemeral",
        "Shows a message to one member of a channel, on the connections they have open "
        "now (a `message` event with `is_ephemeral`, no `seq`); it is not stored.",
        args=(
            _channel(),
            Arg(
                "user",
                {"type": "string", "maxLength": 32},
                "The member who sees it (`user_not_in_channel` for anyone else).",
                required=True,
            ),
            _TEXT,
            _MARKDOWN_TEXT,
            *_RICH,
            _ts("thread_ts", "Show it in the thread of this message."),
        ),
        result={"message_ts": _STR},
        always=("message_ts",),
    ),
    MethodDoc(
        "chat.command",
        "Runs a slash command of the workspace (`parley app command`) in a channel the "
        "caller may post in; the command's app gets it and answers (`invalid_command`, "
        "`dispatch_failed`, `operation_timeout`; a bot token: `not_allowed_token_type`).",
        args=(
            _channel(),
            Arg(
                "command",
                {"type": "string", "maxLength": 64},
                "The command, with its slash: `/deploy`.",
                required=True,
            ),
            Arg("text", {"type": "string"}, "What follows the command."),
        ),
    ),
    MethodDoc(
        "chat.meMessage",
        "Posts a message about the caller in the third person (`/me waves`), subtype "
        "`me_message`, with `chat.postMessage`'s checks.",
        args=(_channel(), _TEXT),
        result={"channel": _STR, "ts": _STR},
        always=("channel", "ts"),
    ),
    MethodDoc(
        "chat.action",
        "Parley's: presses a button of an app's message, or picks an option of one of its "
        "menus (Block Kit `button`, `static_select`, `overflow`), in a channel the caller "
        "may post in; the app whose bot posted it gets `block_actions` "
        "(`message_not_found`, `action_not_found`, an option the menu does not have: "
        "`invalid_arguments`, `dispatch_failed`, `operation_timeout`; a bot token: "
        "`not_allowed_token_type`).",
        args=(
            _channel(),
            _ts("ts", "The message.", required=True),
            Arg(
                "action_id",
                {"type": "string", "maxLength": 255},
                "The element's `action_id`.",
                required=True,
            ),
            Arg("block_id", {"type": "string", "maxLength": 255}, "Its block's `block_id`."),
            Arg("value", {"type": "string", "maxLength": 2000}, "A menu's option picked."),
        ),
    ),
    MethodDoc(
        "chat.shortcut",
        "Parley's: runs an app's shortcut (`shortcuts.list`) in a channel the caller may "
        "post in: a global one, or with `ts` a message one on that message "
        "(`shortcut_not_found`, `message_not_found`, `dispatch_failed`, "
        "`operation_timeout`; a bot token: `not_allowed_token_type`). The app gets "
        "`shortcut` or `message_action`, with a `trigger_id` for `views.open`.",
        args=(
            Arg("app", {"type": "string", "maxLength": 32}, "The app's bot.", required=True),
            Arg(
                "callback_id",
                {"type": "string", "maxLength": 255},
                "The shortcut's `callback_id`.",
                required=True,
            ),
            _channel("Where the caller is (`C…`); a message shortcut's message's channel."),
            _ts("ts", "The message, for a message shortcut."),
        ),
    ),
    MethodDoc(
        "shortcuts.list",
        "Parley's: the shortcuts the workspace's apps offer (`parley app shortcut`), by "
        "app and name: each its `app` (the bot's id), `callback_id`, `type` (`global` or "
        "`message`), `name` and `description`.",
        read=True,
        result={"shortcuts": {"type": "array", "items": {"type": "object"}}},
        always=("shortcuts",),
    ),
    MethodDoc(
        "chat.scheduleMessage",
        "Checks a post as `chat.postMessage` would, keeps it, and posts it at `post_at` "
        "(within a second; at most 120 days ahead: `time_in_past`, `time_too_far`, "
        "`invalid_time`), once.",
        args=(
            _channel("Channel id (`C…`, `G…`, `D…`), or a user id (`U…`)."),
            Arg(
                "post_at",
                {"type": "integer"},
                "When to post it, in Unix seconds.",
                required=True,
                text=_STR,
            ),
            _TEXT,
            _MARKDOWN_TEXT,
            *_RICH,
            _ts("thread_ts", "Post it in the thread of this message."),
            _bool("reply_broadcast", "A thread reply that is also shown in the channel."),
        ),
        result={
            "channel": _STR,
            "scheduled_message_id": _STR,
            "post_at": _INT,
            "message": {"type": "object"},
        },
        always=("channel", "scheduled_message_id", "post_at"),
    ),
    MethodDoc(
        "chat.scheduledMessages.list",
        "The caller's scheduled messages not yet posted (of `channel`, when given).",
        args=(
            Arg("channel", {"type": "string", "maxLength": 32}, "Only this channel's."),
            _CURSOR,
            _limit(100, 1000),
        ),
        result={"scheduled_messages": {"type": "array", "items": {"type": "object"}}, **_PAGE},
        always=("scheduled_messages", "response_metadata"),
    ),
    MethodDoc(
        "chat.deleteScheduledMessage",
        "Cancels one of the caller's scheduled messages before it is posted "
        "(`invalid_scheduled_message_id`).",
        args=(
            _channel(),
            Arg(
                "scheduled_message_id",
                {"type": "string", "maxLength": 64},
                "What `chat.scheduleMessage` answered.",
                required=True,
            ),
        ),
    ),
    MethodDoc(
        "chat.update",
        "Edits a message; `edit_version` makes the edit conditional (`edit_conflict`).",
        args=(
            _channel(),
            _ts("ts", "The message to edit (`message_not_found`).", required=True),
            _TEXT,
            _MARKDOWN_TEXT,
            _LINK_NAMES,
            _METADATA,
            *_RICH,
            Arg(
                "edit_version",
                {"type": "integer", "minimum": 0},
                "The `edit_version` last seen; a newer one answers `edit_conflict`.",
            ),
        ),
        result={"channel": _STR, "ts": _STR, "text": _STR, "message": _ref("Message")},
        always=("channel", "ts", "text", "message"),
    ),
    MethodDoc(
        "chat.startStream",
        "A bot's streamed reply (slack_sdk's `chat_stream()`, Bolt's `say_stream`): posts "
        "it, `streaming` for five minutes or until stopped; members hear each change as "
        "`message_changed`. Outside a direct message `recipient_user_id` and "
        "`recipient_team_id` are required. The message carries Parley's `stream` field: "
        "`state`, `started` (µs), `task_display_mode`, `recipient_user_id`, `plan`, `tasks`.",
        args=(
            _channel(),
            _ts("thread_ts", "The message it answers, to reply in its thread."),
            *_STREAM_CHUNKS,
            Arg("recipient_user_id", _STR, "The person it answers."),
            Arg("recipient_team_id", _STR, "Their workspace (the caller's)."),
            Arg(
                "task_display_mode",
                {"type": "string", "enum": ["timeline", "plan"]},
                "How tasks show.",
            ),
            Arg("username", _STR, "A name to show (`chat:write.customize`)."),
            Arg("icon_emoji", _STR, "An icon to show (`chat:write.customize`)."),
            Arg("icon_url", _STR, "An icon to show (`chat:write.customize`)."),
        ),
        result={"channel": _STR, "ts": _STR},
        always=("channel", "ts"),
    ),
    MethodDoc(
        "chat.appendStream",
        "Adds chunks to the caller's streaming message (`message_not_in_streaming_state` "
        "once stopped or five minutes old; `cant_update_message` for another's; `no_text` "
        "with nothing to add).",
        args=(
            _channel(),
            _ts("ts", "The streamed message.", required=True),
            *_STREAM_CHUNKS,
        ),
        result={"channel": _STR, "ts": _STR},
        always=("channel", "ts"),
    ),
    MethodDoc(
        "chat.stopStream",
        "Adds the last chunks and `blocks` (after the message's own) and `metadata`, and "
        "stops the stream. Parley's: the person it answers (its recipient, or the person "
        "in its direct message) may stop it with their own token; the app's next call "
        "then answers `stopped_by_user`.",
        args=(
            _channel(),
            _ts("ts", "The streamed message.", required=True),
            *_STREAM_CHUNKS,
            _RICH[0],
            _METADATA,
        ),
        result={"channel": _STR, "ts": _STR, "message": _ref("Message")},
        always=("channel", "ts", "message"),
    ),
    MethodDoc(
        "assistant.threads.setStatus",
        "A bot says what it is doing in a thread (Bolt's `set_status`): the conversation's "
        "other members hear Parley's `assistant_thread_status` (not stored); an empty "
        "`status` clears it, and so does the bot's next message there.",
        args=(
            Arg(
                "channel_id",
                {"type": "string", "maxLength": 32},
                "The conversation.",
                required=True,
            ),
            _ts("thread_ts", "The thread's message (`message_not_found`).", required=True),
            Arg("status", {"type": "string", "maxLength": 100}, "What it is doing; empty clears."),
            Arg("loading_messages", _STR, "Up to 10 texts to rotate through while it works."),
        ),
    ),
    MethodDoc(
        "assistant.threads.start",
        "Parley's: a person begins a new chat with the app of their direct message "
        "`channel` (the web client's New chat): the app's bot posts the thread's first "
        "message (subtype `assistant_app_thread`) and the app hears Slack's "
        "`assistant_thread_started` with `context_channel_id` when the person can see it.",
        args=(
            _channel("The direct message with the app (`invalid_arguments` otherwise)."),
            Arg("context_channel_id", _STR, "The conversation the person was looking at."),
        ),
        result={"channel": _STR, "thread_ts": _STR},
        always=("channel", "thread_ts"),
    ),
    MethodDoc(
        "assistant.threads.setTitle",
        "A bot titles a thread (Bolt's `set_title`): kept on its first message as "
        "`assistant_app_thread.title`; members hear `message_changed`.",
        args=(
            _ASSISTANT_CHANNEL,
            _ts("thread_ts", "The thread's message (`message_not_found`).", required=True),
            Arg("title", {"type": "string", "maxLength": 255}, "The title.", required=True),
        ),
    ),
    MethodDoc(
        "assistant.threads.setSuggestedPrompts",
        "A bot suggests up to 4 prompts in a thread (Bolt's `set_suggested_prompts`): kept on "
        "its first message as `assistant_app_thread.suggested_prompts` (and `prompts_title`); "
        "the web client shows them, each sending its `message` into the thread.",
        args=(
            _ASSISTANT_CHANNEL,
            _ts("thread_ts", "The thread's message (`message_not_found`).", required=True),
            Arg("prompts", _objects(4), "Each `title` and `message`.", required=True),
            Arg("title", {"type": "string", "maxLength": 255}, "A heading over them."),
        ),
    ),
    MethodDoc(
        "chat.unfurl",
        "An app's unfurls of the links on its domains (`parley app unfurl`) in a message: "
        "each link's attachment goes on it, marked `is_app_unfurl` (`cannot_find_service`, "
        "`cannot_unfurl_url`, `cannot_unfurl_message`, `cannot_find_message`).",
        args=(
            _channel("The message's channel, with `ts` (or give `unfurl_id` and `source`)."),
            _ts("ts", "The message's `ts` (`link_shared`'s `message_ts`)."),
            Arg(
                "unfurl_id",
                {"type": "string", "maxLength": 300},
                "What `link_shared` gave, with `source` (`invalid_unfurl_id`).",
            ),
            Arg(
                "source",
                {"type": "string", "enum": ["conversations_history", "composer"]},
                "`link_shared`'s `source`.",
            ),
            Arg(
                "unfurls",
                {"type": "string"},
                "A JSON object of each link to an attachment (its fields, or `blocks`); `{}` "
                "takes the app's unfurl of that link off.",
            ),
            _bool("user_auth_required", "Ask the author to connect the app."),
            Arg("user_auth_message", _STR, "What the author alone is shown, asking that."),
            Arg("user_auth_url", _STR, "Where they connect it."),
            Arg("user_auth_blocks", _STR, "Blocks of that message (JSON array)."),
        ),
    ),
    MethodDoc(
        "chat.delete",
        "Deletes a message (it keeps its `seq`).",
        args=(_channel(), _ts("ts", "The message to delete.", required=True)),
        result={"channel": _STR, "ts": _STR},
        always=("channel", "ts"),
    ),
    MethodDoc(
        "conversations.create",
        "Creates a channel with the caller as its first member.",
        args=(
            Arg(
                "name",
                {"type": "string", "maxLength": 80},
                "Lower-case letters, digits, `-` and `_` (`invalid_name*`, `name_taken`).",
                required=True,
            ),
            _bool("is_private", "A private channel: visible to its members only."),
        ),
        result={"channel": _ref("Channel")},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.list",
        "The team's channels the caller can see, a page at a time.",
        read=True,
        args=_CHANNEL_LISTING,
        result={"channels": _list_of("Channel"), **_PAGE},
        always=("channels", "response_metadata"),
    ),
    MethodDoc(
        "conversations.info",
        "One channel.",
        read=True,
        args=(_channel(), _bool("include_num_members", "Count members (default true).")),
        result={"channel": _ref("Channel")},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.open",
        "Opens the direct message (`D…`) with one other user of the team (`users`; the "
        "caller alone: a note to self), or the group direct message (`G…`, an `mpim`) "
        "with 2 to 8 others (`too_many_users`; scope `mpim:write`), created on first use "
        "with every one of them a member, the same id from any of them; or, with "
        "`channel`, a direct or group message the caller is in. A group's members are "
        "fixed: joining, leaving, inviting, kicking, renaming and archiving answer "
        "`method_not_supported_for_channel_type`; its topic and purpose may be set. "
        "Opens again one the caller closed (`already_open` when it was not).",
        args=(
            Arg(
                "users",
                {"type": "string", "maxLength": 1000},
                "User ids (`U…`), comma-separated; the caller and repeats are left out.",
            ),
            Arg(
                "channel",
                {"type": "string", "maxLength": 32},
                "A direct or group message's id.",
            ),
            _bool("return_im", "Answer with the whole conversation object."),
        ),
        result={"channel": {"type": "object"}, "already_open": _BOOL},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.close",
        "Closes a direct or group direct message for the caller: listed with `is_open` "
        "false until they open it again or a message comes; their connections hear "
        "`im_close` (`mpim_close`). `no_op` and `already_closed` when it was closed.",
        args=(_channel("A direct or group message's id."),),
        result={"no_op": _BOOL, "already_closed": _BOOL},
    ),
    MethodDoc(
        "conversations.join",
        "Joins a public channel.",
        args=(_channel(),),
        result={"channel": _ref("Channel"), "already_in_channel": _BOOL},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.leave",
        "Leaves a channel.",
        args=(_channel(),),
        result={"not_in_channel": _BOOL},
    ),
    MethodDoc(
        "conversations.invite",
        "Adds users to a channel the caller is in.",
        args=(
            _channel(),
            Arg(
                "users",
                _STR,
                "Comma-separated user ids, at most 1000 (`no_user`, `user_not_found`).",
                required=True,
            ),
        ),
        result={"channel": _ref("Channel")},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.members",
        "A channel's member ids, a page at a time.",
        read=True,
        args=(_channel(), _CURSOR, _limit(100, 1000)),
        result={"members": {"type": "array", "items": _STR}, **_PAGE},
        always=("members", "response_metadata"),
    ),
    MethodDoc(
        "conversations.history",
        "A channel's messages, newest first, a page at a time.",
        read=True,
        args=(_channel(), *_HISTORY_BOUNDS, _CURSOR, _limit(100, 999)),
        result={
            "messages": _list_of("Message"),
            "has_more": _BOOL,
            "pin_count": _INT,
            **_PAGE,
        },
        always=("messages", "has_more", "response_metadata"),
    ),
    MethodDoc(
        "conversations.replies",
        "A thread: its parent, then its replies oldest first, a page at a time.",
        read=True,
        args=(
            _channel(),
            _ts("ts", "The thread's parent, or any reply in it.", required=True),
            *_HISTORY_BOUNDS,
            _CURSOR,
            _limit(100, 1000),
        ),
        result={"messages": _list_of("Message"), "has_more": _BOOL, **_PAGE},
        always=("messages", "has_more", "response_metadata"),
    ),
    MethodDoc(
        "conversations.archive",
        "Archives a channel the caller is in.",
        args=(_channel(),),
    ),
    MethodDoc(
        "conversations.unarchive",
        "Unarchives a channel the caller is in.",
        args=(_channel(),),
    ),
    MethodDoc(
        "conversations.mark",
        "Sets the caller's read mark in a channel they are in (`not_in_channel`) to "
        "`ts`, earlier than before too; their connections get `channel_marked` "
        "(`group_marked`, `im_marked`) with what is still unread.",
        args=(
            _channel(),
            _ts("ts", "The newest message read (`invalid_timestamp`).", required=True),
        ),
    ),
    MethodDoc(
        "conversations.setTopic",
        "Sets the topic of a channel the caller is in (at most 250 characters: "
        "`too_long`; empty clears it); the channel is told in a `channel_topic` message.",
        args=(_channel(), Arg("topic", _STR, "The new topic.", required=True)),
        result={"channel": _ref("Channel")},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.setPurpose",
        "Sets the purpose of a channel the caller is in (at most 250 characters: "
        "`too_long`); the channel is told in a `channel_purpose` message.",
        args=(_channel(), Arg("purpose", _STR, "The new purpose.", required=True)),
        result={"channel": _ref("Channel")},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.rename",
        "Renames a channel; only its creator may (`not_authorized`). The channel is told "
        "in a `channel_name` message; `channel_rename` goes to the team (a private "
        "channel's `group_rename` to its members).",
        args=(
            _channel(),
            Arg(
                "name",
                _STR,
                "The new name: lower-case letters, digits, `-` and `_`, at most 80 "
                "(`invalid_name`, `name_taken`).",
                required=True,
            ),
        ),
        result={"channel": _ref("Channel")},
        always=("channel",),
    ),
    MethodDoc(
        "conversations.kick",
        "Removes a member from a channel the caller is in (`cant_kick_self`, "
        "`not_in_channel`); they receive their `member_left_channel`.",
        args=(
            _channel(),
            Arg("user", {"type": "string", "maxLength": 32}, "User id (`U…`).", required=True),
        ),
    ),
    MethodDoc(
        "files.getUploadURLExternal",
        "Announces a file (`slack_sdk`'s `files_upload_v2`, first step): its id (`F…`) and "
        "a single-use URL to POST its bytes to, exactly `length` of them, no token needed "
        "(the URL is the secret; it answers `OK - <length>`, 400 `invalid_length`, 404 "
        "`file_not_found` once used). Then `files.completeUploadExternal`. At most 100 "
        "files announced and not completed a user (`too_many_uploads`); one not completed "
        "within a day is forgotten.",
        read=True,
        args=(
            Arg("filename", {"type": "string", "maxLength": 255}, "The name.", required=True),
            Arg(
                "length",
                {"type": "integer", "minimum": 1},
                "Bytes, at most `PARLEY_MAX_FILE` (50 MiB).",
                required=True,
            ),
        ),
        result={"upload_url": _STR, "file_id": _STR},
        always=("upload_url", "file_id"),
    ),
    MethodDoc(
        "files.completeUploadExternal",
        "Completes 1-10 of the caller's uploaded files (`file_not_found`, "
        "`file_not_uploaded`) and, with `channel_id`, shares them in a channel the caller "
        "may post in: one message of theirs (`initial_comment`, perhaps in a thread) "
        "carrying `files` and `upload: true`, through the send path's checks and rate "
        "limit. Unshared, a file is its uploader's alone.",
        args=(
            Arg(
                "files",
                {"type": "array", "items": {"type": "object"}},
                'The files: `[{"id": "F…", "title": "…"}]`.',
                required=True,
                text={"type": "string"},
            ),
            Arg("channel_id", {"type": "string", "maxLength": 32}, "Where to share them."),
            Arg("channels", {"type": "string", "maxLength": 3300}, "The same, as Slack's list."),
            Arg("initial_comment", {"type": "string", "maxLength": 40000}, "The text."),
            _ts("thread_ts", "A thread to share them in."),
        ),
        result={"files": {"type": "array", "items": {"type": "object"}}},
        always=("files",),
    ),
    MethodDoc(
        "files.info",
        "A file the caller may read: theirs, or shared in a channel they may see (else "
        "`file_not_found`); `url_private` downloads it with the caller's token.",
        read=True,
        args=(Arg("file", {"type": "string", "maxLength": 32}, "The file (`F…`).", required=True),),
        result={"file": {"type": "object"}, "comments": {"type": "array"}, **_PAGE},
        always=("file",),
    ),
    MethodDoc(
        "files.list",
        "The files the caller may read, newest first; only `user`'s, only those shared in "
        "`channel`.",
        read=True,
        args=(
            Arg("user", {"type": "string", "maxLength": 32}, "Their uploader."),
            Arg("channel", {"type": "string", "maxLength": 32}, "Shared there."),
            _CURSOR,
            _limit(100, 1000),
        ),
        result={"files": {"type": "array", "items": {"type": "object"}}, **_PAGE},
        always=("files",),
    ),
    MethodDoc(
        "files.delete",
        "Deletes a file of the caller's (`cant_delete_file` for another's): its content "
        "and its link go; the message that shared it keeps its tombstone "
        '(`{"id": …, "mode": "tombstone"}`).',
        args=(Arg("file", {"type": "string", "maxLength": 32}, "The file (`F…`).", required=True),),
    ),
    MethodDoc(
        "files.sharedPublicURL",
        "Gives one of the caller's files a public link (`permalink_public`) that serves "
        "its content to anyone, without a token, until revoked or the file is deleted "
        "(`not_allowed` for another's, `already_public`).",
        args=(Arg("file", {"type": "string", "maxLength": 32}, "The file (`F…`).", required=True),),
        result={"file": {"type": "object"}},
        always=("file",),
    ),
    MethodDoc(
        "files.revokePublicURL",
        "Takes one of the caller's files' public link away.",
        args=(Arg("file", {"type": "string", "maxLength": 32}, "The file (`F…`).", required=True),),
        result={"file": {"type": "object"}},
        always=("file",),
    ),
    MethodDoc(
        "usergroups.create",
        "Makes a user group: a `name` and a `handle` (default: from the name; lower-case "
        "letters, digits, `.`, `_`, `-`, at most 21: `invalid_handle`), each unique in the "
        "workspace (`name_already_exists`, `handle_already_exists`). A message mentioning "
        "it (`<!subteam^S…>`) mentions each member. The team gets `subteam_created`.",
        args=(
            Arg("name", {"type": "string", "maxLength": 255}, "Its name.", required=True),
            Arg("handle", {"type": "string", "maxLength": 64}, "How it is mentioned."),
            Arg("description", {"type": "string", "maxLength": 1000}, "What it is for."),
        ),
        result={"usergroup": {"type": "object"}},
        always=("usergroup",),
    ),
    MethodDoc(
        "usergroups.list",
        "The workspace's user groups (disabled ones with `include_disabled`; members with "
        "`include_users`).",
        read=True,
        args=(
            _bool("include_disabled", "Disabled groups too."),
            _bool("include_users", "Each group's members."),
            _bool("include_count", "Each group's `user_count` (always given)."),
        ),
        result={"usergroups": {"type": "array", "items": {"type": "object"}}},
        always=("usergroups",),
    ),
    MethodDoc(
        "usergroups.update",
        "Renames a group or changes its description (`no_such_subteam`; the refusals of "
        "`usergroups.create`). The team gets `subteam_updated`.",
        args=(
            Arg("usergroup", {"type": "string", "maxLength": 32}, "The group.", required=True),
            Arg("name", {"type": "string", "maxLength": 255}, "A new name."),
            Arg("handle", {"type": "string", "maxLength": 64}, "A new handle."),
            Arg("description", {"type": "string", "maxLength": 1000}, "A new description."),
        ),
        result={"usergroup": {"type": "object"}},
        always=("usergroup",),
    ),
    MethodDoc(
        "usergroups.disable",
        "Disables a group: kept, listed only with `include_disabled`, mentioning nobody.",
        args=(Arg("usergroup", {"type": "string", "maxLength": 32}, "The group.", required=True),),
        result={"usergroup": {"type": "object"}},
        always=("usergroup",),
    ),
    MethodDoc(
        "usergroups.enable",
        "Enables a disabled group again.",
        args=(Arg("usergroup", {"type": "string", "maxLength": 32}, "The group.", required=True),),
        result={"usergroup": {"type": "object"}},
        always=("usergroup",),
    ),
    MethodDoc(
        "usergroups.users.list",
        "A group's members (a disabled group's only with `include_disabled`).",
        read=True,
        args=(
            Arg("usergroup", {"type": "string", "maxLength": 32}, "The group.", required=True),
            _bool("include_disabled", "Also when the group is disabled."),
        ),
        result={"users": {"type": "array", "items": _STR}},
        always=("users",),
    ),
    MethodDoc(
        "usergroups.users.update",
        "Sets a group's members: live users of the workspace (`invalid_users`), up to "
        "1,000. The team gets `subteam_updated`.",
        args=(
            Arg("usergroup", {"type": "string", "maxLength": 32}, "The group.", required=True),
            Arg(
                "users",
                {"type": "string", "maxLength": 20000},
                "User ids, comma-separated.",
                required=True,
            ),
        ),
        result={"usergroup": {"type": "object"}},
        always=("usergroup",),
    ),
    MethodDoc(
        "views.open",
        "Opens a modal for the person whose slash command or button press gave the app "
        "`trigger_id` (good for 10 s: `expired_trigger_id`; another app's or a forged one: "
        "`invalid_trigger_id`); a bot's token (`not_allowed_token_type`). The view: `type` "
        "`modal`, `title` (and `submit`, `close`) `plain_text` of at most 24 characters, 1 "
        "to 100 blocks, inputs `plain_text_input` or `static_select` (`submit` then "
        "required), `private_metadata` up to 3,000 characters (`invalid_arguments`). The "
        "person's connections get `view_opened`; a submission reaches the app as "
        "`view_submission` (Socket Mode or its interactivity URL).",
        args=(
            Arg("trigger_id", _STR, "From the command or the button press.", required=True),
            Arg("view", {"type": "object"}, "The modal.", required=True, text=_STR),
        ),
        result={"view": {"type": "object"}},
        always=("view",),
    ),
    MethodDoc(
        "views.update",
        "Replaces an open modal of the app's (`view_id`, or the `external_id` it gave; "
        "`not_found`), checked as `views.open`'s; with `hash`, only if unchanged since "
        "(`hash_conflict`). The person's connections get `view_updated`.",
        args=(
            Arg("view_id", {"type": "string", "maxLength": 32}, "The view."),
            Arg("external_id", {"type": "string", "maxLength": 255}, "Or the app's id for it."),
            Arg("hash", {"type": "string", "maxLength": 64}, "The view's `hash` last seen."),
            Arg("view", {"type": "object"}, "The modal.", required=True, text=_STR),
        ),
        result={"view": {"type": "object"}},
        always=("view",),
    ),
    MethodDoc(
        "views.publish",
        "Publishes the app's home tab for a person (`user_not_found` for anyone but a live "
        "person of the workspace), replacing the one before (with `hash`, only if "
        "unchanged since: `hash_conflict`); a bot's token (`not_allowed_token_type`). The "
        "view: `type` `home`, 1 to 100 blocks, no inputs, `private_metadata` up to 3,000 "
        "characters (`invalid_arguments`). The person's connections that follow their "
        "direct message with the bot get `view_updated`; `views.update` changes it too.",
        args=(
            Arg("user_id", {"type": "string", "maxLength": 32}, "The person.", required=True),
            Arg("hash", {"type": "string", "maxLength": 64}, "The view's `hash` last seen."),
            Arg("view", {"type": "object"}, "The home tab.", required=True, text=_STR),
        ),
        result={"view": {"type": "object"}},
        always=("view",),
    ),
    MethodDoc(
        "views.home",
        "Parley's: the person opens the home tab of an app (`app`, its bot user's id: "
        "`user_not_found`), from their direct message with the bot (opened if need be). "
        "The app gets `app_home_opened`; the answer is the view it published (`null` "
        "while none) and the direct message. A button in it is pressed with "
        "`views.action`.",
        args=(Arg("app", {"type": "string", "maxLength": 32}, "The app's bot.", required=True),),
        result={"view": {"type": ["object", "null"]}, "channel": _STR},
        always=("view", "channel"),
    ),
    MethodDoc(
        "views.push",
        "Puts a modal on top of the open modal a button press or submission inside it gave "
        "the app `trigger_id` from (`invalid_trigger_id` for any other), at most 3 deep "
        "(`push_limit_reached`); checked as `views.open`'s. The person's connections get "
        "`view_opened` with its `previous_view_id`; closing or submitting it goes back to "
        "the one under it.",
        args=(
            Arg("trigger_id", _STR, "From an interaction inside the modal.", required=True),
            Arg("view", {"type": "object"}, "The modal.", required=True, text=_STR),
        ),
        result={"view": {"type": "object"}},
        always=("view",),
    ),
    MethodDoc(
        "views.submit",
        "Parley's: the person submits a modal shown to them (`view_not_found` once closed), "
        "with `values` `{block_id: {action_id: value}}` (a text input's text, a menu "
        "option's `value`). Values that do not fit the view answer `errors` by block and "
        "are not sent; else the app gets `view_submission`, and its answer comes as "
        "`view_errors`, `view_updated` or `view_closed`.",
        args=(
            Arg("view_id", {"type": "string", "maxLength": 32}, "The view.", required=True),
            Arg("values", {"type": "object"}, "The inputs' values.", text=_STR),
        ),
        result={"errors": {"type": "object"}},
    ),
    MethodDoc(
        "views.action",
        "Parley's: the person presses a button of a modal or home tab shown to them, or "
        "picks an option of one of its menus (`action_not_found`, `invalid_arguments`), "
        "with its inputs' `values` so far (as `views.submit` takes them); the app gets "
        "`block_actions` with the view and may `views.update` it.",
        args=(
            Arg("view_id", {"type": "string", "maxLength": 32}, "The view.", required=True),
            Arg("action_id", {"type": "string", "maxLength": 255}, "The element.", required=True),
            Arg("block_id", {"type": "string", "maxLength": 255}, "Its block."),
            Arg("value", {"type": "string", "maxLength": 2000}, "A menu's option picked."),
            Arg("values", {"type": "object"}, "The inputs' values so far.", text=_STR),
        ),
    ),
    MethodDoc(
        "views.close",
        "Parley's: the person closes a modal; it takes no submission after; the app gets "
        "`view_closed` if the view asked (`notify_on_close`).",
        args=(Arg("view_id", {"type": "string", "maxLength": 32}, "The view.", required=True),),
    ),
    MethodDoc(
        "pins.add",
        "Pins a message of a channel the caller is in (`already_pinned`, `too_many_pins` "
        "past 100); the channel gets `pin_added`.",
        args=(_channel(), _ts("timestamp", "The message.", required=True)),
    ),
    MethodDoc(
        "pins.remove",
        "Unpins a message (`no_pin`); the channel gets `pin_removed`.",
        args=(_channel(), _ts("timestamp", "The message.", required=True)),
    ),
    MethodDoc(
        "bookmarks.add",
        "Adds a link to the top of a channel the caller may post in (`invalid_link` for "
        "anything but an http(s) URL of at most 2,000 characters; a title of 1 to 255; "
        "`type` `link`, else `invalid_bookmark_type`; at most 100 a channel: "
        "`too_many_bookmarks`). The channel's connections get `bookmark_added`.",
        args=(
            Arg("channel_id", {"type": "string", "maxLength": 32}, "The channel.", required=True),
            Arg("title", {"type": "string", "maxLength": 256}, "What it shows.", required=True),
            Arg("link", {"type": "string", "maxLength": 4000}, "The URL.", required=True),
            Arg("type", {"type": "string", "maxLength": 16}, "`link`, the only kind."),
            Arg("emoji", {"type": "string", "maxLength": 100}, "An emoji's name, `:link:`."),
        ),
        result={"bookmark": {"type": "object"}},
        always=("bookmark",),
    ),
    MethodDoc(
        "bookmarks.edit",
        "Changes a bookmark's title, link or emoji, checked as `bookmarks.add`'s "
        "(`not_found`); the channel's connections get `bookmark_changed`.",
        args=(
            Arg("channel_id", {"type": "string", "maxLength": 32}, "The channel.", required=True),
            Arg("bookmark_id", {"type": "string", "maxLength": 32}, "The bookmark.", required=True),
            Arg("title", {"type": "string", "maxLength": 256}, "A new title."),
            Arg("link", {"type": "string", "maxLength": 4000}, "A new URL."),
            Arg("emoji", {"type": "string", "maxLength": 100}, "A new emoji."),
        ),
        result={"bookmark": {"type": "object"}},
        always=("bookmark",),
    ),
    MethodDoc(
        "bookmarks.remove",
        "Removes a bookmark (`not_found`); the channel's connections get `bookmark_removed`.",
        args=(
            Arg("channel_id", {"type": "string", "maxLength": 32}, "The channel.", required=True),
            Arg("bookmark_id", {"type": "string", "maxLength": 32}, "The bookmark.", required=True),
        ),
    ),
    MethodDoc(
        "bookmarks.list",
        "A channel's bookmarks, the oldest first, for whoever may see it.",
        read=True,
        args=(
            Arg("channel_id", {"type": "string", "maxLength": 32}, "The channel.", required=True),
        ),
        result={"bookmarks": {"type": "array", "items": {"type": "object"}}},
        always=("bookmarks",),
    ),
    MethodDoc(
        "emoji.list",
        "The workspace's own emoji: each name to its image's URL (served to anyone) or "
        "`alias:<name>`. The standard emoji are the client's (the web client's "
        "`/static/emoji.json`).",
        read=True,
        result={
            "emoji": {"type": "object", "additionalProperties": {"type": "string"}},
            "cache_ts": _STR,
        },
        always=("emoji", "cache_ts"),
    ),
    MethodDoc(
        "admin.emoji.list",
        "Slack's operator method (scope `admin.teams:write`): the workspace's own emoji, "
        "each name to `{url}`.",
        read=True,
        result={"emoji": {"type": "object"}},
        always=("emoji",),
    ),
    MethodDoc(
        "admin.emoji.add",
        "Slack's operator method (scope `admin.teams:write`): a new emoji, a PNG, GIF, JPEG "
        "or WebP image of at most 256 KiB (`error_too_big`, `error_bad_format`) fetched "
        "from `url` (`error_bad_upload`) or given as `image` (Parley's); a name of "
        "lower-case letters, digits, `_`, `-`, `+` and `'` (`invalid_name`) that neither a "
        "standard emoji nor the workspace has (`error_name_taken`). The team hears "
        "`emoji_changed`.",
        args=(
            _EMOJI_NAME,
            Arg("url", {"type": "string", "maxLength": 2000}, "Where the image is (Slack's)."),
            Arg(
                "image",
                {"type": "string", "maxLength": 350_000},
                "The image's bytes, base64 (Parley's; instead of `url`).",
            ),
        ),
    ),
    MethodDoc(
        "admin.emoji.addAlias",
        "Slack's operator method (scope `admin.teams:write`): `name` as another name of "
        "`alias_for`, the workspace's emoji or a standard one (`emoji_not_found`).",
        args=(
            _EMOJI_NAME,
            Arg("alias_for", {"type": "string", "maxLength": 102}, "The emoji.", required=True),
        ),
    ),
    MethodDoc(
        "admin.emoji.remove",
        "Slack's operator method (scope `admin.teams:write`): removes the emoji and its "
        "aliases (`emoji_not_found`); the team hears `emoji_changed`.",
        args=(_EMOJI_NAME,),
    ),
    MethodDoc(
        "reminders.add",
        "A reminder for the caller (`user`, if given, must be them: `cannot_add_others`): "
        "Slackbot says `text` in their direct message with it at `time`: a Unix time, "
        "seconds up to a day, or words (`in 10 minutes`, `at 3pm`, `tomorrow`, `on friday "
        "at 10am`, `every weekday at 9:30am`; `cannot_parse`), read in Parley's "
        "`tz_offset` (minutes east of UTC). Without `time`, `text` ends with it (Parley's: "
        "what `/remind me to stretch in 10 minutes` sends). `recurrence`: Slack's object.",
        args=(
            Arg("text", {"type": "string", "maxLength": 4000}, "What to say.", required=True),
            Arg("time", {"type": "string", "maxLength": 200}, "When."),
            Arg("recurrence", {"type": "object"}, "`frequency` and, weekly, `weekdays`."),
            Arg("tz_offset", {"type": "integer", "minimum": -840, "maximum": 840}, "Minutes."),
            Arg("user", {"type": "string", "maxLength": 32}, "The caller, if given."),
        ),
        result={"reminder": {"type": "object"}},
        always=("reminder",),
    ),
    MethodDoc(
        "reminders.list",
        "The caller's reminders (one-time ones stay until completed or deleted).",
        read=True,
        result={"reminders": {"type": "array", "items": {"type": "object"}}},
        always=("reminders",),
    ),
    MethodDoc(
        "reminders.info",
        "One of the caller's reminders (`not_found`).",
        read=True,
        args=(_REMINDER,),
        result={"reminder": {"type": "object"}},
        always=("reminder",),
    ),
    MethodDoc(
        "reminders.complete",
        "Marks a one-time reminder done (`cannot_complete_recurring`, `already_complete`).",
        args=(_REMINDER,),
    ),
    MethodDoc("reminders.delete", "Deletes one of the caller's reminders.", args=(_REMINDER,)),
    MethodDoc(
        "pins.list",
        "The channel's pinned messages as they are now, the newest pin first.",
        read=True,
        args=(_channel(),),
        result={"items": {"type": "array", "items": {"type": "object"}}},
        always=("items",),
    ),
    MethodDoc(
        "stars.add",
        "Saves a message of a conversation the caller may read for later (`already_starred`); "
        "their own connections hear `star_added`.",
        args=(_channel(), _ts("timestamp", "The message.", required=True)),
    ),
    MethodDoc(
        "stars.remove",
        "Unsaves it (`not_starred`); their own connections hear `star_removed`.",
        args=(_channel(), _ts("timestamp", "The message.", required=True)),
    ),
    MethodDoc(
        "stars.list",
        "The caller's saved messages as they are now, the newest saved first; those deleted "
        "since, or in a conversation they can no longer read, left out.",
        read=True,
        args=(_CURSOR, _limit(100, 1000)),
        result={"items": {"type": "array", "items": {"type": "object"}}, **_PAGE},
        always=("items",),
    ),
    MethodDoc(
        "reactions.add",
        "Adds the caller's reaction to a message.",
        args=(
            _channel(),
            _ts("timestamp", "The message.", required=True),
            Arg(
                "name",
                {"type": "string", "maxLength": 200},
                "Emoji name, colons optional (`invalid_name`).",
                required=True,
            ),
        ),
    ),
    MethodDoc(
        "reactions.remove",
        "Removes the caller's reaction from a message.",
        args=(
            _channel(),
            _ts("timestamp", "The message.", required=True),
            Arg("name", {"type": "string", "maxLength": 200}, "Emoji name.", required=True),
        ),
    ),
    MethodDoc(
        "reactions.get",
        "A message with its reactions.",
        read=True,
        args=(_channel(), _ts("timestamp", "The message.", required=True)),
        result={"type": _STR, "channel": _STR, "message": _ref("Message")},
        always=("type", "channel", "message"),
    ),
    MethodDoc(
        "reactions.list",
        "The messages `user` (the caller) reacted to, newest reaction first, with their "
        "reactions; only in conversations the caller may see.",
        read=True,
        args=(
            Arg("user", {"type": "string", "maxLength": 32}, "Whose reactions."),
            _CURSOR,
            _limit(100, 200),
        ),
        result={"items": {"type": "array", "items": {"type": "object"}}, **_PAGE},
        always=("items",),
    ),
    MethodDoc(
        "rtm.connect",
        "A WebSocket URL with a single-use ticket; `resume` replays what was missed.",
        read=True,
        args=(
            Arg(
                "resume",
                {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                "Channel id -> last `seq` held; after `hello` the missed messages are "
                "replayed, then `resume_done`.",
                text={"type": "string", "description": "The same object as JSON text."},
            ),
        ),
        result={
            "url": _STR,
            "self": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": _STR, "name": _STR},
            },
            "team": _ref("Team"),
        },
        always=("url", "self", "team"),
    ),
    MethodDoc(
        "search.messages",
        'Messages the caller can read that match `query` (words, `"phrases"`, `-excluded`, '
        "`in:#channel`, `from:@user`, `before:`/`after:`/`on:`/`during:` dates, `has:link`), "
        "with `paging` (`page`) or `next_cursor` (`cursor`, `*` first). People's tokens only "
        "(`not_allowed_token_type` for bots); `no_query` when there is nothing to search for.",
        read=True,
        args=(
            *_SEARCH_PAGE,
            _bool("highlight", "Wrap matched words in U+E000 ... U+E001."),
            Arg(
                "cursor",
                {"type": "string", "maxLength": 256},
                "`*` for the first page, then `response_metadata.next_cursor`.",
            ),
        ),
        result={
            "query": _STR,
            "messages": {
                "type": "object",
                "description": "`total`, `matches` (channel, user, username, ts, text, "
                "permalink), `paging` and `pagination`.",
            },
            **_PAGE,
        },
        always=("query", "messages"),
    ),
    MethodDoc(
        "search.files",
        'Files the caller can read whose name or title has `query`\'s words (`"phrases"` in '
        "order, `-excluded`, `in:#channel` they are shared in, `from:@user` who uploaded them, "
        "dates they were uploaded), newest first (`sort_dir=asc`: oldest), with `paging`. "
        "People's tokens only.",
        read=True,
        args=_SEARCH_PAGE,
        result={
            "query": _STR,
            "files": {
                "type": "object",
                "description": "`total`, `matches` (files as `files.info` shows them), "
                "`paging` and `pagination`.",
            },
        },
        always=("query", "files"),
    ),
    MethodDoc(
        "search.all",
        "`search.messages` and `search.files` at once, each paged alike.",
        read=True,
        args=(*_SEARCH_PAGE, _bool("highlight", "Wrap matched words in U+E000 ... U+E001.")),
        result={"query": _STR, "messages": {"type": "object"}, "files": {"type": "object"}},
        always=("query", "messages", "files"),
    ),
    MethodDoc(
        "push.register",
        "Parley's extension: registers a device for push, `platform` `apns` or `fcm` and the "
        "provider's `device_token` (a token registered before moves to the caller); at most "
        "20 devices a user (`too_many_devices`).",
        args=_DEVICE,
        result={"device": {"type": "object"}},
        always=("device",),
    ),
    MethodDoc(
        "push.unregister",
        "Parley's extension: forgets one of the caller's devices (`device_not_found`).",
        args=_DEVICE,
    ),
    MethodDoc(
        "push.list",
        "Parley's extension: the caller's registered devices.",
        read=True,
        result={"devices": {"type": "array", "items": {"type": "object"}}},
        always=("devices",),
    ),
    MethodDoc(
        "push.getPrefs",
        "Parley's extension: the caller's notification preferences for push.",
        read=True,
        result={"prefs": {"type": "object"}},
        always=("prefs",),
    ),
    MethodDoc(
        "push.setPrefs",
        "Parley's extension: sets the caller's notification preferences for push (an "
        "argument left out keeps its value): `level` `all`, `mentions` (the default) or "
        "`nothing`; `keywords` (comma-separated words or phrases that notify like a "
        "mention, at most 50); `muted_channels` (comma-separated channel ids that notify "
        "only for a direct mention).",
        args=(
            Arg("level", {"type": "string", "enum": ["all", "mentions", "nothing"]}, "Level."),
            Arg("keywords", {"type": "string", "maxLength": 4000}, "Keywords, comma-separated."),
            Arg(
                "muted_channels",
                {"type": "string", "maxLength": 40000},
                "Channel ids, comma-separated.",
            ),
        ),
        result={"prefs": {"type": "object"}},
        always=("prefs",),
    ),
    MethodDoc(
        "dnd.info",
        "A user's Do Not Disturb (default: the caller): the scheduled window now or next; "
        "for the caller also the snooze and `dnd_schedule` (Parley's extension).",
        read=True,
        args=(Arg("user", {"type": "string", "maxLength": 32}, "User id (`U…`)."),),
        result={
            "dnd_enabled": _BOOL,
            "next_dnd_start_ts": _INT,
            "next_dnd_end_ts": _INT,
            "snooze_enabled": _BOOL,
            "snooze_endtime": _INT,
            "snooze_remaining": _INT,
            "dnd_schedule": {"type": "object"},
        },
        always=("dnd_enabled", "next_dnd_start_ts", "next_dnd_end_ts"),
    ),
    MethodDoc(
        "dnd.teamInfo",
        "Do Not Disturb of up to 50 users of the caller's team.",
        read=True,
        args=(Arg("users", {"type": "string"}, "Comma-separated user ids.", required=True),),
        result={"users": {"type": "object"}},
        always=("users",),
    ),
    MethodDoc(
        "dnd.setSnooze",
        "Snoozes notifications for `num_minutes` (1 to 10,080).",
        args=(Arg("num_minutes", _INT, "Minutes.", required=True),),
        result={"snooze_enabled": _BOOL, "snooze_endtime": _INT, "snooze_remaining": _INT},
        always=("snooze_enabled",),
    ),
    MethodDoc(
        "dnd.endSnooze",
        "Ends the caller's snooze (`snooze_not_active` without one).",
        result={"dnd_enabled": _BOOL, "snooze_enabled": _BOOL},
        always=("dnd_enabled", "snooze_enabled"),
    ),
    MethodDoc(
        "dnd.endDnd",
        "Ends the caller's Do Not Disturb now: the snooze, and the scheduled window that "
        "holds now (the next window holds as scheduled). Pushes held meanwhile are sent "
        "as summaries within moments.",
    ),
    MethodDoc(
        "dnd.setSchedule",
        "Parley's extension: the caller's daily Do Not Disturb window, `start` and `end` as "
        "HH:MM in the IANA time zone `tz` (default UTC); neither clears it.",
        args=(
            Arg("start", {"type": "string"}, "HH:MM"),
            Arg("end", {"type": "string"}, "HH:MM"),
            Arg("tz", {"type": "string", "maxLength": 64}, "IANA zone, as Europe/Paris."),
        ),
        result={"dnd_enabled": _BOOL, "next_dnd_start_ts": _INT, "next_dnd_end_ts": _INT},
        always=("dnd_enabled",),
    ),
    MethodDoc(
        "admin.dlq.list",
        "Parley's operator method (scope `admin:dlq`): the dead letters of the installation, "
        "by step and item, a page at a time.",
        read=True,
        args=(
            Arg("step", _STEP, "Only this step's."),
            Arg("limit", _INT, "Page size (default 100, at most 1,000)."),
            Arg("cursor", {"type": "string", "maxLength": 256}, "`next_cursor` of a page."),
        ),
        result={
            "dead_letters": {"type": "array", "items": {"type": "object"}},
            "response_metadata": {"type": "object"},
        },
        always=("dead_letters", "response_metadata"),
    ),
    MethodDoc(
        "admin.dlq.info",
        "One dead letter with its error history and payload (`not_found` if none).",
        read=True,
        args=(
            Arg("step", _STEP, "Its step.", required=True),
            Arg("item", {"type": "string", "maxLength": 1000}, "Its item.", required=True),
        ),
        result={"dead_letter": {"type": "object"}},
        always=("dead_letter",),
    ),
    MethodDoc(
        "admin.dlq.replay",
        "Moves dead letters (`items`, or `all=true`) back to the retries, due now. "
        "Idempotent: a letter replayed is no longer one.",
        args=_DLQ_CHOICE,
        result={"replayed": _INT},
        always=("replayed",),
    ),
    MethodDoc(
        "admin.dlq.purge",
        "Deletes dead letters (`items`, or `all=true`) for good.",
        args=_DLQ_CHOICE,
        result={"purged": _INT},
        always=("purged",),
    ),
    MethodDoc(
        "admin.conversations.setCustomRetention",
        "Slack's operator method (scope `admin.conversations:write`): keeps one "
        "conversation of the caller's workspace (any: a channel public or private, a "
        "direct or group message) for `duration_days` days, whatever the workspace's span "
        "(`parley retention`). The worker's next sweep removes its older threads, each "
        "whole once its last reply is that old, from history and search.",
        args=(
            _RETENTION_CHANNEL,
            Arg(
                "duration_days",
                {"type": "integer", "minimum": 1, "maximum": 36500},
                "Days its messages are kept.",
                required=True,
            ),
        ),
    ),
    MethodDoc(
        "admin.conversations.getCustomRetention",
        "The conversation's own span (scope `admin.conversations:read`): "
        "`is_policy_enabled` false and `duration_days` 0 when it follows its workspace's.",
        read=True,
        args=(_RETENTION_CHANNEL,),
        result={"is_policy_enabled": {"type": "boolean"}, "duration_days": _INT},
        always=("is_policy_enabled", "duration_days"),
    ),
    MethodDoc(
        "admin.conversations.removeCustomRetention",
        "Ends the conversation's own span (scope `admin.conversations:write`): it follows "
        "its workspace's again.",
        args=(_RETENTION_CHANNEL,),
    ),
    MethodDoc(
        "admin.users.remove",
        "Slack's operator method (scope `admin.users:write`): deactivates a user of the "
        "caller's workspace. Their tokens answer `account_inactive`, their web sessions are "
        "ended, their WebSockets closed and their phones' registrations dropped, on every "
        "node before the answer; the team hears `user_change` with `deleted: true`. Their "
        "channels and messages stay.",
        args=_ADMIN_USER,
    ),
    MethodDoc(
        "admin.users.assign",
        "Slack's operator method (scope `admin.users:write`): makes a deactivated user of "
        "the caller's workspace active again (their API tokens work again; they sign in "
        "anew); the team hears `user_change` with `deleted: false`.",
        args=_ADMIN_USER,
    ),
    MethodDoc(
        "admin.users.session.reset",
        "Slack's operator method (scope `admin.users:write`): signs a user of the caller's "
        "workspace out of the web client everywhere (their sessions revoked, the WebSockets "
        "those opened closed); their API tokens stay.",
        args=(
            _USER_ID,
            Arg("mobile_only", _BOOL, "Accepted; Parley's phones hold no session."),
            Arg("web_only", _BOOL, "Accepted; every session Parley has is the web client's."),
        ),
    ),
    MethodDoc(
        "users.list",
        "The team's users, a page at a time.",
        read=True,
        args=(_CURSOR, _limit(200, 1000)),
        result={"members": _list_of("User"), "cache_ts": _INT, **_PAGE},
        always=("members", "response_metadata"),
    ),
    MethodDoc(
        "users.info",
        "One user of the caller's team (`user_not_found`).",
        read=True,
        args=(Arg("user", {"type": "string", "maxLength": 32}, "User id (`U…`).", required=True),),
        result={"user": _ref("User")},
        always=("user",),
    ),
    MethodDoc(
        "team.info",
        "The caller's workspace (`team`, if given, must name it: `team_not_found`).",
        read=True,
        args=(Arg("team", {"type": "string", "maxLength": 32}, "Team id (`T…`)."),),
        result={"team": _ref("Team")},
        always=("team",),
    ),
    MethodDoc(
        "team.profile.get",
        "The workspace's custom profile fields: none (profiles have Slack's standard fields only).",
        read=True,
        args=(Arg("visibility", {"type": "string", "maxLength": 16}, "Taken and ignored."),),
        result={"profile": {"type": "object"}},
        always=("profile",),
    ),
    MethodDoc(
        "chat.getPermalink",
        "A link to a message the caller can see (`<server>/archives/<channel>/p<ts "
        "digits>`, which the web client opens); `message_not_found`.",
        read=True,
        args=(
            _channel(),
            _ts("message_ts", "The message (`message_not_found`).", required=True),
        ),
        result={"channel": _STR, "permalink": _STR},
        always=("channel", "permalink"),
    ),
    MethodDoc(
        "users.conversations",
        "The conversations a user of the caller's team (default: the caller) is a member "
        "of, a page at a time; for another user, private channels and direct messages only "
        "where the caller is a member too (`user_not_found`).",
        read=True,
        args=(
            Arg("user", {"type": "string", "maxLength": 32}, "User id (`U…`)."),
            *_CHANNEL_LISTING,
        ),
        result={"channels": _list_of("Channel"), **_PAGE},
        always=("channels", "response_metadata"),
    ),
    MethodDoc(
        "users.getPresence",
        "Whether a user of the caller's team (default: the caller) has a WebSocket open on "
        "any gateway and has not set themselves away (`active`) or not (`away`); "
        "`user_not_found`. For the caller also `online` (connected) and `manual_away`.",
        read=True,
        args=(Arg("user", {"type": "string", "maxLength": 32}, "User id (`U…`)."),),
        result={
            "presence": {"type": "string", "enum": ["active", "away"]},
            "online": {"type": "boolean"},
            "auto_away": {"type": "boolean"},
            "manual_away": {"type": "boolean"},
        },
        always=("presence",),
    ),
    MethodDoc(
        "users.setPresence",
        "`away`: the caller shows away, connected or not, until `auto`: shown by their "
        "connections again (`invalid_presence` for anything else). Those watching them get "
        "`presence_change` at once when they are connected.",
        args=(
            Arg(
                "presence",
                {"type": "string", "enum": ["auto", "away"]},
                "`auto` or `away`.",
                required=True,
            ),
        ),
    ),
    MethodDoc(
        "bots.info",
        "A bot of the caller's workspace by its `B…` id (`bot_not_found`).",
        read=True,
        args=(Arg("bot", {"type": "string", "maxLength": 32}, "The bot id (`B…`)."),),
        result={"bot": {"type": "object"}},
        always=("bot",),
    ),
    MethodDoc(
        "users.lookupByEmail",
        "The caller's teammate with this email address (`users_not_found`); scope "
        "`users:read.email`.",
        read=True,
        args=(Arg("email", {"type": "string", "maxLength": 254}, "The address.", required=True),),
        result={"user": _ref("User")},
        always=("user",),
    ),
    MethodDoc(
        "users.profile.get",
        "A user's profile (default: the caller's): names, title, phone, status; the email "
        "with `users:read.email`.",
        read=True,
        args=(Arg("user", {"type": "string", "maxLength": 32}, "User id (`U…`)."),),
        result={"profile": {"type": "object"}},
        always=("profile",),
    ),
    MethodDoc(
        "users.profile.set",
        "Sets fields of the caller's own profile (`real_name`, `display_name`, `title`, "
        "`phone`, `status_text`, `status_emoji`, `status_expiration`; `invalid_profile`); "
        "the team gets `user_change`.",
        args=(
            Arg("profile", {"type": "string"}, "A JSON object of the fields to set."),
            Arg("name", {"type": "string", "maxLength": 64}, "One field to set..."),
            Arg("value", {"type": "string"}, "...to this value."),
            Arg("user", {"type": "string", "maxLength": 32}, "Only the caller (`not_authorized`)."),
        ),
        result={"profile": {"type": "object"}},
        always=("profile",),
    ),
    MethodDoc(
        "users.setPhoto",
        "Sets the caller's photo: `image`, a PNG, GIF, JPEG or WebP file of at most 512 KiB "
        "sent as a multipart file (`bad_image`, `too_large`); the profile's `image_24` ... "
        "`image_512` and `image_original` name it; the team gets `user_change`. People's "
        "tokens only.",
        args=(Arg("image", {"type": "string", "format": "binary"}, "The photo, as a file."),),
        result={"profile": {"type": "object"}},
        always=("profile",),
    ),
    MethodDoc(
        "users.deletePhoto",
        "Takes the caller's photo away; the team gets `user_change`.",
        args=(),
        result={"profile": {"type": "object"}},
        always=("profile",),
    ),
)


# -- shared components ---------------------------------------------------------------------------

_DESCRIPTION = """\
Slack's Web API, as Parley serves it. Call `POST /api/<method>` with a JSON object,
form-encoded or multipart body; read methods also `GET` with query arguments. The token
comes as `Authorization: Bearer <token>` or as a `token` argument. Every answer is JSON,
`{"ok": true, ...}` or `{"ok": false, "error": "<slack code>"}`; refusals are `200` with
`ok: false`, as in Slack. A path naming no method answers `404` `unknown_method`, a
method called with the wrong verb `405` `method_not_allowed` with `Allow`."""


def _object(props: dict[str, JsonSchema], required: tuple[str, ...] | list[str]) -> JsonSchema:
    out: JsonSchema = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


_SCHEMAS: dict[str, JsonSchema] = {
    "Error": _object(
        {
            "ok": {"type": "boolean", "enum": [False]},
            "error": {"type": "string", "description": "Slack's error code."},
        },
        ("ok", "error"),
    ),
    "ResponseMetadata": _object(
        {"next_cursor": {"type": "string", "description": "Empty on the last page."}},
        ("next_cursor",),
    ),
    "Message": _object(
        {
            "type": _STR,
            "user": _STR,
            "text": _STR,
            "ts": _STR,
            "team": _STR,
            "channel": _STR,
            "seq": {"type": "integer", "description": "Gap-free position in the channel."},
            "edit_version": {"type": "integer", "description": "Times edited."},
            "subtype": _STR,
            "thread_ts": _STR,
            "bot_id": _STR,
            "client_msg_id": _STR,
            "reply_count": _INT,
            "blocks": {"type": "array", "items": {"type": "object"}},
            "attachments": {"type": "array", "items": {"type": "object"}},
            "username": {"type": "string", "description": "The name a bot's post shows."},
            "icons": {"type": "object", "description": "The icon a bot's post shows."},
            "reactions": {
                "type": "array",
                "items": _object(
                    {"name": _STR, "users": {"type": "array", "items": _STR}, "count": _INT},
                    ("name", "users", "count"),
                ),
            },
        },
        ("type", "text", "ts", "channel", "seq", "edit_version"),
    ),
    "Channel": _object(
        {
            "id": _STR,
            "name": _STR,
            "is_channel": _BOOL,
            "is_private": _BOOL,
            "is_archived": _BOOL,
            "is_member": _BOOL,
            "created": _INT,
            "creator": _STR,
            "num_members": _INT,
            "topic": {"type": "object", "properties": {"value": _STR}},
            "purpose": {"type": "object", "properties": {"value": _STR}},
            "last_read": {
                "type": "string",
                "description": "`conversations.info`, for a member: their read mark.",
            },
            "unread_count": {
                "type": "integer",
                "description": "`conversations.info`, for a member: messages the history "
                "shows after the read mark, from others (at most 10,000).",
            },
        },
        ("id", "name", "is_private", "is_archived", "is_member", "created"),
    ),
    "User": _object(
        {
            "id": _STR,
            "team_id": _STR,
            "name": _STR,
            "real_name": _STR,
            "deleted": _BOOL,
            "is_bot": _BOOL,
            "profile": {"type": "object"},
        },
        ("id", "team_id", "name", "deleted", "is_bot"),
    ),
    "Team": _object({"id": _STR, "name": _STR, "domain": _STR}, ("id", "name")),
}

_ERROR_JSON = {"application/json": {"schema": _ref("Error")}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": _INT}}
_ERRORS: dict[str, Any] = {
    "400": {
        "description": "Not a valid HTTP/1.1 request, a malformed header for example "
        "(`invalid_request`); the connection is closed.",
        "content": _ERROR_JSON,
    },
    "413": {
        "description": "Body over the size limit (`request_too_large`).",
        "content": _ERROR_JSON,
    },
    "431": {
        "description": "The request's head is over the size limit "
        "(`request_header_fields_too_large`); the connection is closed.",
        "content": _ERROR_JSON,
    },
    "429": {
        "description": "Rate limited (`ratelimited`).",
        "headers": _RETRY_AFTER,
        "content": _ERROR_JSON,
    },
    "500": {"description": "A bug (`internal_error`, `fatal_error`).", "content": _ERROR_JSON},
    "503": {
        "description": "The store cannot take work right now (`fatal_error`).",
        "headers": _RETRY_AFTER,
        "content": _ERROR_JSON,
    },
}


# -- assembling the document -------------------------------------------------------------------


def _answer(method: MethodDoc) -> JsonSchema:
    props = {"ok": {"type": "boolean", "enum": [True]}, **method.result}
    return _object(props, ("ok", *method.always))


def _responses(method: MethodDoc) -> dict[str, Any]:
    ok = {
        "description": "`ok: true` with the result, or `ok: false` with Slack's error code.",
        "content": {"application/json": {"schema": {"oneOf": [_answer(method), _ref("Error")]}}},
    }
    return {"200": ok, **_ERRORS}


def _body(method: MethodDoc) -> dict[str, Any]:
    required = [a.name for a in method.args if a.required]
    as_json = _object({a.name: {**a.schema, "description": a.doc} for a in method.args}, required)
    as_text = _object(
        {a.name: {**(a.text or a.schema), "description": a.doc} for a in method.args}, required
    )
    return {
        "required": False,
        "content": {
            "application/json": {"schema": as_json},
            "application/x-www-form-urlencoded": {"schema": as_text},
            "multipart/form-data": {"schema": as_text},
        },
    }


def _query(method: MethodDoc) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "in": "query",
            "required": a.required,
            "description": a.doc,
            "schema": a.text or a.schema,
        }
        for a in method.args
    ]


def _operations(method: MethodDoc) -> dict[str, Any]:
    family = method.name.split(".", 1)[0]
    post: dict[str, Any] = {
        "operationId": method.name,
        "tags": [family],
        "summary": method.summary,
        "responses": _responses(method),
    }
    if method.args:
        post["requestBody"] = _body(method)
    ops = {"post": post}
    if method.read:
        ops["get"] = {
            "operationId": f"{method.name}.get",
            "tags": [family],
            "summary": method.summary,
            "parameters": _query(method),
            "responses": _responses(method),
        }
    if method.public:  # no token needed
        for op in ops.values():
            op["security"] = []
    return ops


def document(methods: tuple[MethodDoc, ...] = METHODS) -> dict[str, Any]:
    """The OpenAPI 3.0 document for ``methods``: one path per method, ``/api/<name>``.

    A new structure on each call (nothing shared with this module), so a caller may change it.
    """
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Parley Web API", "version": __version__, "description": _DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in dict.fromkeys(m.name.split(".")[0] for m in methods)],
        "paths": {f"/api/{m.name}": _operations(m) for m in methods},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A Parley token (`xoxp-…`, `xoxb-…`); a `token` argument "
                    "is accepted too.",
                }
            },
        },
        "security": [{"bearer": []}],
    }
    return copy.deepcopy(doc)
