"""Slash commands: a person runs one with ``chat.command``; a Bolt app, unmodified, gets
it over Socket Mode or HTTP and answers by its acknowledgement, its HTTP answer or its
``response_url``, ephemerally or in the channel; what may not run or answer is refused
with Slack's errors, and never across the private-channel boundary."""

from __future__ import annotations

import asyncio
import itertools
import urllib.parse

import httpx
import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from parley import admin
from parley.apps.replies import RESPONSE_USES
from parley.server import free_port
from tests.helpers import (
    HttpReceiver,
    WsClient,
    bolt_over_http,
    bolt_over_socket_mode,
    error_of,
    succeeds,
)
from tests.subscriber import wait_for

_n = itertools.count()


@pytest.fixture()
def room(server):
    """A bot with an app-level token (not in the channel), and a person's channel."""
    tag = next(_n)
    bot = server.user(f"cmd{tag}", bot=True, app_token=True)
    person = server.user(f"cmd{tag}-person")
    channel = server.client(person.token).conversations_create(name=f"cmd{tag}")["channel"]
    return bot, person, channel["id"], f"/cmd{tag}"


def run(web: WebClient, channel: str, command: str, text: str = "") -> dict:
    return web.api_call("chat.command", json={"channel": channel, "command": command, "text": text})


def history(web: WebClient, channel: str) -> list[tuple[str, str]]:
    messages = web.conversations_history(channel=channel)["messages"]
    return [(m.get("user", ""), m["text"]) for m in messages]


def test_a_bolt_app_over_socket_mode_answers_to_the_person_and_to_the_channel(server, room):
    bot, person, channel, name = room
    admin.register_command(server.settings, bot.user_id, name, description="echo")
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    got: list[dict] = []

    @app.command(name)
    def echo(ack, respond, command):
        got.append(command)
        ack(f"only you: {command['text']}")
        respond(response_type="in_channel", text=f"everyone: {command['text']}")

    web = server.client(person.token)
    with bolt_over_socket_mode(app, bot.app_token):
        # nobody follows the channel on a connection: the command reaches the app anyway
        assert run(web, channel, name, "first")["ok"]
        wait_for(lambda: history(web, channel), 10, "the first in-channel answer")

        async def scenario() -> dict:
            rtm = await WsClient.open(web.rtm_connect()["url"])
            await rtm.next(type="hello")
            assert run(web, channel, name, "hello there")["ok"]
            ephemeral = await rtm.next(type="message", text="only you: hello there")
            rtm.close()
            return ephemeral

        ephemeral = asyncio.run(scenario())
        assert ephemeral["is_ephemeral"] is True and ephemeral["user"] == bot.user_id
        wait_for(lambda: len(history(web, channel)) == 2, 10, "the second in-channel answer")
        assert history(web, channel) == [
            (bot.user_id, "everyone: hello there"),
            (bot.user_id, "everyone: first"),
        ]
        command = got[-1]
        assert (command["command"], command["text"], command["channel_id"]) == (
            name,
            "hello there",
            channel,
        )
        assert command["user_id"] == person.user_id and command["team_id"]
        assert command["response_url"].startswith(f"{server.url}/commands/")


def test_a_bolt_app_over_http_answers_and_its_requests_are_signed(server, room):
    bot, person, channel, name = room
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    secret = admin.register_command(server.settings, bot.user_id, name, url)["signing_secret"]
    app = App(
        signing_secret=secret, client=WebClient(token=bot.token, base_url=f"{server.url}/api/")
    )

    @app.command(name)
    def echo(ack, respond, command):
        ack()
        respond(response_type="in_channel", text=f"over http: {command['text']}")

    web = server.client(person.token)
    with bolt_over_http(app, port):
        wait_for(lambda: succeeds(lambda: run(web, channel, name, "ping")), 15, "the app listening")
        wait_for(lambda: history(web, channel), 10, "the answer")
        assert history(web, channel) == [(bot.user_id, "over http: ping")]

    receiver = HttpReceiver(body=b'{"text": "taken", "response_type": "ephemeral"}')
    try:
        admin.register_command(server.settings, bot.user_id, name, receiver.url)
        assert run(web, channel, name, "a b&c")["ok"]
        ((headers, raw),) = receiver.got
        assert SignatureVerifier(secret).is_valid(
            raw, headers["x-slack-request-timestamp"], headers["x-slack-signature"]
        )
        fields = dict(urllib.parse.parse_qsl(raw.decode()))
        assert (fields["command"], fields["text"], fields["user_id"]) == (
            name,
            "a b&c",
            person.user_id,
        )
        assert fields["user_name"] == f"{name[1:]}-person"
        assert history(web, channel) == [(bot.user_id, "over http: ping")]  # ephemeral
    finally:
        receiver.close()


