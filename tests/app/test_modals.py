"""Modals: a Bolt app, unmodified, opens one with a slash command's ``trigger_id``
(``views.open``); the person's connection gets it (``view_opened``, without the app's
``private_metadata``), submits it (Parley's ``views.submit``) and the app's
``@app.view`` hears ``view_submission``: its errors come back to the person, its update
replaces the view, its plain acknowledgement closes it. Over Socket Mode and HTTP."""

from __future__ import annotations

import itertools
import time

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.sync.client import connect

from parley import admin
from parley.server import free_port
from tests.helpers import bolt_over_http, bolt_over_socket_mode, error_of, frame_of
from tests.subscriber import wait_for

_n = itertools.count()

TICKET_VIEW = {
    "type": "modal",
    "callback_id": "ticket",
    "private_metadata": "app's own",
    "title": {"type": "plain_text", "text": "New ticket"},
    "submit": {"type": "plain_text", "text": "File it"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "t"},
        },
        {
            "type": "input",
            "block_id": "urgency",
            "label": {"type": "plain_text", "text": "Urgency"},
            "element": {
                "type": "static_select",
                "action_id": "u",
                "options": [
                    {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                    {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
                ],
            },
        },
    ],
}


@pytest.fixture()
def room(server):
    tag = next(_n)
    bot = server.user(f"modal{tag}", bot=True, app_token=True)
    person = server.user(f"modal{tag}-person")
    channel = server.client(person.token).conversations_create(name=f"modal{tag}")["channel"]
    return bot, person, channel["id"], f"/ticket{tag}"


def ticket_app(bot, server, name: str, **app_args) -> tuple[App, list[dict]]:
    """The app: ``name`` opens the ticket modal; a submission titled ``bad`` gets an
    error, ``more`` an updated view, anything else is filed in the channel."""
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"), **app_args)
    heard: list[dict] = []

    @app.command(name)
    def open_ticket(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=TICKET_VIEW)

    @app.view("ticket")
    def filed(ack, body, view, client):
        heard.append(view)
        values = view["state"]["values"]
        title = values["title"]["t"]["value"]
        if title == "bad":
            ack(response_action="errors", errors={"title": "not that title"})
            return
        if title == "more":
            more = {**TICKET_VIEW, "title": {"type": "plain_text", "text": "Tell me more"}}
            ack(response_action="update", view=more)
            return
        ack()
        urgency = values["urgency"]["u"]["selected_option"]["value"]
        client.chat_postMessage(channel=body["user"]["id"], text=f"filed {title} ({urgency})")

    return app, heard


def run(web: WebClient, channel: str, command: str) -> None:
    web.api_call("chat.command", json={"channel": channel, "command": command, "text": ""})


def submit(web: WebClient, view_id: str, title: str, urgency: str = "low") -> dict:
    values = {"title": {"t": title}, "urgency": {"u": urgency}}
    return web.api_call("views.submit", json={"view_id": view_id, "values": values}).data


