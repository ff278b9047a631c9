"""Apps unfurl the links on their domains: a Bolt app, unmodified, hears ``link_shared``
(over Socket Mode and over HTTP) for a person's message in a private conversation its
bot is not in, answers with ``chat.unfurl``, and the people there see its unfurl on the
message, which the server did not fetch (while it previews the message's other link).

The app's links are on ``localhost``, the page server's other name; the server may fetch
from this machine (``PARLEY_UNFURL_PRIVATE``), so a fetch of the app's link would show
in the page server's hits."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from websockets.sync.client import connect

from parley import admin
from parley.ids import parse_ts
from parley.server import free_port
from parley.unfurl import meta
from tests.app.test_unfurl import history, pages, settled  # noqa: F401 - pages: a fixture
from tests.helpers import bolt_over_http, bolt_over_socket_mode, error_of, frame_of
from tests.subscriber import wait_for

_n = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server that may fetch from this machine's own addresses."""
    from tests.helpers import server_in_thread

    with server_in_thread(tmp_path_factory.mktemp("data"), unfurl_private=True) as srv:
        yield srv


def card(url: str) -> dict:
    return {
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"Ticket *{url}*"}}],
        "color": "#36a64f",
    }


def unfurling_app(server, bot, by_id: bool = False, **app_args) -> tuple[App, list[dict]]:
    """The app: unfurls every link it hears of, by channel and ts or by unfurl id."""
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"), **app_args)
    heard: list[dict] = []

    @app.event("link_shared")
    def unfurl(event, client):
        heard.append(event)
        given = {link["url"]: card(link["url"]) for link in event["links"]}
        if by_id:
            client.chat_unfurl(unfurl_id=event["unfurl_id"], source=event["source"], unfurls=given)
        else:
            client.chat_unfurl(channel=event["channel"], ts=event["message_ts"], unfurls=given)

    return app, heard


def setup(server, pages):  # noqa: F811 - the fixture's value
    """An app's bot unfurling ``localhost``, and a person with a private channel
    the bot is not in."""
    n = next(_n)
    bot = server.user(f"unfurler{n}", bot=True, app_token=True)
    assert admin.set_unfurl_domains(server.settings, bot.user_id, ["LocalHost"]) == {
        "user_id": bot.user_id,
        "domains": ["localhost"],
    }
    server.reload_unfurls()
    person = server.user(f"unfurl-person{n}")
    web = server.client(person.token)
    channel = web.conversations_create(name=f"unfurled-{n}", is_private=True)["channel"]["id"]
    app_link = f"http://localhost:{pages.server_port}/ticket-{n}"
    return bot, person, web, channel, app_link


