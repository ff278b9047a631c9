"""Socket Mode: a Bolt app and slack_sdk's SocketModeClient, unmodified, over an app-level
token (``apps.connections.open``); envelopes acknowledged or sent again; the ticket's
kind cannot be swapped; an app hears only the channels its bot is in."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from picows import WSListener, WSMsgType, ws_connect
from slack_bolt import App
from slack_sdk import WebClient

from parley import admin
from tests.helpers import WsClient, bolt_over_socket_mode, error_of, fetch
from tests.subscriber import wait_for

_n = itertools.count()


@pytest.fixture()
def app_and_room(server):
    """A bot with an app-level token, and a person's channel it was invited to."""
    tag = next(_n)
    bot = server.user(f"app-{tag}", bot=True, app_token=True)
    person = server.user(f"app-{tag}-person")
    web = server.client(person.token)
    channel = web.conversations_create(name=f"app-{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=bot.user_id)
    return bot, person, channel


def test_a_bolt_app_answers_messages_and_reactions(server, app_and_room):
    bot, person, channel = app_and_room
    web = server.client(person.token)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))

    @app.message("hello")
    def hello(message, say):
        say(f"hi <@{message['user']}>")

    @app.event("reaction_added")
    def reacted(event, client):
        client.chat_postMessage(channel=event["item"]["channel"], text=f"saw :{event['reaction']}:")

    with bolt_over_socket_mode(app, bot.app_token):
        ts = web.chat_postMessage(channel=channel, text="hello bolt")["ts"]

        def texts():
            return [m["text"] for m in web.conversations_history(channel=channel)["messages"]]

        wait_for(lambda: f"hi <@{person.user_id}>" in texts(), 10, "Bolt's answer")
        web.reactions_add(channel=channel, timestamp=ts, name="tada")
        wait_for(lambda: "saw :tada:" in texts(), 10, "Bolt's reaction answer")
        time.sleep(0.5)  # its own messages are not answered: no loop
        assert texts() == ["saw :tada:", f"hi <@{person.user_id}>", "hello bolt"]


def test_envelopes_are_sent_again_until_acknowledged(server, app_and_room):
    bot, person, channel = app_and_room
    web = server.client(person.token)
    url = server.client(bot.app_token).apps_connections_open(app_token=bot.app_token)["url"]

    async def scenario() -> tuple[dict, dict, dict, list[dict]]:
        sock = await WsClient.open(url)
        hello = await sock.next(type="hello")
        web.chat_postMessage(channel=channel, text="for the app")
        first = await sock.next(type="events_api")
        again = await sock.next(type="events_api", timeout=10)  # not acknowledged
        sock.send({"envelope_id": again["envelope_id"]})
        web.chat_postMessage(channel=channel, text="the next one")
        later = await sock.until(type="events_api", timeout=10)
        sock.send({"envelope_id": later[-1]["envelope_id"]})
        await asyncio.sleep(4)  # past the wait: acknowledged, it is not sent again
        rest = []
        while not sock.frames.empty():
            rest.append(sock.frames.get_nowait())
        sock.close()
        return hello, first, again, later + rest

    hello, first, again, after = asyncio.run(scenario())
    assert hello["connection_info"]["app_id"] == "A" + bot.bot_id[1:]
    event = first["payload"]["event"]
    assert (event["type"], event["text"], event["channel"]) == ("message", "for the app", channel)
    assert first["retry_attempt"] == 0 and first["payload"]["type"] == "event_callback"
    assert first["payload"]["authorizations"][0]["user_id"] == bot.user_id
    assert again["retry_attempt"] == 1 and again["retry_reason"] == "timeout"
    assert again["payload"]["event_id"] == first["payload"]["event_id"]
    assert again["envelope_id"] != first["envelope_id"]
    texts = [f["payload"]["event"].get("text") for f in after if f.get("type") == "events_api"]
    assert texts == ["the next one"]  # once: acknowledged in time, and nothing else


def test_an_app_hears_only_its_bots_channels(server, app_and_room):
    bot, person, channel = app_and_room
    web = server.client(person.token)
    private = web.conversations_create(name=f"app-hidden-{next(_n)}", is_private=True)
    url = server.client(bot.app_token).apps_connections_open(app_token=bot.app_token)["url"]

    async def scenario() -> list[dict]:
        sock = await WsClient.open(url)
        await sock.next(type="hello")
        web.chat_postMessage(channel=private["channel"]["id"], text="not for apps qzapp")
        web.chat_postMessage(channel=channel, text="last")
        seen = await sock.until(type="events_api", timeout=10)
        sock.close()
        return seen

    seen = asyncio.run(scenario())
    assert "qzapp" not in json.dumps(seen)
    assert seen[-1]["payload"]["event"]["text"] == "last"


