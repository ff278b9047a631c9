"""Link previews end to end: a real server fetches pages and images from a real HTTP
server this test runs, and the previews reach a real WebSocket client and the history
(through the official ``slack_sdk``), without the message being marked edited.

The page server is on 127.0.0.1, which a server on default settings refuses to fetch
from (``PARLEY_UNFURL_PRIVATE``): the last test shows it does."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from parley.pipeline.limits import PROXY_BURST, PROXY_RATE
from tests.app.test_files import png
from tests.helpers import WsClient, fetch, server_in_thread
from tests.subscriber import wait_for

CAT = png(8, 8, (200, 120, 40))
ARTICLE = b"""<html><head><title>fallback</title>
<meta property="og:title" content="How we ship">
<meta property="og:description" content="A post about shipping.">
<meta property="og:site_name" content="Parley Blog">
<meta property="og:image" content="/card.png">
</head><body>...</body></html>"""
_n = itertools.count()


@pytest.fixture(scope="module")
def pages():
    """An HTTP server: ``/article`` (a page with Open Graph tags, its image
    ``/card.png``), ``/cat.png``,
    ``/moved`` (a redirect to ``/article``), ``/notes.txt``; ``pages.hits`` counts requests
    by path."""
    hits: Counter[str] = Counter()
    lock = threading.Lock()
    served = {
        "/article": ("text/html; charset=utf-8", ARTICLE),
        "/cat.png": ("image/png", CAT),
        "/card.png": ("image/png", CAT),
        "/notes.txt": ("text/plain", b"just text"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                hits[self.path] += 1
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("location", "/article")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            kind, body = served.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in served else 404)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    http.base = f"http://127.0.0.1:{http.server_port}"
    http.hits = hits
    yield http
    http.shutdown()


@pytest.fixture(scope="module")
def unfurling(tmp_path_factory):
    """A server that may fetch from this machine's own addresses."""
    with server_in_thread(tmp_path_factory.mktemp("data"), unfurl_private=True) as srv:
        yield srv


def settled(server) -> None:
    """Waits until the server has no previews under way."""
    wait_for(lambda: server.on_loop(lambda s: s.unfurler.pending) == 0, 10, "previews")


def room(server, bot: bool = False):
    n = next(_n)
    poster = server.user(f"unfurl-{n}", bot=bot)
    web = server.client(poster.token)
    if bot:
        owner = server.client(server.user(f"unfurl-owner-{n}").token)
        channel = owner.conversations_create(name=f"unfurl-{n}")["channel"]["id"]
        owner.conversations_invite(channel=channel, users=poster.user_id)
    else:
        channel = web.conversations_create(name=f"unfurl-{n}")["channel"]["id"]
    return web, channel


def history(web, channel: str, ts: str) -> dict:
    (m,) = web.conversations_history(channel=channel, latest=ts, inclusive=True, limit=1)[
        "messages"
    ]
    return m


def test_a_persons_link_gets_a_preview_on_every_screen_without_being_edited(unfurling, pages):
    person, channel = room(unfurling)
    link = f"{pages.base}/article"

    async def scenario() -> tuple[dict, dict]:
        rtm = await WsClient.open(person.rtm_connect()["url"])
        await rtm.next(type="hello")
        rtm.send({"id": 1, "type": "message", "channel": channel, "text": f"read <{link}>!"})
        ack = await rtm.next(reply_to=1)
        changed = await rtm.next(type="message", subtype="message_changed")
        rtm.close()
        return ack, changed

    ack, changed = asyncio.run(scenario())
    assert changed["channel"] == channel and changed["message"]["ts"] == ack["ts"]
    shown = changed["message"]
    (preview,) = shown["attachments"]
    assert preview == {
        "id": 1,
        "from_url": link,
        "original_url": link,
        "fallback": "Parley Blog: How we ship",
        "title": "How we ship",
        "title_link": link,
        "text": "A post about shipping.",
        "service_name": "Parley Blog",
        "image_url": f"{pages.base}/card.png",
    }
    assert shown["text"] == f"read <{link}>!" and "edited" not in shown
    assert shown["edit_version"] == 1
    stored = history(person, channel, ack["ts"])
    assert stored["attachments"] == [preview] and stored["edit_version"] == 1
    assert "edited" not in stored


def test_an_apps_post_previews_images_unless_it_asks_for_pages_too(unfurling, pages):
    bot, channel = room(unfurling, bot=True)
    text = f"{pages.base}/article and {pages.base}/cat.png and {pages.base}/notes.txt"
    media = bot.chat_postMessage(channel=channel, text=text)["ts"]
    both = bot.chat_postMessage(channel=channel, text=text, unfurl_links=True)["ts"]
    none = bot.chat_postMessage(channel=channel, text=text, unfurl_media=False)["ts"]
    settled(unfurling)
    shown = {ts: history(bot, channel, ts).get("attachments", []) for ts in (media, both, none)}
    assert [a["from_url"] for a in shown[media]] == [f"{pages.base}/cat.png"]
    assert shown[media][0]["image_url"] == f"{pages.base}/cat.png"
    assert shown[media][0]["image_bytes"] == len(CAT)
    assert [a["from_url"] for a in shown[both]] == [
        f"{pages.base}/article",
        f"{pages.base}/cat.png",
    ]
    assert shown[none] == []


