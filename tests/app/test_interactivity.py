"""Interactivity: a person presses a button of an app's message with ``chat.action``; a
Bolt app, unmodified, gets ``block_actions`` over Socket Mode or HTTP and replaces or
deletes the message through its ``response_url``; what may not be pressed is refused,
and what the app is told of the button comes from the stored message."""

from __future__ import annotations

import itertools
import json
import urllib.parse

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from parley import admin
from parley.server import free_port
from tests.helpers import HttpReceiver, bolt_over_http, bolt_over_socket_mode, error_of, succeeds
from tests.subscriber import wait_for

_n = itertools.count()

BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Ship release 42?"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "42",
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "value": "42",
            },
        ],
    },
]


@pytest.fixture()
def asked(server):
    """A bot with an app-level token that asked, with buttons, in a person's channel."""
    tag = next(_n)
    bot = server.user(f"ask{tag}", bot=True, app_token=True)
    person = server.user(f"ask{tag}-person")
    web = server.client(person.token)
    channel = web.conversations_create(name=f"ask{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=bot.user_id)
    ts = server.client(bot.token).chat_postMessage(
        channel=channel, text="Ship release 42?", blocks=BLOCKS
    )["ts"]
    return bot, person, channel, ts


def press(web: WebClient, channel: str, ts: str, action_id: str, **more) -> dict:
    args = {"channel": channel, "ts": ts, "action_id": action_id, **more}
    return web.api_call("chat.action", json=args)


def the_message(web: WebClient, channel: str) -> dict | None:
    messages = web.conversations_history(channel=channel)["messages"]
    return messages[0] if messages else None


def test_a_bolt_app_over_socket_mode_replaces_its_message(server, asked):
    bot, person, channel, ts = asked
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    got: list[dict] = []

    @app.action("approve")
    def approve(ack, body, respond):
        ack()
        got.append(body)
        respond(replace_original=True, text=f"Approved by <@{body['user']['id']}>")

    web = server.client(person.token)
    with bolt_over_socket_mode(app, bot.app_token):
        assert press(web, channel, ts, "approve", value="forged")["ok"]
        done = f"Approved by <@{person.user_id}>"
        wait_for(lambda: the_message(web, channel)["text"] == done, 10, "the message replaced")
        replaced = the_message(web, channel)
        assert replaced["ts"] == ts and "blocks" not in replaced and replaced["edited"]
        (body,) = got
        (action,) = body["actions"]
        assert (action["action_id"], action["block_id"], action["value"]) == (
            "approve",
            "decide",
            "42",  # the stored button's, not what the client said
        )
        assert body["type"] == "block_actions" and body["user"]["id"] == person.user_id
        assert body["container"] == {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        assert body["message"]["blocks"][1]["block_id"] == "decide"


def test_a_bolt_app_over_http_deletes_its_message_and_requests_are_signed(server, asked):
    bot, person, channel, ts = asked
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    secret = admin.register_interactivity(server.settings, bot.user_id, url)["signing_secret"]
    app = App(
        signing_secret=secret, client=WebClient(token=bot.token, base_url=f"{server.url}/api/")
    )

    @app.action("reject")
    def reject(ack, respond):
        ack()
        respond(delete_original=True)

    web = server.client(person.token)
    with bolt_over_http(app, port):
        pressed = lambda: succeeds(lambda: press(web, channel, ts, "reject"))  # noqa: E731
        wait_for(pressed, 15, "the app listening")
        wait_for(lambda: the_message(web, channel) is None, 10, "the message deleted")

    again = server.client(bot.token).chat_postMessage(channel=channel, text="?", blocks=BLOCKS)
    receiver = HttpReceiver()
    try:
        admin.register_interactivity(server.settings, bot.user_id, receiver.url)
        assert press(web, channel, again["ts"], "approve", block_id="decide")["ok"]
        ((headers, raw),) = receiver.got
        assert SignatureVerifier(secret).is_valid(
            raw, headers["x-slack-request-timestamp"], headers["x-slack-signature"]
        )
        body = json.loads(dict(urllib.parse.parse_qsl(raw.decode()))["payload"])
        assert body["actions"][0]["action_id"] == "approve"
    finally:
        receiver.close()


def test_what_may_not_be_pressed(server, asked):
    bot, person, channel, ts = asked
    web = server.client(person.token)
    assert error_of(lambda: press(web, channel, ts, "approve")) == "dispatch_failed"  # offline
    assert error_of(lambda: press(web, channel, ts, "nosuch")) == "action_not_found"
    assert error_of(lambda: press(web, channel, ts, "approve", block_id="other")) == (
        "action_not_found"
    )
    assert error_of(lambda: press(web, channel, "1.000001", "approve")) == "message_not_found"
    mine = web.chat_postMessage(channel=channel, text="a person's buttons", blocks=BLOCKS)
    assert error_of(lambda: press(web, channel, mine["ts"], "approve")) == "action_not_found"
    bot_web = server.client(bot.token)
    assert error_of(lambda: press(bot_web, channel, ts, "approve")) == "not_allowed_token_type"
    outsider = server.client(server.user(f"{bot.user_id.lower()}-out").token)
    assert error_of(lambda: press(outsider, channel, ts, "approve")) == "not_in_channel"
    receiver = HttpReceiver(status=500)
    try:
        admin.register_interactivity(server.settings, bot.user_id, receiver.url)
        assert error_of(lambda: press(web, channel, ts, "approve")) == "dispatch_failed"
    finally:
        receiver.close()
    bot_web.chat_delete(channel=channel, ts=ts)
    assert error_of(lambda: press(web, channel, ts, "approve")) == "message_not_found"


def test_registering_interactivity(server, asked):
    bot, person, _channel, _ts = asked
    with pytest.raises(admin.AdminError):
        admin.register_interactivity(server.settings, person.user_id, "http://127.0.0.1:9/i")
    with pytest.raises(admin.AdminError):
        admin.register_interactivity(server.settings, bot.user_id, "ftp://x")
    first = admin.register_interactivity(server.settings, bot.user_id, "http://127.0.0.1:9/i")
    command = admin.register_command(server.settings, bot.user_id, f"/{bot.user_id.lower()}")
    assert command["signing_secret"] == first["signing_secret"]  # one secret an app


MENUS = [
    {
        "type": "section",
        "block_id": "who",
        "text": {"type": "mrkdwn", "text": "Who ships it?"},
        "accessory": {
            "type": "static_select",
            "action_id": "shipper",
            "placeholder": {"type": "plain_text", "text": "Pick someone"},
            "options": [
                {"text": {"type": "plain_text", "text": "Ann"}, "value": "ann"},
                {"text": {"type": "plain_text", "text": "Ben"}, "value": "ben"},
            ],
        },
    },
    {
        "type": "actions",
        "block_id": "more",
        "elements": [
            {
                "type": "overflow",
                "action_id": "more_actions",
                "options": [{"text": {"type": "plain_text", "text": "Snooze"}, "value": "snooze"}],
            }
        ],
    },
]


def test_a_menus_option_picked_reaches_the_app_as_the_message_has_it(server, asked):
    """A ``static_select`` and an ``overflow`` of an app's message: the option picked
    reaches ``@app.action`` whole, as the stored message has it; one the menu does not
    have, or none, is refused and the app hears nothing."""
    bot, person, channel, _ts = asked
    ts = server.client(bot.token).chat_postMessage(
        channel=channel, text="Who ships it?", blocks=MENUS
    )["ts"]
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    got: list[dict] = []

    @app.action("shipper")
    def shipper(ack, action):
        ack()
        got.append(action)

    @app.action("more_actions")
    def more(ack, action):
        ack()
        got.append(action)

    web = server.client(person.token)
    with bolt_over_socket_mode(app, bot.app_token):
        for value in ("nobody", None):
            extra = {"value": value} if value else {}
            assert (
                error_of(
                    web.api_call,
                    "chat.action",
                    json={"channel": channel, "ts": ts, "action_id": "shipper", **extra},
                )
                == "invalid_arguments"
            )
        assert press(web, channel, ts, "shipper", value="ben")["ok"]
        assert press(web, channel, ts, "more_actions", value="snooze", block_id="more")["ok"]
        wait_for(lambda: len(got) == 2, 10, "both actions")
    picked, overflow = got
    assert (picked["type"], picked["block_id"]) == ("static_select", "who")
    assert picked["selected_option"] == MENUS[0]["accessory"]["options"][1]
    assert picked["placeholder"]["text"] == "Pick someone"
    assert (overflow["type"], overflow["selected_option"]["value"]) == ("overflow", "snooze")
