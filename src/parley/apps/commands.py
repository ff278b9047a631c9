"""Slash commands: a person types ``/deploy staging`` in a channel; the app that has the
command (``parley app command``) gets it, as Slack's apps do, and answers.

- A client runs one with ``chat.command`` (``channel``, ``command``, ``text``; Slack's
  clients' own method; a bot cannot run commands: ``not_allowed_token_type``). The
  person must be able to post in the channel (the send path's checks and rate limit);
  a command the team does not have is ``invalid_command``.
- An app with a request URL gets Slack's form-encoded payload POSTed and signed
  (:mod:`parley.apps.link`); an answer with a body (JSON, or plain text) is its reply.
- An app without one gets the payload over its Socket Mode connection, in a
  ``slash_commands`` envelope that accepts a response payload: the acknowledgement's
  ``payload``, if any, is its reply. The envelope goes to one of the app's connections on
  each node that has one; an app connected through several gateway nodes gets it once
  from each.
- Each payload carries a ``response_url`` the app may POST replies to
  (:mod:`parley.apps.replies`, which says what a reply may be).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from parley.apps.callback import app_id
from parley.apps.link import AppLink
from parley.apps.replies import Replies, parse_reply
from parley.apps.triggers import Triggers
from parley.errors import ApiError
from parley.pipeline.access import ChannelAccess
from parley.pipeline.limits import Limiter
from parley.storage.interface import Directory
from parley.storage.models import AppCommand, Channel, User

log = logging.getLogger(__name__)

INVALID_COMMAND = "invalid_command"
NOT_ALLOWED_TOKEN_TYPE = "not_allowed_token_type"


def payload(
    cmd: AppCommand,
    bot: User,
    user: User,
    channel: Channel,
    team_domain: str,
    text: str,
    response_url: str,
    trigger_id: str,
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
        "trigger_id": trigger_id,
    }


async def person_in(
    access: ChannelAccess, limiter: Limiter, user: User, channel_id: str | None
) -> Channel:
    """The channel where ``user``, a person, acts as if posting (a command, a button):
    ``not_allowed_token_type`` for a bot, the send path's channel checks and rate limit."""
    if user.is_bot:
        raise ApiError(NOT_ALLOWED_TOKEN_TYPE)
    channel = await access.writable(user, channel_id)
    await limiter.check_message(user, channel)
    return channel


@dataclass(frozen=True, slots=True)
class AppReach:
    """What a person's request to an app (a slash command, a button pressed) goes
    through: the directory, the channel's checks and rate limit (:func:`person_in`),
    response URLs, the way to the app, and trigger ids."""

    directory: Directory
    access: ChannelAccess
    limiter: Limiter
    replies: Replies
    link: AppLink
    triggers: Triggers


class Commands:
    """Runs slash commands (see the module)."""

    def __init__(self, reach: AppReach) -> None:
        self._reach = reach

    async def run(
        self, user: User, channel_id: str | None, command: str | None, text: str, base_url: str
    ) -> None:
        """``chat.command``: ``user`` runs ``command`` with ``text`` in ``channel_id``.
        Returns once the app has it (and, over HTTP, its answer is delivered)."""
        channel = await person_in(self._reach.access, self._reach.limiter, user, channel_id)
        name = (command or "").strip().lower()
        known = {c.command: c for c in await self._reach.directory.commands(user.team_id)}
        cmd = known.get(name)
        bot = await self._reach.directory.user(cmd.user_id) if cmd is not None else None
        if cmd is None or bot is None or bot.deleted:
            raise ApiError(INVALID_COMMAND)
        team = await self._reach.directory.team(user.team_id)
        response_url, granted = await self._reach.replies.grant(user, channel, bot, base_url)
        domain = team.domain if team else ""
        trigger = await self._reach.triggers.issue(user.id, channel.id, bot.id)
        fields = payload(cmd, bot, user, channel, domain, text, response_url, trigger)
        if not cmd.request_url:
            await self._reach.link.socket(channel, bot.id, "slash_commands", fields, answers=True)
            return
        answer = await self._reach.link.post(cmd.request_url, cmd.signing_secret, fields)
        try:
            reply = parse_reply(answer.content, answer.headers.get("content-type", ""))
        except ApiError:  # the app's answer was not a message: nothing to show
            log.info("commands: %s answered what is not a message", cmd.command)
            return
        if reply is not None:
            await self._reach.replies.deliver(granted, reply)