def check_a_modal(server, bot, person, channel, name) -> None:
    """The person's side of the ticket app's modal."""
    web = server.client(person.token)
    with connect(web.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        run(web, channel, name)
        opened = frame_of(ws, "view_opened")["view"]
        assert opened["title"]["text"] == "New ticket" and opened["id"].startswith("V")
        assert "private_metadata" not in opened  # the app's, not the person's
        view_id = opened["id"]
        # checked here, before the app hears of it
        out = submit(web, view_id, "", "nonsense")
        assert out["errors"] == {"title": "required", "urgency": "not one of the options"}
        # the app's errors come back to the person, the view stays open
        assert submit(web, view_id, "bad") == {"ok": True}
        assert frame_of(ws, "view_errors")["errors"] == {"title": "not that title"}
        # the app's update replaces it
        submit(web, view_id, "more")
        assert frame_of(ws, "view_updated")["view"]["title"]["text"] == "Tell me more"
        # a plain acknowledgement closes it; a closed view takes nothing more
        submit(web, view_id, "printer on fire", "high")
        assert frame_of(ws, "view_closed")["view_id"] == view_id
        again = {"view_id": view_id, "values": {}}
        assert error_of(web.api_call, "views.submit", json=again) == "view_not_found"
    dm = web.conversations_open(users=bot.user_id)["channel"]["id"]
    wait_for(
        lambda: any(
            m["text"] == "filed printer on fire (high)"
            for m in web.conversations_history(channel=dm)["messages"]
        ),
        10,
        "the app's message",
    )


def test_a_bolt_app_opens_a_modal_and_hears_it_submitted_over_socket_mode(server, room):
    bot, person, channel, name = room
    admin.register_command(server.settings, bot.user_id, name)
    app, heard = ticket_app(bot, server, name)
    with bolt_over_socket_mode(app, bot.app_token):
        check_a_modal(server, bot, person, channel, name)
    assert [v["private_metadata"] for v in heard] == ["app's own"] * 3  # kept for the app
    assert heard[0]["state"]["values"]["urgency"]["u"]["selected_option"]["value"] == "low"


def test_a_bolt_app_over_http_opens_a_modal_and_hears_it_submitted(server, room):
    bot, person, channel, name = room
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    admin.register_command(server.settings, bot.user_id, name, url)
    secret = admin.register_interactivity(server.settings, bot.user_id, url)["signing_secret"]
    app, heard = ticket_app(bot, server, name, signing_secret=secret)
    with bolt_over_http(app, port):
        check_a_modal(server, bot, person, channel, name)
    assert len(heard) == 3


def test_triggers_and_views_are_checked(server, room):
    bot, person, _channel, _name = room
    app_web = server.client(bot.token)
    web = server.client(person.token)
    assert error_of(app_web.views_open, trigger_id="1.2.3", view=TICKET_VIEW) == (
        "invalid_trigger_id"
    )
    other = server.user(f"modal-other-{next(_n)}", bot=True)
    forged = f"{int(time.time() * 1000) + 9000}.{person.user_id}.C1.{bot.user_id}..00"
    assert error_of(app_web.views_open, trigger_id=forged, view=TICKET_VIEW) == (
        "invalid_trigger_id"
    )
    assert error_of(server.client(other.token).views_open, trigger_id="x", view={}) == (
        "invalid_trigger_id"
    )
    assert error_of(web.views_open, trigger_id="x", view=TICKET_VIEW) == "not_allowed_token_type"
    assert error_of(web.api_call, "views.submit", json={"view_id": "VNOTHING"}) == (
        "view_not_found"
    )
    assert error_of(app_web.views_update, view_id="VNOTHING", view=TICKET_VIEW) == "not_found"
    assert error_of(app_web.views_push, trigger_id="x", view=TICKET_VIEW) == "invalid_trigger_id"


def test_an_app_that_asked_hears_its_modal_closed(server, room):
    """``notify_on_close``: the person's ``views.close`` reaches Bolt's
    ``@app.view_closed``; a view that did not ask tells the app nothing."""
    bot, person, channel, name = room
    admin.register_command(server.settings, bot.user_id, name)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    closed: list[dict] = []

    @app.command(name)
    def open_it(ack, body, client):
        ack()
        asked = body["text"] == "tell me"
        view = {**TICKET_VIEW, "notify_on_close": asked, "callback_id": "ticket"}
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view_closed("ticket")
    def on_close(ack, view):
        ack()
        closed.append(view)

    web = server.client(person.token)
    with bolt_over_socket_mode(app, bot.app_token):
        with connect(web.rtm_connect()["url"]) as ws:
            assert '"hello"' in ws.recv(timeout=10)
            for text in ("", "tell me"):
                args = {"channel": channel, "command": name, "text": text}
                web.api_call("chat.command", json=args)
                view_id = frame_of(ws, "view_opened")["view"]["id"]
                web.api_call("views.close", json={"view_id": view_id})
        wait_for(lambda: bool(closed), 10, "view_closed")
        time.sleep(0.5)  # the first, which did not ask, would have come by now
        assert [(v["id"], v["private_metadata"]) for v in closed] == [(view_id, "app's own")]


def test_a_button_in_a_modal_reaches_the_app_which_updates_the_view(server, room):
    """A modal's button: the app's ``@app.action`` gets ``block_actions`` with the view
    and the inputs so far, and answers with ``views.update``; a forged button is
    refused."""
    bot, person, channel, name = room
    admin.register_command(server.settings, bot.user_id, name)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    pressed: list[dict] = []
    with_button = {
        **TICKET_VIEW,
        "blocks": [
            *TICKET_VIEW["blocks"],
            {
                "type": "actions",
                "block_id": "more",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "add",
                        "value": "details",
                        "text": {"type": "plain_text", "text": "Add details"},
                    }
                ],
            },
        ],
    }

    @app.command(name)
    def open_it(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=with_button)

    @app.action("add")
    def add(ack, body, client):
        ack()
        pressed.append(body)
        title = body["view"]["state"]["values"]["title"]["t"]["value"]
        details = {
            "type": "input",
            "block_id": "details",
            "label": {"type": "plain_text", "text": f"Details of {title}"},
            "element": {"type": "plain_text_input", "action_id": "d", "multiline": True},
        }
        view = {**TICKET_VIEW, "blocks": [*TICKET_VIEW["blocks"], details]}
        client.views_update(view_id=body["view"]["id"], hash=body["view"]["hash"], view=view)

    web = server.client(person.token)
    with bolt_over_socket_mode(app, bot.app_token):
        with connect(web.rtm_connect()["url"]) as ws:
            assert '"hello"' in ws.recv(timeout=10)
            run(web, channel, name)
            view_id = frame_of(ws, "view_opened")["view"]["id"]
            forged = {"view_id": view_id, "action_id": "delete_everything"}
            assert error_of(web.api_call, "views.action", json=forged) == "action_not_found"
            values = {"title": {"t": "printer"}}
            press = {"view_id": view_id, "action_id": "add", "values": values}
            web.api_call("views.action", json=press)
            updated = frame_of(ws, "view_updated")["view"]
        labels = [b["label"]["text"] for b in updated["blocks"] if b["type"] == "input"]
        assert labels == ["Title", "Urgency", "Details of printer"]
        [body] = pressed
        assert body["container"] == {"type": "view", "view_id": view_id}
        assert body["actions"][0]["value"] == "details"  # the stored view's, not the client's


