"""Slash commands: a person types ``/deploy staging`` in a channel; the app that has the
command (``parley app command``) gets it, as Slack's apps do, and answers.

- A client runs one with ``chat.command`` (``channel``, ``command``, ``text``; Slack's
  clients' own method; a bot cannot run commands: ``not_allowed_token_type``). The
  person must be able to post in the channel (the send path's checks and rate limit);
  a command the team does not have is ``invalid_command``.
- An app with a request URL gets Slack's form-encoded payload POSTed and signed
  (``X-Slack-Signature``, with the app's signing secret) and has :data:`TIMEOUT`
  seconds to answer (``operation_timeout``; a failed request or a non-2xx answer is
  ``dispatch_failed``); an answer with a body (JSON, or plain text) is its reply.
- An app without one gets the payload over its Socket Mode connection, in a
  ``slash_commands`` envelope that accepts a response payload: the acknowledgement's
  ``payload``, if any, is its reply. When the bot has no connection open the command is
  ``dispatch_failed``. The envelope goes to one of the app's connections on each node
  that has one; an app connected through several gateway nodes gets it once from each.
- Each payload carries a ``response_url`` (``<server>/commands/<token>``) the app may
  POST a reply to, :data:`RESPONSE_USES` times within :data:`RESPONSE_TTL` seconds, as
  Slack's: ``{"text": ..., "blocks": ..., "response_type": "ephemeral" | "in_channel"}``.

A reply is ``ephemeral`` by default (only the person who ran the command sees it, on the
connections they have open, as ``chat.postEphemeral``) or ``in_channel`` (a message from
the app's bot, stored and delivered as any post, even where the bot is not a member:
the person ran the command there). Either is checked against the channel as the person
sees it then, so a reply never reaches a channel they left or cannot see.
``replace_original`` and ``delete_original`` are accepted and not acted on (Parley's
commands leave no original to change).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import orjson

from parley import content
from parley.apps.callback import app_id
from parley.apps.events import signature
from parley.bus.interface import EventBus
from parley.errors import ApiError, Code
from parley.gateway.presence import Presence
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.pipeline.limits import Limiter
from parley.pipeline.send import Sender
from parley.storage.interface import Directory
from parley.storage.models import AppCommand, Channel, CommandResponse, User

log = logging.getLogger(__name__)

#: Seconds an app has to answer a command over HTTP (Slack's: 3).
TIMEOUT = 3.0
#: Seconds a ``response_url`` takes replies (Slack's: 30 minutes).
RESPONSE_TTL = 30 * 60
#: Replies a ``response_url`` takes (Slack's: 5).
RESPONSE_USES = 5
#: The path a ``response_url`` is under.
RESPONSE_PATH = "/commands/"

INVALID_COMMAND = "invalid_command"
DISPATCH_FAILED = "dispatch_failed"
OPERATION_TIMEOUT = "operation_timeout"
NOT_ALLOWED_TOKEN_TYPE = "not_allowed_token_type"
#: A ``response_url`` that names nothing, expired, or was used up (Slack answers 404).
EXPIRED_URL = "expired_url"
NO_TEXT = "no_text"


class Reply(msgspec.Struct, frozen=True):
    """What an app answered a command with."""

    text: str | None
    rich: str | None  # validated blocks and attachments (parley.content)
    in_channel: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def payload(
    cmd: AppCommand,
    bot: User,
    user: User,
    channel: Channel,
    team_domain: str,
    text: str,
    response_url: str,
) -> dict[str, str]:
    """The command as Slack sends it to an app (the form's fields; over Socket Mode the
    same as a JSON object)."""
    return {
        "token": "",
        "team_id": channel.team_id,
        "team_domain": team_domain,
        "channel_id": channel.id,
        "channel_name": channel.name if not channel.is_im else "directmessage",
        "user_id": user.id,
        "user_name": user.name,
        "command": cmd.command,
        "text": text,
        "api_app_id": app_id(bot),
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{secrets.randbelow(10**12)}.{secrets.token_hex(8)}",
    }


def token_of(response_url: str) -> str:
    """The token at the end of a ``response_url``."""
    return response_url.rsplit("/", 1)[-1]


def parse_reply(body: bytes, content_type: str) -> Reply | None:
    """An app's answer (an HTTP answer's body, a ``response_url`` POST, an
    acknowledgement's payload): a JSON object, or plain text; ``None`` when it says
    nothing. Bad blocks or attachments raise :class:`ApiError` (``invalid_blocks``, ...)."""
    if not body.strip():
        return None
    if "json" not in content_type and not body.lstrip().startswith(b"{"):
        return Reply(body.decode("utf-8", "replace"), None, False)
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(Code.INVALID_JSON) from None
    if not isinstance(obj, dict):
        raise ApiError(Code.INVALID_JSON)
    return reply_of(obj)


def reply_of(obj: dict[str, Any]) -> Reply | None:
    """A reply from its JSON object; ``None`` when it has neither text nor content."""
    text = obj.get("text")
    text = text if isinstance(text, str) else None
    rich = content.parse(obj.get("blocks"), obj.get("attachments"))
    if text is None and not content.has_content(rich):
        return None
    return Reply(text, rich, obj.get("response_type") == "in_channel")


class Commands:
    """Runs slash commands and takes their apps' replies (see the module)."""

    def __init__(
        self,
        *,
        directory: Directory,
        access: ChannelAccess,
        sender: Sender,
        bus: EventBus,
        presence: Presence,
        limiter: Limiter,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._access = access
        self._sender = sender
        self._bus = bus
        self._presence = presence
        self._limiter = limiter
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT)
        self._clock = clock

    async def close(self) -> None:
        await self._client.aclose()

    async def run(
        self, user: User, channel_id: str | None, command: str | None, text: str, base_url: str
    ) -> None:
        """``chat.command``: ``user`` runs ``command`` with ``text`` in ``channel_id``.
        Returns once the app has it (and, over HTTP, its answer is delivered)."""
        if user.is_bot:
            raise ApiError(NOT_ALLOWED_TOKEN_TYPE)
        channel = await self._access.writable(user, channel_id)
        await self._limiter.check_message(user, channel)
        name = (command or "").strip().lower()
        known = {c.command: c for c in await self._directory.commands(user.team_id)}
        cmd = known.get(name)
        bot = await self._directory.user(cmd.user_id) if cmd is not None else None
        if cmd is None or bot is None or bot.deleted:
            raise ApiError(INVALID_COMMAND)
        team = await self._directory.team(user.team_id)
        token = secrets.token_urlsafe(24)
        now = int(self._clock() * 1e6)
        granted = CommandResponse(
            user.team_id, channel.id, user.id, cmd.user_id, now + RESPONSE_TTL * 1_000_000
        )
        await self._directory.add_command_response(hash_token(token), granted, now)
        response_url = f"{base_url.rstrip('/')}{RESPONSE_PATH}{token}"
        domain = team.domain if team else ""
        fields = payload(cmd, bot, user, channel, domain, text, response_url)
        if cmd.request_url:
            reply = await self._post(cmd, fields)
            if reply is not None:
                await self._answer(granted, reply)
            return
        if not await self._presence.online(user.team_id, [cmd.user_id]):
            raise ApiError(DISPATCH_FAILED)
        self._bus.publish(events.slash_command(channel, cmd.user_id, now, fields))

    async def _post(self, cmd: AppCommand, fields: dict[str, str]) -> Reply | None:
        body = urllib.parse.urlencode(fields).encode()
        stamp = str(int(self._clock()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature(cmd.signing_secret, stamp, body),
        }
        try:
            answer = await self._client.post(cmd.request_url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise ApiError(OPERATION_TIMEOUT) from None
        except httpx.HTTPError:
            raise ApiError(DISPATCH_FAILED) from None
        if not 200 <= answer.status_code < 300:
            raise ApiError(DISPATCH_FAILED)
        try:
            return parse_reply(answer.content, answer.headers.get("content-type", ""))
        except ApiError:  # the app's answer was not a message: nothing to show
            log.info("commands: %s answered what is not a message", cmd.command)
            return None

    async def respond(self, token: str, body: bytes, content_type: str) -> None:
        """A POST to a ``response_url``: delivers the reply (``expired_url`` when the URL
        names nothing, expired or was used up; ``no_text`` when it says nothing)."""
        reply = parse_reply(body, content_type)
        await self._reply(token, reply)

    async def acknowledged(self, command_payload: bytes, obj: dict[str, Any]) -> None:
        """A Socket Mode acknowledgement with a ``payload``: the reply, through the
        command's ``response_url`` (one of its uses)."""
        response_url = orjson.loads(command_payload).get("response_url", "")
        try:
            await self._reply(token_of(response_url), reply_of(obj))
        except ApiError as exc:
            log.info("commands: an acknowledgement's reply was refused: %s", exc.code)
        except Exception:  # the store or directory failing: the app cannot be told
            log.exception("commands: an acknowledgement's reply failed")

    async def _reply(self, token: str, reply: Reply | None) -> None:
        if reply is None:
            raise ApiError(NO_TEXT)
        now = int(self._clock() * 1e6)
        granted = await self._directory.use_command_response(hash_token(token), now, RESPONSE_USES)
        if granted is None:
            raise ApiError(EXPIRED_URL, status=404)
        await self._answer(granted, reply)

    async def _answer(self, granted: CommandResponse, reply: Reply) -> None:
        user = await self._directory.user(granted.user_id)
        bot = await self._directory.user(granted.app_user_id)
        if user is None or bot is None or bot.deleted:
            raise ApiError(EXPIRED_URL, status=404)
        await self._sender.command_reply(
            bot, user, granted.channel_id, reply.text, rich=reply.rich, in_channel=reply.in_channel
        )