class _Closed(WSListener):
    def __init__(self) -> None:
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type == WSMsgType.CLOSE and not self.closed.done():
            self.closed.set_result(frame.get_close_code())

    def on_ws_disconnected(self, transport) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def test_tokens_and_tickets_keep_to_their_kind(server, app_and_room, tmp_path):
    bot, _person, channel = app_and_room
    as_app, as_bot = server.client(bot.app_token), server.client(bot.token)
    assert error_of(as_app.chat_postMessage, channel=channel, text="hi") == "missing_scope"
    assert error_of(as_bot.apps_connections_open, app_token=bot.token) == "missing_scope"
    rtm_url = as_bot.rtm_connect()["url"]
    socket_url = as_app.apps_connections_open(app_token=bot.app_token)["url"]

    async def close_code(url: str) -> int | None:
        _, listener = await ws_connect(_Closed, url)
        return await asyncio.wait_for(listener.closed, 10)

    # a ticket opens only the kind of connection it was issued for: 1008 otherwise
    assert asyncio.run(close_code(rtm_url + "&socket=1")) == 1008
    assert asyncio.run(close_code(socket_url.replace("&socket=1", ""))) == 1008
    with pytest.raises(admin.AdminError):
        admin.create_user(server.settings, f"person-{next(_n)}", app_token=True)


def test_a_bolt_app_hears_its_bot_mentioned(server, app_and_room):
    """``app_mention`` for a new message that mentions the bot, beside the ``message``;
    none for an edit, a message that does not mention it, or the bot's own."""
    bot, person, channel = app_and_room
    web = server.client(person.token)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    heard: list[dict] = []

    @app.event("app_mention")
    def mentioned(event, say):
        heard.append(event)
        say(f"at your service <@{event['user']}>, and mine: <@{bot.user_id}>")

    @app.event("message")
    def any_message():
        pass

    with bolt_over_socket_mode(app, bot.app_token):
        web.chat_postMessage(channel=channel, text="no mention here")
        ts = web.chat_postMessage(channel=channel, text=f"hey <@{bot.user_id}> ping")["ts"]
        web.chat_update(channel=channel, ts=ts, text=f"hey <@{bot.user_id}> ping again")

        def texts():
            return [m["text"] for m in web.conversations_history(channel=channel)["messages"]]

        wait_for(lambda: any(t.startswith("at your service") for t in texts()), 10, "the answer")
        time.sleep(1)  # an edit, or the bot's own mention of itself, would come by now
        (event,) = heard
        assert (event["type"], event["user"], event["channel"], event["ts"]) == (
            "app_mention",
            person.user_id,
            channel,
            ts,
        )
        assert event["text"] == f"hey <@{bot.user_id}> ping"


def test_message_events_say_what_kind_of_channel_they_come_from(server, app_and_room):
    """``channel_type`` on every message event: ``channel``, ``group`` (private, the bot
    invited after it connected), ``im`` and ``mpim``; a Bolt DM bot answers by it. The
    direct and group messages are opened and written to at once, before the bot's
    gateway reads their channels: the bot still gets what was written after its join."""
    bot, person, channel = app_and_room
    web = server.client(person.token)
    other = server.user(f"app-kinds-{next(_n)}")
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    heard: list[dict] = []

    @app.event("message")
    def any_message(event, say):
        heard.append(event)
        if event.get("channel_type") == "im" and event.get("user") != bot.user_id:
            say("only in private")

    with bolt_over_socket_mode(app, bot.app_token):
        private = web.conversations_create(name=f"kinds-{next(_n)}", is_private=True)
        private = private["channel"]["id"]
        web.conversations_invite(channel=private, users=bot.user_id)
        dm = web.conversations_open(users=bot.user_id)["channel"]["id"]
        group = web.conversations_open(users=[bot.user_id, other.user_id])["channel"]["id"]
        for where in (channel, private, dm, group):
            web.chat_postMessage(channel=where, text="which kind?")
        wait_for(lambda: len({e["channel"] for e in heard}) >= 4, 10, "four messages")
        kinds = {e["channel"]: e["channel_type"] for e in heard if e["text"] == "which kind?"}
        assert kinds == {channel: "channel", private: "group", dm: "im", group: "mpim"}

        def dm_texts():
            return [m["text"] for m in web.conversations_history(channel=dm)["messages"]]

        wait_for(lambda: "only in private" in dm_texts(), 10, "the DM bot's answer")
        assert "only in private" not in str(web.conversations_history(channel=channel))


def test_a_bolt_app_hears_a_file_shared_and_downloads_it(server, app_and_room):
    """A file shared with a comment reaches Bolt's ``app.message`` (subtype
    ``file_share``); the bot reads it at ``url_private`` with its own token."""
    bot, person, channel = app_and_room
    web = server.client(person.token)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))

    @app.message("have a look")
    def seen(message, say):
        [shared] = message["files"]
        status, _headers, body = fetch(shared["url_private"], bot.token)
        say(f"read {shared['name']}: {status}, {body.decode()}")

    with bolt_over_socket_mode(app, bot.app_token):
        web.files_upload_v2(
            channel=channel, content=b"hello file", filename="hi.txt", initial_comment="have a look"
        )

        def texts():
            return [m["text"] for m in web.conversations_history(channel=channel)["messages"]]

        wait_for(lambda: "read hi.txt: 200, hello file" in texts(), 10, "the bot's answer")