def test_a_bolt_app_pushes_modals_onto_a_stack_and_each_closes_back_to_the_one_under_it(
    server, room
):
    """A button in a modal gives a trigger for ``views.push``: the pushed modal names the
    one under it; its plain acknowledgement closes it alone, ``push`` puts another on
    top, at most three deep, and ``clear`` closes the whole stack, the first first. A
    command's trigger pushes nothing."""
    bot, person, channel, name = room
    admin.register_command(server.settings, bot.user_id, name)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    refused: list[str] = []
    button = {
        "type": "actions",
        "block_id": "more",
        "elements": [
            {"type": "button", "action_id": "deeper", "text": {"type": "plain_text", "text": "+"}}
        ],
    }
    step = {
        "type": "modal",
        "callback_id": "step",
        "title": {"type": "plain_text", "text": "Step"},
        "submit": {"type": "plain_text", "text": "Next"},
        "blocks": [
            {
                "type": "input",
                "block_id": "say",
                "label": {"type": "plain_text", "text": "Say"},
                "element": {"type": "plain_text_input", "action_id": "s"},
            },
            button,
        ],
    }

    @app.command(name)
    def open_it(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=step)
        for again in (client.views_open, client.views_push):
            try:  # a trigger opens one modal; a command's is from no modal to push onto
                again(trigger_id=body["trigger_id"], view=step)
            except SlackApiError as exc:
                refused.append(exc.response["error"])

    @app.action("deeper")
    def deeper(ack, body, client):
        ack()
        try:
            client.views_push(trigger_id=body["trigger_id"], view=step)
        except SlackApiError as exc:
            refused.append(exc.response["error"])

    @app.view("step")
    def next_step(ack, view):
        said = view["state"]["values"]["say"]["s"]["value"]
        if said == "push":
            ack(response_action="push", view=step)
        elif said == "clear":
            ack(response_action="clear")
        else:
            ack()

    web = server.client(person.token)

    def say(view_id: str, text: str) -> None:
        values = {"say": {"s": text}}
        assert web.api_call("views.submit", json={"view_id": view_id, "values": values})["ok"]

    def press(view_id: str) -> None:
        web.api_call("views.action", json={"view_id": view_id, "action_id": "deeper"})

    with bolt_over_socket_mode(app, bot.app_token):
        with connect(web.rtm_connect()["url"]) as ws:
            assert '"hello"' in ws.recv(timeout=10)
            run(web, channel, name)
            first = frame_of(ws, "view_opened")["view"]
            assert first["previous_view_id"] is None
            press(first["id"])
            second = frame_of(ws, "view_opened")["view"]
            assert second["previous_view_id"] == first["id"]
            say(second["id"], "done")  # closes the second alone
            assert frame_of(ws, "view_closed")["view_id"] == second["id"]
            say(first["id"], "push")  # the first is still open: its answer pushes
            third = frame_of(ws, "view_opened")["view"]
            assert third["previous_view_id"] == first["id"]
            press(third["id"])
            fourth = frame_of(ws, "view_opened")["view"]
            assert fourth["previous_view_id"] == third["id"]
            press(fourth["id"])  # a fourth deep is refused
            wait_for(lambda: len(refused) == 3, 10, "the refused push")
            say(fourth["id"], "clear")
            closed = [frame_of(ws, "view_closed")["view_id"] for _ in range(3)]
            assert closed == [first["id"], third["id"], fourth["id"]]
        assert refused == ["exchanged_trigger_id", "invalid_trigger_id", "push_limit_reached"]
        for view in (first, second, third, fourth):
            again = {"view_id": view["id"], "values": {}}
            assert error_of(web.api_call, "views.submit", json=again) == "view_not_found"


