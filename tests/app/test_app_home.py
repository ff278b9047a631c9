"""An app's home tab: a Bolt app, unmodified, hears ``app_home_opened`` when a person
opens its home (Parley's ``views.home``) and publishes the tab (``views.publish``); the
person gets it, presses its button (``views.action``), and the app's ``@app.action``
publishes it again. Over Socket Mode and HTTP."""

from __future__ import annotations

import itertools

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from websockets.sync.client import connect

from parley import admin
from parley.server import free_port
from tests.helpers import bolt_over_http, bolt_over_socket_mode, error_of, frame_of

_n = itertools.count()


def home_view(text: str) -> dict:
    return {
        "type": "home",
        "callback_id": "home",
        "private_metadata": "app's own",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "block_id": "tools",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "refresh",
                        "value": "again",
                        "text": {"type": "plain_text", "text": "Refresh"},
                    }
                ],
            },
        ],
    }


@pytest.fixture()
def pair(server):
    tag = next(_n)
    bot = server.user(f"home{tag}", bot=True, app_token=True)
    person = server.user(f"home{tag}-person")
    return bot, person


def home_app(bot, server, **app_args) -> tuple[App, list[dict], list[dict]]:
    """The app: greets whoever opens its home, and counts the presses of its button."""
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"), **app_args)
    opened: list[dict] = []
    pressed: list[dict] = []

    @app.event("app_home_opened")
    def greet(event, client):
        opened.append(event)
        client.views_publish(user_id=event["user"], view=home_view(f"Hello <@{event['user']}>"))

    @app.action("refresh")
    def refresh(ack, body, client):
        ack()
        pressed.append(body)
        view = home_view(f"Pressed {len(pressed)} times")
        client.views_publish(user_id=body["user"]["id"], view=view, hash=body["view"]["hash"])

    return app, opened, pressed


def check_a_home(server, bot, person, opened: list[dict], pressed: list[dict]) -> None:
    """The person's side of the home app."""
    web = server.client(person.token)
    with connect(web.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        first = web.api_call("views.home", json={"app": bot.user_id})
        assert first["view"] is None  # nothing published yet
        dm = first["channel"]
        assert dm == web.conversations_open(users=bot.user_id)["channel"]["id"]
        published = frame_of(ws, "view_updated")["view"]
        assert published["type"] == "home" and "private_metadata" not in published
        assert published["blocks"][0]["text"]["text"] == f"Hello <@{person.user_id}>"
        [event] = opened
        assert (event["user"], event["channel"], event["tab"]) == (person.user_id, dm, "home")
        assert "view" not in event
        again = web.api_call("views.home", json={"app": bot.user_id})
        assert again["view"]["id"] == published["id"]
        greeted = frame_of(ws, "view_updated")["view"]  # the app greets again
        assert greeted["id"] == published["id"] and greeted["hash"] != published["hash"]
        assert opened[1]["view"]["id"] == published["id"]
        assert opened[1]["view"]["type"] == "home"
        assert opened[1]["view"]["private_metadata"] == "app's own"
        # its button reaches the app, which publishes it again
        press = {"view_id": published["id"], "action_id": "refresh", "block_id": "tools"}
        web.api_call("views.action", json=press)
        updated = frame_of(ws, "view_updated")["view"]
        assert updated["id"] == published["id"]
        assert updated["blocks"][0]["text"]["text"] == "Pressed 1 times"
        [body] = pressed
        assert body["container"] == {"type": "view", "view_id": published["id"]}
        assert body["view"]["type"] == "home" and body["trigger_id"]
        assert body["actions"][0]["value"] == "again"
        # a home tab is neither submitted nor closed
        for method in ("views.submit", "views.close"):
            assert error_of(web.api_call, method, json={"view_id": published["id"]}) == (
                "view_not_found"
            )


def test_a_bolt_app_publishes_its_home_tab_over_socket_mode(server, pair):
    bot, person = pair
    app, opened, pressed = home_app(bot, server)
    with bolt_over_socket_mode(app, bot.app_token):
        check_a_home(server, bot, person, opened, pressed)


def test_a_bolt_app_over_http_publishes_its_home_tab(server, pair):
    bot, person = pair
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    registered = admin.register_event_app(server.settings, bot.user_id, url, verify=False)
    secret = registered["signing_secret"]
    assert admin.register_interactivity(server.settings, bot.user_id, url)["signing_secret"] == (
        secret  # one secret an app
    )
    app, opened, pressed = home_app(bot, server, signing_secret=secret)
    server.reload_apps()
    with bolt_over_http(app, port):
        check_a_home(server, bot, person, opened, pressed)


def test_home_tabs_are_checked(server, pair):
    """Who may publish what for whom, and who may open it."""
    bot, person = pair
    app_web = server.client(bot.token)
    web = server.client(person.token)
    view = home_view("hi")
    assert error_of(app_web.views_publish, user_id="UNOBODY", view=view) == "user_not_found"
    assert error_of(app_web.views_publish, user_id=bot.user_id, view=view) == "user_not_found"
    assert error_of(web.views_publish, user_id=person.user_id, view=view) == (
        "not_allowed_token_type"
    )
    modal = {**view, "type": "modal"}
    assert error_of(app_web.views_publish, user_id=person.user_id, view=modal) == (
        "invalid_arguments"
    )
    with_input = {
        **view,
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input"},
            }
        ],
    }
    assert error_of(app_web.views_publish, user_id=person.user_id, view=with_input) == (
        "invalid_arguments"
    )
    first = app_web.views_publish(user_id=person.user_id, view=view)["view"]
    assert first["type"] == "home" and first["private_metadata"] == "app's own"
    stale = {"user_id": person.user_id, "view": view, "hash": "1.stale"}
    assert error_of(app_web.views_publish, **stale) == "hash_conflict"
    second = app_web.views_publish(user_id=person.user_id, view=view, hash=first["hash"])["view"]
    assert second["id"] == first["id"] and second["hash"] != first["hash"]
    # another app cannot touch it; its own may update it, as a home tab
    other = server.client(server.user(f"home-other{next(_n)}", bot=True).token)
    assert error_of(other.views_update, view_id=first["id"], view=view) == "not_found"
    assert error_of(app_web.views_update, view_id=first["id"], view=modal) == "invalid_arguments"
    app_web.views_update(view_id=first["id"], view=home_view("updated"))
    shown = web.api_call("views.home", json={"app": bot.user_id})["view"]
    assert shown["blocks"][0]["text"]["text"] == "updated"
    # opened by a person, of an app's bot only
    home = "views.home"
    assert error_of(web.api_call, home, json={"app": person.user_id}) == "user_not_found"
    assert error_of(web.api_call, home, json={"app": "UNOBODY"}) == "user_not_found"
    assert error_of(app_web.api_call, home, json={"app": bot.user_id}) == "not_allowed_token_type"
