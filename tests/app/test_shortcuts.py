"""Shortcuts: a Bolt app, unmodified, hears its global shortcut (``shortcut``) and its
message shortcut (``message_action``, with the message as stored) through
``@app.shortcut``, when a person runs one (Parley's ``chat.shortcut``); the trigger
opens a modal, the response URL posts in the channel. Over Socket Mode and HTTP."""

from __future__ import annotations

import itertools

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from websockets.sync.client import connect

from parley import admin
from parley.server import free_port
from tests.app.test_modals import TICKET_VIEW
from tests.helpers import bolt_over_http, bolt_over_socket_mode, error_of, frame_of
from tests.subscriber import wait_for

_n = itertools.count()


@pytest.fixture()
def room(server):
    """An app's bot with a global and a message shortcut, a person, their channel."""
    tag = next(_n)
    bot = server.user(f"short{tag}", bot=True, app_token=True)
    person = server.user(f"short{tag}-person")
    channel = server.client(person.token).conversations_create(name=f"short{tag}")["channel"]
    admin.register_shortcut(server.settings, bot.user_id, "new_ticket", "New ticket")
    admin.register_shortcut(
        server.settings, bot.user_id, "file_it", "File it", kind="message", description="x"
    )
    return bot, person, channel["id"]


def shortcut_app(bot, server, **app_args) -> tuple[App, list[dict]]:
    """The app: its global shortcut opens the ticket modal, its message shortcut files
    the message in the channel."""
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"), **app_args)
    heard: list[dict] = []

    @app.shortcut("new_ticket")
    def new_ticket(ack, shortcut, client):
        ack()
        heard.append(shortcut)
        client.views_open(trigger_id=shortcut["trigger_id"], view=TICKET_VIEW)

    @app.shortcut("file_it")
    def file_it(ack, shortcut, respond):
        ack()
        heard.append(shortcut)
        respond(response_type="in_channel", text=f"filed: {shortcut['message']['text']}")

    return app, heard


def run(web: WebClient, **args) -> dict:
    return web.api_call("chat.shortcut", json=args).data


def check_shortcuts(server, bot, person, channel, heard: list[dict]) -> None:
    """The person's side of the shortcut app."""
    web = server.client(person.token)
    listed = [s for s in web.api_call("shortcuts.list")["shortcuts"] if s["app"] == bot.user_id]
    assert [(s["callback_id"], s["type"], s["name"]) for s in listed] == [
        ("file_it", "message", "File it"),
        ("new_ticket", "global", "New ticket"),
    ]
    with connect(web.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        run(web, app=bot.user_id, callback_id="new_ticket", channel=channel)
        assert frame_of(ws, "view_opened")["view"]["title"]["text"] == "New ticket"
    ts = web.chat_postMessage(channel=channel, text="the printer is on fire")["ts"]
    run(web, app=bot.user_id, callback_id="file_it", channel=channel, ts=ts)

    def texts():
        return [m["text"] for m in web.conversations_history(channel=channel)["messages"]]

    wait_for(lambda: "filed: the printer is on fire" in texts(), 10, "the app's reply")
    glob, message = heard
    assert (glob["type"], glob["callback_id"], glob["user"]["id"]) == (
        "shortcut",
        "new_ticket",
        person.user_id,
    )
    assert "channel" not in glob and "message" not in glob  # as Slack's
    assert message["type"] == "message_action" and message["channel"]["id"] == channel
    assert (message["message_ts"], message["message"]["user"]) == (ts, person.user_id)
    assert message["trigger_id"] and message["response_url"]


def test_a_bolt_app_hears_its_shortcuts_over_socket_mode(server, room):
    bot, person, channel = room
    app, heard = shortcut_app(bot, server)
    with bolt_over_socket_mode(app, bot.app_token):
        check_shortcuts(server, bot, person, channel, heard)


def test_a_bolt_app_over_http_hears_its_shortcuts(server, room):
    bot, person, channel = room
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    secret = admin.register_interactivity(server.settings, bot.user_id, url)["signing_secret"]
    app, heard = shortcut_app(bot, server, signing_secret=secret)
    with bolt_over_http(app, port):
        check_shortcuts(server, bot, person, channel, heard)


def test_shortcuts_are_checked(server, room):
    """What a shortcut may be run on, and by whom; nothing reaches the app."""
    bot, person, channel = room
    web = server.client(person.token)
    ts = web.chat_postMessage(channel=channel, text="hi")["ts"]
    other = server.user(f"short-other{next(_n)}")
    private = server.client(other.token).conversations_create(
        name=f"short-secret{next(_n)}", is_private=True
    )["channel"]["id"]
    secret_ts = server.client(other.token).chat_postMessage(channel=private, text="s")["ts"]

    def refused(token: str, **args) -> str:
        return error_of(server.client(token).api_call, "chat.shortcut", json=args)

    app = bot.user_id
    assert refused(person.token, app=app, callback_id="nope", channel=channel) == (
        "shortcut_not_found"
    )
    # a global one is not run on a message, nor a message one without one
    assert refused(person.token, app=app, callback_id="new_ticket", channel=channel, ts=ts) == (
        "shortcut_not_found"
    )
    assert refused(person.token, app=app, callback_id="file_it", channel=channel) == (
        "shortcut_not_found"
    )
    assert refused(person.token, app=person.user_id, callback_id="file_it", channel=channel) == (
        "shortcut_not_found"
    )
    gone = "1.000001"
    assert refused(person.token, app=app, callback_id="file_it", channel=channel, ts=gone) == (
        "message_not_found"
    )
    # a private channel the person is not in: as if it were not there
    assert refused(person.token, app=app, callback_id="file_it", channel=private, ts=secret_ts) == (
        "channel_not_found"
    )
    assert refused(bot.token, app=app, callback_id="new_ticket", channel=channel) == (
        "not_allowed_token_type"
    )
    # no app connected: the person is told
    assert refused(person.token, app=app, callback_id="new_ticket", channel=channel) == (
        "dispatch_failed"
    )