def test_a_menu_in_a_modal_reaches_the_app_before_the_modal_is_submitted(server, room):
    """An ``actions`` block's ``static_select`` in a modal: the option picked reaches
    ``@app.action`` with the view (Parley's ``views.action`` with ``value``), and the app
    changes the modal by it; an option the menu does not have is refused."""
    bot, person, channel, name = room
    admin.register_command(server.settings, bot.user_id, name)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    menu = {
        "type": "actions",
        "block_id": "kind",
        "elements": [
            {
                "type": "static_select",
                "action_id": "pick_kind",
                "options": [
                    {"text": {"type": "plain_text", "text": "Bug"}, "value": "bug"},
                    {"text": {"type": "plain_text", "text": "Idea"}, "value": "idea"},
                ],
            }
        ],
    }
    picked: list[dict] = []

    @app.command(name)
    def open_it(ack, body, client):
        ack()
        view = {**TICKET_VIEW, "blocks": [menu, *TICKET_VIEW["blocks"]]}
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action("pick_kind")
    def pick(ack, body, action, client):
        ack()
        picked.append(action)
        kind = action["selected_option"]["text"]["text"]
        title = {"type": "plain_text", "text": f"New {kind.lower()}"}
        view = {**TICKET_VIEW, "title": title, "blocks": [menu, *TICKET_VIEW["blocks"]]}
        client.views_update(view_id=body["view"]["id"], view=view)

    web = server.client(person.token)
    with bolt_over_socket_mode(app, bot.app_token):
        with connect(web.rtm_connect()["url"]) as ws:
            assert '"hello"' in ws.recv(timeout=10)
            run(web, channel, name)
            view_id = frame_of(ws, "view_opened")["view"]["id"]
            bad = {"view_id": view_id, "action_id": "pick_kind", "value": "rant"}
            assert error_of(web.api_call, "views.action", json=bad) == "invalid_arguments"
            good = {**bad, "value": "idea"}
            web.api_call("views.action", json=good)
            assert frame_of(ws, "view_updated")["view"]["title"]["text"] == "New idea"
        [action] = picked
        assert action["type"] == "static_select" and action["selected_option"]["value"] == "idea"
