"""A workspace's own emoji through the real ``slack_sdk``: ``admin.emoji.add`` (from a URL
this test serves, or Parley's ``image``), ``addAlias``, ``remove``, ``emoji.list``, the
image served to anyone, and ``emoji_changed`` over a real WebSocket."""

from __future__ import annotations

import asyncio
import base64
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.app.test_files import png
from tests.helpers import RawClient, error_of, fetch

PARROT = png(16, 16, (255, 0, 128))
_n = itertools.count()


@pytest.fixture(scope="module")
def images():
    """An HTTP server with ``/parrot.png``, ``/page.html`` and a big ``/huge.png``."""
    served = {
        "/parrot.png": PARROT,
        "/page.html": b"<html>not an image</html>",
        "/huge.png": PARROT + b"\0" * (300 * 1024),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def add(client, **args):
    """``admin.emoji.add`` with any arguments (slack_sdk's wants a ``url``)."""
    return client.api_call("admin.emoji.add", json=args)


def people(server):
    n = next(_n)
    op = server.user(f"emoji-op-{n}", scopes="admin.teams:write")
    return server.client(op.token), server.client(server.user(f"emoji-person-{n}").token), n


def test_an_emoji_added_is_listed_served_to_anyone_and_announced(server, images):
    admin_client, person, n = people(server)

    async def scenario():
        watching = await RawClient.open(person.rtm_connect()["url"])
        await asyncio.to_thread(
            admin_client.admin_emoji_add, name=f"parrot{n}", url=f"{images}/parrot.png"
        )
        told = await watching.next(type="emoji_changed")
        watching.close()
        return told

    told = asyncio.run(scenario())
    url = person.emoji_list()["emoji"][f"parrot{n}"]
    assert told["subtype"] == "add" and told["name"] == f"parrot{n}" and told["value"] == url
    assert url.startswith(server.url) and url.endswith(
        f"/files/emoji/{url.split('/')[-2]}/parrot{n}"
    )
    status, headers, body = fetch(url)  # no token: an emoji is no secret
    assert (status, body, headers["content-type"]) == (200, PARROT, "image/png")
    assert headers["x-content-type-options"] == "nosniff" and "public" in headers["cache-control"]
    # Parley's image argument, and a reaction by the new name
    add(admin_client, name=f":blob{n}:", image=base64.b64encode(PARROT).decode())
    listed = person.emoji_list()["emoji"]
    assert listed[f"blob{n}"].endswith(f"/blob{n}")
    channel = person.conversations_create(name=f"emoji-{n}")["channel"]["id"]
    ts = person.chat_postMessage(channel=channel, text=f"look :blob{n}:")["ts"]
    person.reactions_add(channel=channel, timestamp=ts, name=f"blob{n}")
    assert admin_client.admin_emoji_list()["emoji"][f"blob{n}"] == {"url": listed[f"blob{n}"]}


def test_aliases_and_removal(server):
    admin_client, person, n = people(server)
    add(admin_client, name=f"cat{n}", image=base64.b64encode(PARROT).decode())
    admin_client.admin_emoji_addAlias(name=f"kitty{n}", alias_for=f"cat{n}")
    admin_client.admin_emoji_addAlias(name=f"kit{n}", alias_for=f"kitty{n}")  # to the first
    admin_client.admin_emoji_addAlias(name=f"hooray{n}", alias_for="tada")  # a standard one
    listed = person.emoji_list()["emoji"]
    assert listed[f"kitty{n}"] == listed[f"kit{n}"] == f"alias:cat{n}"
    assert listed[f"hooray{n}"] == "alias:tada"
    url = listed[f"cat{n}"]
    alias_url = url.rsplit("/", 1)[0] + f"/kitty{n}"
    assert fetch(alias_url)[2] == PARROT  # an alias's image is its target's

    async def scenario():
        watching = await RawClient.open(person.rtm_connect()["url"])
        await asyncio.to_thread(admin_client.admin_emoji_remove, name=f"cat{n}")
        told = await watching.next(type="emoji_changed", subtype="remove")
        watching.close()
        return told

    told = asyncio.run(scenario())
    assert told["names"] == sorted([f"cat{n}", f"kitty{n}", f"kit{n}"])
    listed = person.emoji_list()["emoji"]
    assert f"cat{n}" not in listed and f"kit{n}" not in listed and f"hooray{n}" in listed
    assert fetch(url)[0] == 404
    assert error_of(admin_client.admin_emoji_remove, name=f"cat{n}") == "emoji_not_found"


def test_what_an_emoji_may_not_be(server, images):
    admin_client, person, n = people(server)
    admin_client.admin_emoji_add(name=f"taken{n}", url=f"{images}/parrot.png")
    image = base64.b64encode(PARROT).decode()
    for kwargs, error in (
        ({"name": f"taken{n}", "image": image}, "error_name_taken"),
        ({"name": "tada", "image": image}, "error_name_taken"),  # a standard emoji's
        ({"name": "Big Name", "image": image}, "invalid_name"),
        ({"name": "", "image": image}, "invalid_arguments"),  # as any required one
        ({"name": f"x{n}"}, "error_no_image"),
        ({"name": f"x{n}", "url": "ftp://example.com/a.png"}, "error_no_image"),
        ({"name": f"x{n}", "url": f"{images}/missing.png"}, "error_bad_upload"),
        ({"name": f"x{n}", "url": f"{images}/page.html"}, "error_bad_format"),
        ({"name": f"x{n}", "url": f"{images}/huge.png"}, "error_too_big"),
        ({"name": f"x{n}", "image": "not base64!"}, "error_bad_format"),
    ):
        assert error_of(add, admin_client, **kwargs) == error, kwargs
    assert error_of(admin_client.admin_emoji_addAlias, name=f"y{n}", alias_for="nope") == (
        "emoji_not_found"
    )
    assert error_of(add, person, name=f"z{n}", image=image) == "missing_scope"
    assert f"x{n}" not in person.emoji_list()["emoji"]
    assert fetch(f"{server.url}/files/emoji/TNONE/nothing")[0] == 404