def test_an_edit_changes_the_previews_and_keeps_the_authors_own_attachments(unfurling, pages):
    person, channel = room(unfurling)
    mine = [{"text": "my own", "color": "good"}]
    ts = person.chat_postMessage(
        channel=channel, text=f"first {pages.base}/cat.png", attachments=mine
    )["ts"]
    wait_for(lambda: len(history(person, channel, ts).get("attachments", [])) == 2, 10, "preview")
    moved = f"{pages.base}/moved"
    person.chat_update(channel=channel, ts=ts, text=f"now {moved}")
    wait_for(
        lambda: history(person, channel, ts)["attachments"][1].get("from_url") == moved,
        10,
        "the new preview",
    )
    m = history(person, channel, ts)
    assert m["attachments"][0] == mine[0]
    assert m["attachments"][1]["title"] == "How we ship"  # the page it was moved to
    assert m["attachments"][1]["title_link"] == moved  # the link as written
    assert m["edited"]["user"] == m["user"]  # the author's edit is one
    person.chat_update(channel=channel, ts=ts, text="no links now")
    wait_for(lambda: history(person, channel, ts)["attachments"] == mine, 10, "previews removed")
    # an edit that gives the attachments keeps them as given, its links not previewed
    person.chat_update(channel=channel, ts=ts, text=f"again {pages.base}/cat.png", attachments=[])
    settled(unfurling)
    assert "attachments" not in history(person, channel, ts)


def test_a_scheduled_message_is_previewed_when_it_is_posted(unfurling, pages):
    person, channel = room(unfurling)
    link = f"{pages.base}/cat.png"
    person.chat_scheduleMessage(channel=channel, text=link, post_at=int(time.time()) + 1)

    def posted() -> list[dict]:
        found = person.conversations_history(channel=channel)["messages"]
        return [m for m in found if m.get("attachments")]

    wait_for(lambda: bool(posted()), 15, "the scheduled post's preview")
    assert posted()[0]["attachments"][0]["image_url"] == link


def test_a_server_on_default_settings_does_not_fetch_from_its_own_network(server, pages):
    person, channel = room(server)
    before = sum(pages.hits.values())
    ts = person.chat_postMessage(channel=channel, text=f"{pages.base}/article")["ts"]
    settled(server)
    assert sum(pages.hits.values()) == before
    assert "attachments" not in history(person, channel, ts)


def test_the_web_client_gets_other_sites_images_through_the_server(unfurling, server, pages):
    """``/files/proxy``: an image for a signed-in caller, checked by its bytes; not a
    page, not for nobody, and not from the server's own network on default settings."""
    token = unfurling.user(f"unfurl-proxy-{next(_n)}").token

    def proxied(srv, path: str, token: str | None) -> tuple[int, dict, bytes]:
        return fetch(f"{srv.url}/files/proxy?url={quote(pages.base + path, safe='')}", token)

    status, headers, body = proxied(unfurling, "/cat.png", token)
    assert (status, headers["content-type"], body) == (200, "image/png", CAT)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert proxied(unfurling, "/moved", token)[0] == 404  # a page, not an image
    assert proxied(unfurling, "/cat.png", None)[0] == 401
    for bad in ("file:///etc/passwd", "http://no-such-host.invalid/a.png", "http://[::1"):
        assert fetch(f"{unfurling.url}/files/proxy?url={quote(bad)}", token)[0] == 404, bad
    hits = pages.hits["/cat.png"]
    assert proxied(server, "/cat.png", server.user(f"unfurl-p-{next(_n)}").token)[0] == 404
    assert pages.hits["/cat.png"] == hits


def test_one_person_cannot_have_the_server_fetch_images_without_end(unfurling, pages):
    """``/files/proxy`` is limited per user: a channel's worth of images at once, then a
    few a second; past that 429 with ``Retry-After``, and nothing is fetched."""
    token = unfurling.user(f"unfurl-greedy-{next(_n)}").token
    url = f"{unfurling.url}/files/proxy?url={quote(pages.base + '/notes.txt', safe='')}"
    hits, started = pages.hits["/notes.txt"], time.monotonic()
    answers = []
    while len(answers) < 3 * PROXY_BURST and (not answers or answers[-1][0] != 429):
        answers.append(fetch(url, token))
    took = time.monotonic() - started
    fetched = [a for a in answers if a[0] == 404]  # not an image, each fetched
    status, headers, body = answers[-1]
    assert (status, json.loads(body)["error"]) == (429, "ratelimited")
    assert int(headers["retry-after"]) >= 1
    assert len(fetched) == len(answers) - 1 == pages.hits["/notes.txt"] - hits
    assert len(fetched) <= PROXY_BURST + PROXY_RATE * took + 1  # the bucket's bound
    other = unfurling.user(f"unfurl-other-{next(_n)}").token
    assert fetch(url, other)[0] == 404  # someone else is not held back
