"""Profiles through the official slack_sdk: a person sets their own (names, title,
status), the team hears of it; email addresses, set by the operator, are found with
``users.lookupByEmail`` and shown only with ``users:read.email``."""

from __future__ import annotations

import asyncio
import io
import itertools
import time

import pytest
from slack_sdk import WebClient

from parley import admin
from tests.app.test_files import png
from tests.helpers import WsClient, error_of, fetch

_n = itertools.count()


@pytest.fixture()
def pair(server):
    tag = next(_n)
    me = server.user(f"prof{tag}", email=f"Prof{tag}@Example.com")
    mate = server.user(f"prof{tag}-mate")
    return me, mate, tag


def test_a_status_set_reaches_the_team_and_expires(server, pair):
    me, mate, _tag = pair
    web = server.client(me.token)

    async def scenario() -> dict:
        rtm = await WsClient.open(server.client(mate.token).rtm_connect()["url"])
        await rtm.next(type="hello")
        web.users_profile_set(
            profile={"status_text": "in a meeting", "status_emoji": ":calendar:", "title": "SRE"}
        )
        change = await rtm.next(type="user_change")
        rtm.close()
        return change

    change = asyncio.run(scenario())
    assert change["user"]["id"] == me.user_id
    assert change["user"]["profile"]["status_text"] == "in a meeting"
    assert "email" not in change["user"]["profile"]  # the team-wide event never has it
    seen = server.client(mate.token).users_profile_get(user=me.user_id)["profile"]
    assert (seen["status_emoji"], seen["title"]) == (":calendar:", "SRE")
    web.users_profile_set(name="display_name", value="Pat")
    info = server.client(mate.token).users_info(user=me.user_id)["user"]
    assert info["profile"]["display_name"] == "Pat" and info["profile"]["title"] == "SRE"
    past = int(time.time()) - 1
    web.users_profile_set(profile={"status_text": "lunch", "status_expiration": past})
    gone = web.users_profile_get()["profile"]
    assert (gone["status_text"], gone["status_emoji"]) == ("", "")  # expired: no status
    web.users_profile_set(profile={"title": ""})
    assert web.users_profile_get()["profile"].get("title") is None


def test_what_a_profile_refuses(server, pair):
    me, mate, _tag = pair
    web = server.client(me.token)
    for bad in (
        {"status_emoji": "calendar"},
        {"title": "x" * 101},
        {"status_expiration": -1},
        {"is_admin": True},
    ):
        assert error_of(lambda b=bad: web.users_profile_set(profile=b)) == "invalid_profile"
    assert error_of(lambda: web.users_profile_set(profile="{not json")) == "invalid_profile"
    other = lambda: web.users_profile_set(user=mate.user_id, profile={"title": "boss"})  # noqa: E731
    assert error_of(other) == "not_authorized"
    bot = server.client(server.user(f"{me.user_id.lower()}-bot", bot=True).token)
    assert error_of(lambda: bot.users_profile_set(profile={"title": "x"})) == "missing_scope"


def test_a_photo_set_is_served_to_anyone_and_shown_at_every_size(server, pair):
    """``users.setPhoto`` through ``slack_sdk`` (a multipart file): the team hears
    ``user_change`` with the photo's path at each of Slack's sizes (the Web API shows it
    on the server as the reader reached it, never as the setter's ``Host`` named it);
    the URL serves the image to anyone, a new photo has a new URL;
    ``users.deletePhoto`` takes it away; an upload that is no image, or too large, is
    refused; ``users.profile.set`` cannot point the photo anywhere else."""
    me, mate, _tag = pair
    web = server.client(me.token)
    photo = png(4, 4, (10, 120, 200))

    async def scenario() -> dict:
        rtm = await WsClient.open(server.client(mate.token).rtm_connect()["url"])
        await rtm.next(type="hello")
        # through another name of this server: the answer names it, the others do not
        forged = WebClient(token=me.token, base_url=f"http://localhost:{server.settings.port}/api/")
        answer = forged.users_setPhoto(image=io.BytesIO(photo))["profile"]["image_72"]
        assert answer.startswith(f"http://localhost:{server.settings.port}/files/avatars/")
        change = await rtm.next(type="user_change")
        rtm.close()
        return change

    change = asyncio.run(scenario())
    profile = change["user"]["profile"]
    path = profile["image_72"]
    assert path.startswith(f"/files/avatars/{me.team_id}/{me.user_id}/")
    assert all(profile[k] == path for k in ("image_24", "image_48", "image_512", "image_original"))
    url = server.url + path
    assert profile["is_custom_image"] is True and "image" not in profile
    status, headers, body = fetch(url)  # no token: a photo is no secret
    assert (status, headers["content-type"], body) == (200, "image/png", photo)
    assert "immutable" in headers["cache-control"] and headers["x-content-type-options"]
    seen = server.client(mate.token).users_info(user=me.user_id)["user"]["profile"]
    assert seen["image_192"] == url
    gif = b"GIF89a" + b"\0" * 20
    second = web.users_setPhoto(image=io.BytesIO(gif))["profile"]["image_72"]
    assert second != url and fetch(second)[1]["content-type"] == "image/gif"
    other_team = url.replace(me.team_id, "TNOBODY")
    assert fetch(other_team)[0] == 404
    for bad, code in (
        (b"not an image", "bad_image"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 600_000, "too_large"),
    ):
        assert error_of(lambda b=bad: web.users_setPhoto(image=io.BytesIO(b))) == code
    assert error_of(lambda: web.users_profile_set(profile={"image": "http://x/"})) == (
        "invalid_profile"
    )
    gone = web.users_deletePhoto()["profile"]
    assert "image_72" not in gone and "is_custom_image" not in gone
    assert fetch(second)[0] == 404
    bot = server.client(server.user(f"{me.user_id.lower()}-photo-bot", bot=True).token)
    assert error_of(lambda: bot.users_setPhoto(image=io.BytesIO(photo))) == "missing_scope"


def test_email_lookup_and_who_sees_addresses(server, pair):
    me, mate, tag = pair
    web = server.client(mate.token)
    found = web.users_lookupByEmail(email=f"prof{tag}@example.COM")["user"]
    assert found["id"] == me.user_id and found["profile"]["email"] == f"prof{tag}@example.com"
    assert error_of(lambda: web.users_lookupByEmail(email="nobody@example.com")) == (
        "users_not_found"
    )
    narrow = server.user(f"prof{tag}-narrow", scopes="users:read")
    plain = server.client(narrow.token)
    assert "email" not in plain.users_info(user=me.user_id)["user"]["profile"]
    assert error_of(lambda: plain.users_lookupByEmail(email=f"prof{tag}@example.com")) == (
        "missing_scope"
    )
    with pytest.raises(admin.AdminError):  # one user an address
        server.user(f"prof{tag}-again", email=f"prof{tag}@example.com")
    with pytest.raises(admin.AdminError):
        server.user(f"prof{tag}-bad", email="not-an-address")
