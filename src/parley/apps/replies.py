"""How an app answers a person: a reply to a slash command or to a button pressed
(:mod:`parley.apps.commands`, :mod:`parley.apps.actions`), by the request's HTTP
answer, a Socket Mode acknowledgement's ``payload``, or a POST to the request's
``response_url`` (``<server>/commands/<token>``, :data:`RESPONSE_USES` times within
:data:`RESPONSE_TTL` seconds, as Slack's).

A reply is ``{"text": ..., "blocks": ..., "attachments": ..., "response_type":
"ephemeral" | "in_channel"}``: ephemeral by default (only the person sees it, on the
connections they have open, as ``chat.postEphemeral``) or ``in_channel`` (a message from
the app's bot, stored and delivered as any post, even where the bot is not a member: the
person acted there). Either is checked against the channel as the person may post in it
then, so a reply never reaches a channel they left or cannot see. For a button pressed,
``"replace_original": true`` makes the reply the message's new text and content (blocks
and attachments it does not give are removed) and ``"delete_original": true`` deletes the
message, both as the bot, whose message it is; for a command they do nothing more
(there is no original).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from parley import content
from parley.errors import ApiError, Code
from parley.pipeline.send import Sender
from parley.storage.interface import Directory
from parley.storage.models import Channel, CommandResponse, User

log = logging.getLogger(__name__)

#: Seconds a ``response_url`` takes replies (Slack's: 30 minutes).
RESPONSE_TTL = 30 * 60
#: Replies a ``response_url`` takes (Slack's: 5).
RESPONSE_USES = 5
#: The path a ``response_url`` is under.
RESPONSE_PATH = "/commands/"
#: A ``response_url`` that names nothing, expired, or was used up (Slack answers 404).
EXPIRED_URL = "expired_url"


class Reply(msgspec.Struct, frozen=True):
    """What an app answered with."""

    text: str | None
    rich: str | None  # validated blocks and attachments (parley.content.parse)
    in_channel: bool = False
    #: For a button pressed: replace the message with this (``rich_patch``: the blocks
    #: and attachments it gives, and empty ones for those it does not) or delete it.
    replace: bool = False
    delete: bool = False
    patch: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_of(response_url: str) -> str:
    """The token at the end of a ``response_url``."""
    return response_url.rsplit("/", 1)[-1]


def parse_reply(body: bytes, content_type: str) -> Reply | None:
    """An app's answer (an HTTP answer's body, a ``response_url`` POST): a JSON object,
    or plain text; ``None`` when it says nothing. Bad JSON raises ``invalid_json``, bad
    blocks or attachments :class:`ApiError` (``invalid_blocks``, ...)."""
    if not body.strip():
        return None
    if "json" not in content_type and not body.lstrip().startswith(b"{"):
        return Reply(body.decode("utf-8", "replace"), None)
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(Code.INVALID_JSON) from None
    if not isinstance(obj, dict):
        raise ApiError(Code.INVALID_JSON)
    return reply_of(obj)


def reply_of(obj: dict[str, Any]) -> Reply | None:
    """A reply from its JSON object; ``None`` when it has neither text nor content and
    deletes nothing."""
    text = obj.get("text")
    text = text if isinstance(text, str) else None
    blocks, attachments = obj.get("blocks"), obj.get("attachments")
    rich = content.parse(blocks, attachments)
    delete = obj.get("delete_original") is True
    if text is None and not content.has_content(rich) and not delete:
        return None
    replace = obj.get("replace_original") is True
    patch = content.patch(blocks or [], attachments or []) if replace else None
    return Reply(text, rich, obj.get("response_type") == "in_channel", replace, delete, patch)


class Replies:
    """Response URLs and what comes through them."""

    def __init__(
        self, directory: Directory, sender: Sender, clock: Callable[[], float] = time.time
    ) -> None:
        self._directory = directory
        self._sender = sender
        self._clock = clock

    def now_us(self) -> int:
        return int(self._clock() * 1e6)

    async def grant(
        self, user: User, channel: Channel, bot: User, base_url: str, message_ts: int = 0
    ) -> tuple[str, CommandResponse]:
        """A new ``response_url`` for ``bot``'s app to answer ``user`` in ``channel``
        (and, with ``message_ts``, to replace or delete that message of the bot's), and
        what it grants."""
        token = secrets.token_urlsafe(24)
        now = self.now_us()
        granted = CommandResponse(
            user.team_id, channel.id, user.id, bot.id, now + RESPONSE_TTL * 1_000_000, message_ts
        )
        await self._directory.add_command_response(hash_token(token), granted, now)
        return f"{base_url.rstrip('/')}{RESPONSE_PATH}{token}", granted

    async def respond(self, token: str, body: bytes, content_type: str) -> None:
        """A POST to a ``response_url``: delivers the reply (``expired_url`` when the URL
        names nothing, expired or was used up; ``no_text`` when it says nothing)."""
        await self._through(token, parse_reply(body, content_type))

    async def acknowledged(self, request: bytes, obj: dict[str, Any]) -> None:
        """A Socket Mode acknowledgement with a ``payload`` (``request``: the envelope as
        sent, but for its id): the reply, through the request's ``response_url`` (one of
        its uses). What is refused is logged: the app is not told."""
        response_url = orjson.loads(request).get("payload", {}).get("response_url", "")
        try:
            await self._through(token_of(response_url), reply_of(obj))
        except ApiError as exc:
            log.info("apps: an acknowledgement's reply was refused: %s", exc.code)
        except Exception:  # the store or directory failing: the app cannot be told
            log.exception("apps: an acknowledgement's reply failed")

    async def _through(self, token: str, reply: Reply | None) -> None:
        if reply is None:
            raise ApiError(Code.NO_TEXT)
        granted = await self._directory.use_command_response(
            hash_token(token), self.now_us(), RESPONSE_USES
        )
        if granted is None:
            raise ApiError(EXPIRED_URL, status=404)
        await self.deliver(granted, reply)

    async def deliver(self, granted: CommandResponse, reply: Reply) -> None:
        """Delivers ``reply`` as ``granted`` allows (see the module)."""
        user = await self._directory.user(granted.user_id)
        bot = await self._directory.user(granted.app_user_id)
        if user is None or bot is None or bot.deleted:
            raise ApiError(EXPIRED_URL, status=404)
        channel, ts = granted.channel_id, granted.message_ts
        if ts and reply.delete:
            await self._sender.delete(bot, channel, ts)
        elif ts and reply.replace:
            await self._sender.update(bot, channel, ts, reply.text, None, rich_patch=reply.patch)
        elif not reply.delete:
            await self._sender.command_reply(
                bot, user, channel, reply.text, rich=reply.rich, in_channel=reply.in_channel
            )
