"""What an operator sees of the apps and takes away: ``parley app list`` shows each bot's
app with its URLs, commands, shortcuts and unfurl domains (never a signing secret), and
``parley app remove`` forgets all of it or some parts; a removed Events API app gets
nothing more, and its waiting retries are dropped."""

from __future__ import annotations

import asyncio
import json

import pytest

from parley import admin
from tests.helpers import parley_cli


def mine(listed: list[dict], user_id: str) -> dict | None:
    return next((a for a in listed if a["user_id"] == user_id), None)


def test_an_operator_lists_the_apps_and_removes_them(server):
    bot = server.user("registry-bot", bot=True)
    other = server.user("registry-other", bot=True)
    events = admin.register_event_app(
        server.settings, bot.user_id, "http://127.0.0.1:9/events", verify=False
    )
    admin.register_interactivity(server.settings, bot.user_id, "http://127.0.0.1:9/actions")
    admin.register_command(server.settings, bot.user_id, "/deploy", "http://127.0.0.1:9/cmd")
    admin.register_command(server.settings, bot.user_id, "/status")
    admin.register_shortcut(server.settings, bot.user_id, "new_ticket", "New ticket")
    admin.set_unfurl_domains(server.settings, bot.user_id, ["tickets.example"])
    admin.set_unfurl_domains(server.settings, other.user_id, ["other.example"])

    listed = parley_cli(server, "app", "list")
    assert mine(listed, bot.user_id) == {
        "user_id": bot.user_id,
        "name": "registry-bot",
        "events": "http://127.0.0.1:9/events",
        "interactivity": "http://127.0.0.1:9/actions",
        "commands": [
            {"command": "/deploy", "url": "http://127.0.0.1:9/cmd"},
            {"command": "/status", "url": ""},  # over Socket Mode
        ],
        "shortcuts": [{"callback_id": "new_ticket", "kind": "global", "name": "New ticket"}],
        "unfurl": ["tickets.example"],
    }
    assert events["signing_secret"] not in json.dumps(listed)

    [removed] = parley_cli(
        server, "app", "remove", bot.user_id, "--part", "unfurl", "--part", "events"
    )
    assert removed == {"user_id": bot.user_id, "parts": ["events", "unfurl"], "removed": 2}
    left = mine(admin.list_apps(server.settings), bot.user_id)
    assert left is not None and "events" not in left and left["unfurl"] == []
    assert left["commands"] and left["interactivity"]
    # the running server's Events API worker reads the apps again: none gets events now
    reload = server.services.app_events.reload()
    assert asyncio.run_coroutine_threadsafe(reload, server.loop).result(10) is False

    assert admin.remove_app(server.settings, bot.user_id)["removed"] == 4
    assert mine(admin.list_apps(server.settings), bot.user_id) is None
    assert mine(admin.list_apps(server.settings), other.user_id)["unfurl"] == ["other.example"]
    assert admin.remove_app(server.settings, bot.user_id)["removed"] == 0  # nothing left
    with pytest.raises(admin.AdminError, match="not webhooks"):
        admin.remove_app(server.settings, bot.user_id, ["webhooks"])
