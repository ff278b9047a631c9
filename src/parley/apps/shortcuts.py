"""Shortcuts: an app offers actions a person runs from the client's list, as Slack's
global and message shortcuts, and gets Slack's payload, as Bolt's
``@app.shortcut(callback_id)`` expects.

- The operator gives an app one (``parley app shortcut``): ``global`` (run from
  anywhere) or ``message`` (run on a message). ``shortcuts.list`` (Parley's) lists the
  team's, for the client's menus.
- A person runs one with ``chat.shortcut`` (Parley's: ``app``, ``callback_id``,
  ``channel``, and for a message shortcut ``ts``). They must be able to post in the
  channel (the send path's checks and rate limit; a bot: ``not_allowed_token_type``);
  a shortcut the app does not have is ``shortcut_not_found``, a message that is not
  there ``message_not_found``.
- The app gets ``shortcut`` (global: no channel, as in Slack; the channel only routes
  the modal it may open) or ``message_action`` (the channel, the message as stored and
  a ``response_url`` that posts in the channel), each with a ``trigger_id`` for
  ``views.open``, over Socket Mode or at its interactivity URL
  (:func:`parley.apps.link.interact`).
"""

from __future__ import annotations

from typing import Any

from parley import wire
from parley.apps.callback import app_id
from parley.apps.commands import AppReach, person_in
from parley.apps.link import interact
from parley.errors import ApiError, Code
from parley.ids import format_ts
from parley.storage.interface import MessageStore
from parley.storage.models import AppShortcut, User

#: The kinds of shortcut: run from anywhere, or on a message.
KINDS = ("global", "message")
SHORTCUT_NOT_FOUND = "shortcut_not_found"


def listed(s: AppShortcut) -> dict[str, str]:
    """A shortcut as ``shortcuts.list`` shows it."""
    return {
        "app": s.user_id,
        "callback_id": s.callback_id,
        "type": s.kind,
        "name": s.name,
        "description": s.description,
    }


class Shortcuts:
    """Runs shortcuts (see the module)."""

    def __init__(self, reach: AppReach, store: MessageStore) -> None:
        self._reach = reach
        self._store = store

    async def list(self, user: User) -> list[dict[str, str]]:
        """``shortcuts.list``: the team's, of apps whose bot is live, by app and name."""
        out = []
        for s in await self._reach.directory.shortcuts(user.team_id):
            bot = await self._reach.directory.user(s.user_id)
            if bot is not None and not bot.deleted:
                out.append(listed(s))
        return out

    async def run(
        self,
        user: User,
        app_user_id: str | None,
        callback_id: str | None,
        channel_id: str | None,
        ts: int | None,
        base_url: str,
    ) -> None:
        """``chat.shortcut``: ``user`` runs the app's shortcut ``callback_id`` in
        ``channel_id``, on the message ``ts`` for a message shortcut; returns once the
        app has it."""
        reach = self._reach
        channel = await person_in(reach.access, reach.limiter, user, channel_id)
        kind = "global" if ts is None else "message"
        found = next(
            (
                s
                for s in await reach.directory.shortcuts(user.team_id)
                if s.user_id == app_user_id and s.callback_id == callback_id and s.kind == kind
            ),
            None,
        )
        bot = await reach.directory.user(found.user_id) if found is not None else None
        if found is None or bot is None or bot.deleted:
            raise ApiError(SHORTCUT_NOT_FOUND)
        message = await self._store.message(channel.id, ts) if ts is not None else None
        if ts is not None and (message is None or message.deleted):
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        team = await reach.directory.team(user.team_id)
        fields: dict[str, Any] = {
            "type": "shortcut",
            "token": "",
            "action_ts": format_ts(reach.replies.now_us()),
            "team": {"id": user.team_id, "domain": team.domain if team else ""},
            "user": {"id": user.id, "username": user.name, "team_id": user.team_id},
            "api_app_id": app_id(bot),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": found.callback_id,
            "trigger_id": await reach.triggers.issue(user.id, channel.id, bot.id),
        }
        if message is not None:  # a message shortcut: where, what, and a way to answer
            response_url, _granted = await reach.replies.grant(user, channel, bot, base_url)
            fields.update(
                type="message_action",
                channel={"id": channel.id, "name": channel.name},
                message_ts=format_ts(message.ts),
                message=wire.message(message),
                response_url=response_url,
            )
        await interact(reach.link, reach.directory, channel, bot.id, fields, answers=False)