def test_what_may_not_run_a_command(server, room):
    bot, person, channel, name = room
    web = server.client(person.token)
    assert error_of(lambda: run(web, channel, "/nosuch")) == "invalid_command"
    admin.register_command(server.settings, bot.user_id, name)  # over Socket Mode
    assert error_of(lambda: run(web, channel, name)) == "dispatch_failed"  # not connected
    assert error_of(lambda: run(server.client(bot.token), channel, name)) == (
        "not_allowed_token_type"
    )
    outsider = server.user(f"{name[1:]}-outsider")
    out = server.client(outsider.token)
    assert error_of(lambda: run(out, channel, name)) == "not_in_channel"
    secret = web.conversations_create(name=f"{name[1:]}-secret", is_private=True)["channel"]
    assert error_of(lambda: run(out, secret["id"], name)) == "channel_not_found"
    for status, code in ((500, "dispatch_failed"), (404, "dispatch_failed")):
        receiver = HttpReceiver(status=status)
        try:
            admin.register_command(server.settings, bot.user_id, name, receiver.url)
            assert error_of(lambda: run(web, channel, name)) == code
        finally:
            receiver.close()
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}/gone"
    admin.register_command(server.settings, bot.user_id, name, closed)
    assert error_of(lambda: run(web, channel, name)) == "dispatch_failed"


def response_url_of(server, bot, web, channel: str, name: str) -> str:
    """Runs ``name`` for an app that answers nothing; the command's ``response_url``."""
    receiver = HttpReceiver()
    try:
        admin.register_command(server.settings, bot.user_id, name, receiver.url)
        run(web, channel, name, "go")
        ((_headers, raw),) = receiver.got
    finally:
        receiver.close()
    return dict(urllib.parse.parse_qsl(raw.decode()))["response_url"]


def test_a_response_url_answers_a_few_times_and_never_past_the_channel(server, room):
    bot, person, channel, name = room
    web = server.client(person.token)
    response_url = response_url_of(server, bot, web, channel, name)
    assert httpx.get(response_url).status_code == 405
    answers = [
        httpx.post(response_url, json={"text": f"n{i}", "response_type": "in_channel"})
        for i in range(RESPONSE_USES + 1)
    ]
    assert [a.status_code for a in answers] == [200] * RESPONSE_USES + [404]
    assert answers[-1].json() == {"ok": False, "error": "expired_url"}
    expected = [(bot.user_id, f"n{i}") for i in reversed(range(RESPONSE_USES))]
    assert history(web, channel) == expected
    assert httpx.post(f"{server.url}/commands/nothing", json={"text": "x"}).status_code == 404

    response_url = response_url_of(server, bot, web, channel, name)
    assert httpx.post(response_url, json={}).json()["error"] == "no_text"
    assert httpx.post(response_url, content=b"{not json").json()["error"] == "invalid_json"
    web.conversations_leave(channel=channel)  # the person left: no answer goes there now
    late = httpx.post(response_url, json={"text": "late", "response_type": "in_channel"})
    assert late.json() == {"ok": False, "error": "not_in_channel"}
    web.conversations_join(channel=channel)
    assert (bot.user_id, "late") not in history(web, channel)


def test_registering_a_command(server, room):
    bot, person, _channel, name = room
    with pytest.raises(admin.AdminError):
        admin.register_command(server.settings, person.user_id, name)  # not a bot
    for bad in ("deploy", "/", "/has space", "/" + "x" * 40):
        with pytest.raises(admin.AdminError):
            admin.register_command(server.settings, bot.user_id, bad)
    with pytest.raises(admin.AdminError):
        admin.register_command(server.settings, bot.user_id, name, "ftp://x")
    first = admin.register_command(server.settings, bot.user_id, name.upper())
    assert (first["command"], first["socket_mode"]) == (name, True)
    events = admin.register_event_app(
        server.settings, bot.user_id, "http://127.0.0.1:9/e", verify=False
    )
    assert events["signing_secret"] == first["signing_secret"]  # one secret an app