def check_an_unfurl(server, pages, bot, heard, web, channel, app_link):  # noqa: F811
    """The person's side: a post with the app's link and another one."""
    with connect(web.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        text = f"see <{app_link}> and {pages.base}/article"
        ts = web.chat_postMessage(channel=channel, text=text)["ts"]
        wait_for(lambda: heard, 10, "link_shared")
        [event] = heard
        assert event["type"] == "link_shared" and event["channel"] == channel
        assert event["message_ts"] == ts and event["user"] == web.auth_test()["user_id"]
        assert event["is_bot_user_member"] is False and event["source"] == "conversations_history"
        assert event["links"] == [{"domain": "localhost", "url": app_link}]
        assert event["unfurl_id"].startswith(f"{channel}.{ts}.")
        # the message gets the app's unfurl and the server's preview of the other link
        shown: dict = {}
        while len(shown) < 2:
            changed = frame_of(ws, "message")
            if changed.get("subtype") != "message_changed" or changed["channel"] != channel:
                continue  # the post itself, the app's own in their direct message
            for a in changed["message"].get("attachments", []):
                shown[a.get("app_unfurl_url") or a.get("from_url")] = a
        unfurl = shown[app_link]
        assert unfurl["is_app_unfurl"] is True and unfurl["bot_id"] == bot.bot_id
        assert unfurl["blocks"] == card(app_link)["blocks"] and unfurl["color"] == "#36a64f"
        assert unfurl["app_id"] == "A" + bot.bot_id[1:]
        assert shown[f"{pages.base}/article"]["title"] == "How we ship"
        settled(server)
        stored = history(web, channel, ts)
        assert "edited" not in stored
        assert {a.get("app_unfurl_url") or a["from_url"] for a in stored["attachments"]} == {
            app_link,
            f"{pages.base}/article",
        }
        # the server never fetched the app's link
        assert pages.hits[app_link.split(str(pages.server_port))[1]] == 0
        # an edit that takes the link out takes the app's unfurl off
        web.chat_update(channel=channel, ts=ts, text=f"only {pages.base}/article now")
        wait_for(
            lambda: "app_unfurl_url" not in json.dumps(history(web, channel, ts)),
            10,
            "the unfurl taken off",
        )
        assert len(heard) == 1  # and the app heard of nothing new


def test_a_bolt_app_unfurls_its_links_over_socket_mode(server, pages):  # noqa: F811
    bot, person, web, channel, app_link = setup(server, pages)
    app, heard = unfurling_app(server, bot)
    with bolt_over_socket_mode(app, bot.app_token):
        # its own messages' links are not for it: it unfurls those when it posts them
        bot_web = server.client(bot.token)
        dm = bot_web.conversations_open(users=person.user_id)["channel"]["id"]
        bot_web.chat_postMessage(channel=dm, text=f"<{app_link}>", unfurl_links=True)
        check_an_unfurl(server, pages, bot, heard, web, channel, app_link)


def test_a_bolt_app_over_http_unfurls_its_links_by_unfurl_id(server, pages):  # noqa: F811
    bot, person, web, channel, app_link = setup(server, pages)
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"
    secret = admin.register_event_app(server.settings, bot.user_id, url, verify=False)[
        "signing_secret"
    ]
    app, heard = unfurling_app(server, bot, by_id=True, signing_secret=secret)
    server.reload_apps()
    with bolt_over_http(app, port):
        check_an_unfurl(server, pages, bot, heard, web, channel, app_link)


def test_chat_unfurl_is_checked(server, pages):  # noqa: F811
    """Only an app's bot, only its own links, only in a message that has them; a
    message with none of them is as good as none; an unfurl may ask its author to
    connect the app."""
    bot, person, web, channel, app_link = setup(server, pages)
    app_web = server.client(bot.token)
    ts = web.chat_postMessage(channel=channel, text=f"<{app_link}>")["ts"]
    plain = web.chat_postMessage(channel=channel, text="no links")["ts"]
    given = {app_link: {"text": "ticket"}}
    at = {"channel": channel, "ts": ts}
    assert error_of(web.chat_unfurl, unfurls=given, **at) == "missing_scope"  # a person's
    other = server.user(f"unfurl-other{next(_n)}", bot=True)
    assert error_of(server.client(other.token).chat_unfurl, unfurls=given, **at) == (
        "cannot_find_service"  # an app with no domains
    )
    call = app_web.chat_unfurl
    assert error_of(call, unfurls={}, **at) == "missing_unfurls"
    assert error_of(app_web.api_call, "chat.unfurl", json={**at, "unfurls": "[1]"}) == (
        "invalid_unfurls_format"
    )
    assert error_of(call, unfurls={app_link: "text"}, **at) == "cannot_parse_attachment"
    assert error_of(call, unfurls={"https://elsewhere.test/": {"text": "x"}}, **at) == (
        "cannot_unfurl_url"
    )
    assert error_of(call, unfurls={app_link + "/other": {"text": "x"}}, **at) == (
        "cannot_unfurl_message"
    )
    assert error_of(call, unfurls=given, channel=channel, ts=plain) == "cannot_find_message"
    assert error_of(call, unfurls=given, channel=channel, ts="1.000001") == "cannot_find_message"
    for nowhere in ("Cnope", "x" * 32, "D0", "<script>"):
        assert error_of(call, unfurls=given, channel=nowhere, ts=ts) == "cannot_find_message"
    assert error_of(call, unfurls=given, channel=channel, ts="yesterday") == "cannot_find_message"
    assert error_of(call, unfurls=given, ts=ts) == "missing_channel"
    assert error_of(call, unfurls=given, channel=channel) == "missing_ts"
    assert error_of(call, unfurls=given, unfurl_id="x") == "missing_source"
    assert error_of(call, unfurls=given, source="elsewhere", unfurl_id="x") == "invalid_source"
    assert error_of(call, unfurls=given, source="composer", unfurl_id="x") == "invalid_unfurl_id"
    assert error_of(call, unfurls=given, source="conversations_history", unfurl_id="x") == (
        "invalid_unfurl_id"
    )
    for bad in ("javascript:alert(1)", "https://x|y", "https://a b"):
        assert error_of(call, unfurls=given, user_auth_url=bad, **at) == "invalid_arguments"
    # asking the author to connect the app: only they see it
    with connect(web.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        call(
            unfurls=given,
            user_auth_message="Sign in to see tickets",
            user_auth_url="https://tickets.example/login",
            **at,
        )
        prompt = frame_of(ws, "message")
        while prompt.get("subtype") == "message_changed":
            prompt = frame_of(ws, "message")
        assert prompt["is_ephemeral"] is True and prompt["user"] == bot.user_id
        assert prompt["text"] == "Sign in to see tickets <https://tickets.example/login|Connect>"
    [unfurl] = history(web, channel, ts)["attachments"]
    assert unfurl["text"] == "ticket" and unfurl["app_unfurl_url"] == app_link
    # an empty unfurl takes it off
    call(unfurls={app_link: {}}, **at)
    assert "attachments" not in history(web, channel, ts)


def test_the_domains_an_app_unfurls_are_checked(server):
    person = server.user(f"unfurl-not-a-bot{next(_n)}")
    bot = server.user(f"unfurl-domains{next(_n)}", bot=True)
    with pytest.raises(admin.AdminError, match="not a bot"):
        admin.set_unfurl_domains(server.settings, person.user_id, ["example.com"])
    with pytest.raises(admin.AdminError, match="host names"):
        admin.set_unfurl_domains(server.settings, bot.user_id, ["example.com/path"])
    many = [f"d{i}.example" for i in range(6)]
    with pytest.raises(admin.AdminError, match="at most 5"):
        admin.set_unfurl_domains(server.settings, bot.user_id, many)
    assert admin.set_unfurl_domains(server.settings, bot.user_id, many[:2] + many[:1]) == {
        "user_id": bot.user_id,
        "domains": many[:2],
    }
    assert admin.set_unfurl_domains(server.settings, bot.user_id, [])["domains"] == []


def test_a_preview_written_over_an_unfurl_is_made_again_on_the_message_as_it_is(
    server,
    pages,  # noqa: F811
):
    """The server's previews and an app's unfurl land on the same message: the write
    that comes second finds the message changed, and is computed again on it, so both
    stay (``Sender.rewrite``)."""
    bot, person, web, channel, app_link = setup(server, pages)
    ts = web.chat_postMessage(channel=channel, text=f"<{app_link}>")["ts"]
    settled(server)

    def on_loop(coro):
        return asyncio.run_coroutine_threadsafe(coro, server.loop).result(10)

    stale = on_loop(server.services.store.message(channel, parse_ts(ts)))
    server.client(bot.token).chat_unfurl(
        channel=channel, ts=ts, unfurls={app_link: {"text": "app's"}}
    )
    preview = {"id": 1, "from_url": "https://p.test/", "title": "P"}
    seen: list[int] = []

    def change_of(now):
        seen.append(now.version)
        return meta.patch(now.rich, [preview], {app_link})

    after = on_loop(server.services.sender.rewrite(stale, change_of))
    assert seen == [stale.version, stale.version + 1]  # refused on the stale one, then again
    assert after.version == stale.version + 2 and after.edited_ts is None
    shown = history(web, channel, ts)["attachments"]
    assert [a.get("app_unfurl_url") or a["from_url"] for a in shown] == [
        app_link,
        "https://p.test/",
    ]
