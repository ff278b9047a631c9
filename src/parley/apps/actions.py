"""Interactivity: a person presses a button of an app's message, or picks an option of
one of its menus (Block Kit's ``button``, ``static_select`` and ``overflow``, in an
``actions`` block or as a ``section``'s accessory); the app whose bot posted the message
gets Slack's ``block_actions`` payload, as Bolt's ``@app.action(...)`` expects.

- A client presses one with ``chat.action`` (Parley's: ``channel``, ``ts``,
  ``action_id``, optionally ``block_id``, and for a menu the chosen option's
  ``value``). The person must be able to post in the channel (the send path's checks
  and rate limit; a bot: ``not_allowed_token_type``); the message must be there
  (``message_not_found``) and have that element, posted by a bot (``action_not_found``;
  an option the menu does not have: ``invalid_arguments``). What the payload says of
  the element (a button's ``value``, ``text``, ``style``; the option chosen, whole) is
  taken from the stored message, never from the client.
- An app with an interactivity URL (``parley app interactivity``) gets the payload
  POSTed as the form field ``payload``, signed (:mod:`parley.apps.link`); else over its
  Socket Mode connection in an ``interactive`` envelope.
- The payload's ``response_url`` takes replies (:mod:`parley.apps.replies`), which here
  may also replace or delete the message.

Ephemeral messages' elements are not pressable (they are not stored, so there is
nothing to check a press against); other elements (date pickers, menus of users or
channels) neither.
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


#: The Block Kit elements a person may act on: pressed, or an option picked.
ELEMENTS = frozenset({"button", "static_select", "overflow"})
#: Those that offer options.
MENUS = frozenset({"static_select", "overflow"})


def find_element(
    rich: str | None, action_id: str, block_id: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The element ``action_id`` (of :data:`ELEMENTS`) of a message's or view's blocks
    (in ``block_id``, when given), with the id of its block (``""`` when the block has
    none); ``None`` when there is none."""
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
                and element.get("type") in ELEMENTS
                and element.get("action_id") == action_id
            ):
                return this_block, element
    return None


def element_action(
    element: dict[str, Any], block_id: str, at: int, value: str | None
) -> dict[str, Any]:
    """An element acted on as ``block_actions`` names it in ``actions`` (what the stored
    message or view says of it, never the client): a button pressed, or the option of a
    menu whose ``value`` is ``value`` (``invalid_arguments`` for one it does not have)."""
    kind = element["type"]
    action: dict[str, Any] = {
        "type": kind,
        "action_id": element["action_id"],
        "block_id": block_id,
        "action_ts": format_ts(at),
    }
    if kind in MENUS:
        options = element.get("options") if isinstance(element.get("options"), list) else []
        chosen = next((o for o in options if isinstance(o, dict) and o.get("value") == value), None)
        if value is None or chosen is None:
            raise ApiError(
                Code.INVALID_ARGUMENTS, data={"arg": "value", "detail": "not one of the options"}
            )
        action["selected_option"] = chosen
        if "placeholder" in element:
            action["placeholder"] = element["placeholder"]
        return action
    action["text"] = element.get("text")
    for key in ("value", "style", "url"):
        if key in element:
            action[key] = element[key]
    return action


def block_actions(
    *,
    bot: User,
    user: User,
    channel: Channel,
    team_domain: str,
    message: Message,
    action: dict[str, Any],
    response_url: str,
    trigger_id: str,
) -> dict[str, Any]:
    """Slack's ``block_actions`` payload for ``user``'s ``action``
    (:func:`element_action`)."""
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
        value: str | None,
        base_url: str,
    ) -> None:
        """``chat.action``: ``user`` presses the button ``action_id`` of the message
        ``ts``, or picks the option ``value`` of its menu; returns once its app has it."""
        channel = await person_in(self._reach.access, self._reach.limiter, user, channel_id)
        message = await self._store.message(channel.id, ts)
        if message is None or message.deleted:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        found = find_element(message.rich, action_id or "", block_id)
        bot = await self._reach.directory.user(message.user) if found is not None else None
        if found is None or bot is None or not bot.is_bot or bot.deleted:
            raise ApiError(ACTION_NOT_FOUND)
        block, element = found
        action = element_action(element, block, self._reach.replies.now_us(), value)
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
            action=action,
            response_url=response_url,
            trigger_id=await self._reach.triggers.issue(user.id, channel.id, bot.id),
        )
        reach = self._reach
        await interact(reach.link, reach.directory, channel, bot.id, fields, answers=False)
