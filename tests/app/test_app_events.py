"""The Events API over HTTP: a Bolt app in HTTP mode, unmodified, answers through Parley;
deliveries are signed as Slack signs them, retried with Slack's headers until the app
takes them, and given up as dead letters."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from parley import admin
from parley.server import free_port
from tests.helpers import bolt_over_http, server_in_thread
from tests.subscriber import wait_for

_n = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with server_in_thread(tmp_path_factory.mktemp("data")) as srv:
        yield srv


class Receiver:
    """An app's request URL: answers each event with the next status of ``statuses``
    (then 200), keeps what came, and answers url_verification's challenge (with the
    first status, when ``refuse_challenge``)."""

    def __init__(self, statuses: list[int] | None = None, refuse_challenge: bool = False):
        self.statuses = list(statuses or [])
        self.refuse_challenge = refuse_challenge
        self.got: list[tuple[dict, dict]] = []  # (headers, body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                body = json.loads(raw)
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["raw"] = raw.decode()
                receiver.got.append((headers, body))
                status = 200
                challenge = body.get("type") == "url_verification"
                if receiver.statuses and (not challenge or receiver.refuse_challenge):
                    status = receiver.statuses.pop(0)
                answer = json.dumps({"challenge": body.get("challenge", "")}).encode()
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/slack/events"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def events(self, bot: str) -> list[tuple[dict, dict]]:
        """The events that came for ``bot``'s app (a port a closed app had may be this
        one's now: its retries may come here too)."""
        return [
            (h, b)
            for h, b in self.got
            if b.get("type") == "event_callback" and b["authorizations"][0]["user_id"] == bot
        ]

    def close(self) -> None:
        """Stops answering and listening: a closed app's retries are refused at once,
        not left to time out in a backlog no one reads."""
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture()
def bot_in_room(server):
    tag = next(_n)
    bot = server.user(f"evapp-{tag}", bot=True)
    person = server.user(f"evapp-{tag}-person")
    web = server.client(person.token)
    channel = web.conversations_create(name=f"evapp-{tag}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=bot.user_id)
    return bot, person, channel


def test_a_bolt_app_in_http_mode_answers_through_parley(server, bot_in_room):
    bot, person, channel = bot_in_room
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    # the app is made first (its secret), then its URL verified, as with Slack
    secret = admin.register_event_app(server.settings, bot.user_id, url, verify=False)[
        "signing_secret"
    ]
    app = App(
        signing_secret=secret, client=WebClient(token=bot.token, base_url=f"{server.url}/api/")
    )

    @app.message("hello")
    def hello(message, say):
        say(f"hi <@{message['user']}> over HTTP")

    with bolt_over_http(app, port):

        def verify() -> dict | None:  # the app's server may need a moment to listen
            return _try(lambda: admin.register_event_app(server.settings, bot.user_id, url))

        wait_for(lambda: verify() is not None, 15, "the URL verified")
        registered = verify()  # again: a registration keeps the app's secret
        assert registered["signing_secret"] == secret  # kept: the running app still checks
        web = server.client(person.token)

        def texts():
            return [m["text"] for m in web.conversations_history(channel=channel)["messages"]]

        server.reload_apps()
        web.chat_postMessage(channel=channel, text="hello app")
        wait_for(lambda: f"hi <@{person.user_id}> over HTTP" in texts(), 15, "Bolt's answer")


def _event_of(letter: dict) -> dict:
    """The event a dead letter of the Events API would have delivered."""
    delivery = json.loads(letter["payload"])  # its body is bytes: base64 in JSON
    return json.loads(base64.b64decode(delivery["body"]))["event"]


def _try(call):
    try:
        return call()
    except admin.AdminError:
        return None


def test_deliveries_are_signed_and_retried_until_taken(server, bot_in_room):
    bot, person, channel = bot_in_room
    receiver = Receiver(statuses=[500, 503])
    try:
        secret = admin.register_event_app(server.settings, bot.user_id, receiver.url)[
            "signing_secret"
        ]
        server.reload_apps()
        server.client(person.token).chat_postMessage(channel=channel, text="to the app")
        wait_for(lambda: len(receiver.events(bot.user_id)) >= 3, 15, "three tries")
        time.sleep(1)
        got = receiver.events(bot.user_id)
        assert len(got) == 3  # refused twice, then taken: no more
        verifier = SignatureVerifier(secret)
        for headers, _body in got:
            assert verifier.is_valid(
                headers["raw"], headers["x-slack-request-timestamp"], headers["x-slack-signature"]
            )
        first, second, third = got
        assert "x-slack-retry-num" not in first[0]
        assert (second[0]["x-slack-retry-num"], second[0]["x-slack-retry-reason"]) == (
            "1",
            "http_error",
        )
        assert third[0]["x-slack-retry-num"] == "2"
        ids = {b["event_id"] for _h, b in got}
        assert len(ids) == 1  # the same event each time
        event = first[1]["event"]
        assert (event["type"], event["text"], event["channel"]) == (
            "message",
            "to the app",
            channel,
        )
        assert first[1]["authorizations"][0]["user_id"] == bot.user_id
    finally:
        receiver.close()


def test_an_app_over_http_hears_its_bot_mentioned(server, bot_in_room):
    bot, person, channel = bot_in_room
    receiver = Receiver()
    try:
        admin.register_event_app(server.settings, bot.user_id, receiver.url, verify=False)
        server.reload_apps()
        web = server.client(person.token)
        web.chat_postMessage(channel=channel, text="nothing for the bot")
        ts = web.chat_postMessage(channel=channel, text=f"<@{bot.user_id}> status?")["ts"]

        def mentions() -> list[dict]:
            got = [b["event"] for _h, b in receiver.events(bot.user_id)]
            return [e for e in got if e["type"] == "app_mention"]

        wait_for(lambda: bool(mentions()), 15, "the app_mention")
        time.sleep(0.5)
        (event,) = mentions()
        assert (event["ts"], event["user"], event["channel"]) == (ts, person.user_id, channel)
    finally:
        receiver.close()


def test_message_events_over_http_say_what_kind_of_channel_they_come_from(server, bot_in_room):
    bot, person, channel = bot_in_room
    receiver = Receiver()
    try:
        admin.register_event_app(server.settings, bot.user_id, receiver.url, verify=False)
        server.reload_apps()
        web = server.client(person.token)
        private = web.conversations_create(name=f"evkinds-{next(_n)}", is_private=True)
        private = private["channel"]["id"]
        web.conversations_invite(channel=private, users=bot.user_id)
        dm = web.conversations_open(users=bot.user_id)["channel"]["id"]
        for where in (channel, private, dm):
            ts = web.chat_postMessage(channel=where, text="which kind?")["ts"]
        web.chat_update(channel=dm, ts=ts, text="which kind, again?")

        def kinds() -> list[tuple[str, str, str]]:
            got = [b["event"] for _h, b in receiver.events(bot.user_id)]
            return [
                (e["channel"], e.get("subtype", ""), e["channel_type"])
                for e in got
                if e["type"] == "message"
            ]

        wait_for(lambda: len(kinds()) >= 4, 15, "the messages")
        assert sorted(kinds()) == sorted(
            [
                (channel, "", "channel"),
                (private, "", "group"),
                (dm, "", "im"),
                (dm, "message_changed", "im"),
            ]
        )
    finally:
        receiver.close()


def test_an_app_that_never_takes_an_event_gets_it_as_a_dead_letter(server, bot_in_room):
    bot, person, channel = bot_in_room
    receiver = Receiver(statuses=[500] * 20)
    try:
        admin.register_event_app(server.settings, bot.user_id, receiver.url, verify=False)
        server.reload_apps()
        server.client(person.token).chat_postMessage(channel=channel, text="never taken")

        def letters() -> list[dict]:
            """The message's dead letters (an earlier event, such as the bot's join, may
            reach the app too when the worker read it after the app was registered)."""
            dead = admin.dead_letters(server.settings, "events")
            mine = [d for d in dead if d["item"].startswith(bot.user_id)]
            full = [admin.dead_letter(server.settings, "events", d["item"]) for d in mine]
            return [d for d in full if _event_of(d).get("text") == "never taken"]

        wait_for(lambda: bool(letters()), 30, "a dead letter")
        letters = letters()
        assert len(letters) == 1 and "http_error" in letters[0]["errors"][-1]
        tries = [
            b for _h, b in receiver.events(bot.user_id) if b["event"].get("text") == "never taken"
        ]
        assert len(tries) == 4  # the first and Slack's three retries
    finally:
        receiver.close()


def test_registration_checks_the_bot_and_the_challenge(server, bot_in_room):
    bot, person, _channel = bot_in_room
    receiver = Receiver(statuses=[403], refuse_challenge=True)
    try:
        with pytest.raises(admin.AdminError, match="challenge"):
            admin.register_event_app(server.settings, bot.user_id, receiver.url)
        with pytest.raises(admin.AdminError, match="not a bot"):
            admin.register_event_app(server.settings, person.user_id, receiver.url)
        with pytest.raises(admin.AdminError, match="http"):
            admin.register_event_app(server.settings, bot.user_id, "ftp://example", verify=False)
    finally:
        receiver.close()
