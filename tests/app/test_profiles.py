"""Profiles through the official slack_sdk: a person sets their own (names, title,
status), the team hears of it; email addresses, set by the operator, are found with
``users.lookupByEmail`` and shown only with ``users:read.email``."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from parley import admin
from tests.helpers import WsClient, error_of

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
