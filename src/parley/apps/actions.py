"""Interactivity: a person presses a button of an app's message (Block Kit's ``button``,
in an ``actions`` block or a ``section``'s accessory); the app whose bot posted the
message gets Slack's ``block_actions`` payload, as Bolt's ``@app.action(...)`` expects.

- A client presses one with ``chat.action`` (Parley's: ``channel``, ``ts``,
  ``action_id``, optionally ``block_id``). The person must be able to post in the
  channel (the send path's checks and rate limit; a bot: ``not_allowed_token_type``);
  the message must be there (``message_not_found``) and have that button, posted by a
  bot (``action_not_found``). What the payload says of the button (its ``value``,
  ``text``, ``style``) is taken from the stored message, never from the client.
- An app with an interactivity URL (``parley app interactivity``) gets the payload
  POSTed as the form field ``payload``, signed (:mod:`parley.apps.link`); else over its
  Socket Mode connection in an ``interactive`` envelope.
- The payload's ``response_url`` takes replies (:mod:`parley.apps.replies`), which here
  may also replace or delete the message.

Buttons of ephemeral messages are not pressable (they are not stored, so there is
nothing to check a press against); other elements (menus, date pickers) neither.
"""

from __future__ import annotations

from typing import Any

from parley import content, wire
from parley.apps.callback import app_id
from parley.apps.commands import AppReach, person_in
from parley.apps.link import interact
from parley.errors import ApiError, Code
from parley.ids import format_ts
from parley.storage.interface import MessageStore
from parley.storage.models import Channel, Message, User

ACTION_NOT_FOUND = "action_not_found"


def find_button(
    rich: str | None, action_id: str, block_id: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The button ``action_id`` of a message's blocks (in ``block_id``, when given), with
    the id of its block (``""`` when the block has none); ``None`` when there is none."""
    for block in content.fields(rich).get("blocks", ()):
        if not isinstance(block, dict):
            continue
        this_block = block.get("block_id") if isinstance(block.get("block_id"), str) else ""
        if block_id is not None and this_block != block_id:
            continue
        if block.get("type") == "actions":
            elements = block.get("elements")
        else:
            elements = [block.get("accessory")] if block.get("type") == "section" else []
        for element in elements if isinstance(elements, list) else ():
            if (
                isinstance(element, dict)
                and element.get("type") == "button"
                and element.get("action_id") == action_id
            ):
                return this_block, element
    return None


def button_action(button: dict[str, Any], block_id: str, at: int) -> dict[str, Any]:
    """A pressed button as ``block_actions`` names it in ``actions`` (what the stored
    message or view says of it, never the client)."""
    action: dict[str, Any] = {
        "type": "button",
        "action_id": button["action_id"],
        "block_id": block_id,
        "text": button.get("text"),
        "action_ts": format_ts(at),
    }
    for key in ("value", "style", "url"):
        if key in button:
            action[key] = button[key]
    return action


def block_actions(
    *,
    bot: User,
    user: User,
    channel: Channel,
    team_domain: str,
    message: Message,
    block_id: str,
    button: dict[str, Any],
    response_url: str,
    trigger_id: str,
    at: int,
) -> dict[str, Any]:
    """Slack's ``block_actions`` payload for ``user`` pressing ``button``."""
    action = button_action(button, block_id, at)
    return {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id},
        "api_app_id": app_id(bot),
        "token": "",
        "container": {
            "type": "message",
            "message_ts": format_ts(message.ts),
            "channel_id": channel.id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": channel.team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel.name},
        "message": wire.message(message),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


class Actions:
    """Presses buttons (see the module)."""

    def __init__(self, reach: AppReach, store: MessageStore) -> None:
        self._reach = reach
        self._store = store

    async def press(
        self,
        user: User,
        channel_id: str | None,
        ts: int,
        action_id: str | None,
        block_id: str | None,
        base_url: str,
    ) -> None:
        """``chat.action``: ``user`` presses the button ``action_id`` of the message
        ``ts``; returns once its app has it."""
        channel = await person_in(self._reach.access, self._reach.limiter, user, channel_id)
        message = await self._store.message(channel.id, ts)
        if message is None or message.deleted:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        found = find_button(message.rich, action_id or "", block_id)
        bot = await self._reach.directory.user(message.user) if found is not None else None
        if found is None or bot is None or not bot.is_bot or bot.deleted:
            raise ApiError(ACTION_NOT_FOUND)
        block, button = found
        team = await self._reach.directory.team(user.team_id)
        response_url, _granted = await self._reach.replies.grant(
            user, channel, bot, base_url, message_ts=message.ts
        )
        fields = block_actions(
            bot=bot,
            user=user,
            channel=channel,
            team_domain=team.domain if team else "",
            message=message,
            block_id=block,
            button=button,
            response_url=response_url,
            trigger_id=await self._reach.triggers.issue(user.id, channel.id, bot.id),
            at=self._reach.replies.now_us(),
        )
        reach = self._reach
        await interact(reach.link, reach.directory, channel, bot.id, fields, answers=False)
