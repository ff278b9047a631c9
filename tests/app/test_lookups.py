"""``users.conversations``, ``chat.getPermalink`` and ``team.info`` through the official
slack_sdk WebClient, unmodified."""

from __future__ import annotations

import itertools
import urllib.request

import pytest

from tests.helpers import error_of

_n = itertools.count()


@pytest.fixture()
def people(server):
    tag = next(_n)
    return tag, [server.user(f"look-{tag}-{i}") for i in range(3)]


def test_users_conversations_lists_a_users_channels_and_hides_what_the_caller_cannot_see(
    server, people
):
    tag, (ann, ben, cat) = people
    a, b = server.client(ann.token), server.client(ben.token)
    pub_in = a.conversations_create(name=f"lk-in-{tag}")["channel"]["id"]
    b.conversations_create(name=f"lk-out-{tag}")  # ann is not in it
    shared = a.conversations_create(name=f"lk-sh-{tag}", is_private=True)["channel"]["id"]
    a.conversations_invite(channel=shared, users=ben.user_id)
    alone = a.conversations_create(name=f"lk-al-{tag}", is_private=True)["channel"]["id"]
    dm = a.conversations_open(users=cat.user_id)["channel"]["id"]
    a.conversations_archive(channel=pub_in)

    every = "public_channel,private_channel,im"
    own = a.users_conversations(types=every)
    assert [c["id"] for c in own["channels"]] == sorted([pub_in, shared, alone, dm])
    assert all(c["is_member"] for c in own["channels"])
    assert {c["id"] for c in a.users_conversations()["channels"]} == {pub_in}  # the default
    live = a.users_conversations(types=every, exclude_archived=True)["channels"]
    assert pub_in not in {c["id"] for c in live}
    # ben looks at ann: her public channel and the private one they share, not the rest
    seen = b.users_conversations(user=ann.user_id, types=every)["channels"]
    assert [c["id"] for c in seen] == sorted([pub_in, shared])
    assert {c["id"]: c["is_member"] for c in seen} == {pub_in: False, shared: True}
    # paging: one at a time, the same list
    got, cursor = [], None
    while True:
        page = a.users_conversations(types=every, limit=1, cursor=cursor)
        got += [c["id"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert got == [c["id"] for c in own["channels"]]
    assert error_of(lambda: b.users_conversations(user="U0NOBODY")) == "user_not_found"
    assert error_of(lambda: b.users_conversations(types="nope")) == "invalid_types"


def test_a_permalink_names_a_visible_message_and_the_server_opens_the_app_there(server, people):
    tag, (ann, ben, _cat) = people
    a, b = server.client(ann.token), server.client(ben.token)
    channel = a.conversations_create(name=f"lk-pl-{tag}")["channel"]["id"]
    ts = a.chat_postMessage(channel=channel, text="link me")["ts"]
    got = b.chat_getPermalink(channel=channel, message_ts=ts)  # a public channel: readable
    assert got["channel"] == channel
    assert got["permalink"] == f"{server.url}/archives/{channel}/p{ts.replace('.', '')}"
    with urllib.request.urlopen(got["permalink"]) as page:
        assert page.status == 200 and b"/static/app.js" in page.read()
    gone = a.chat_postMessage(channel=channel, text="soon gone")["ts"]
    a.chat_delete(channel=channel, ts=gone)
    link = b.chat_getPermalink
    assert error_of(lambda: link(channel=channel, message_ts=gone)) == "message_not_found"
    assert error_of(lambda: link(channel=channel, message_ts="123.456")) == "message_not_found"
    private = a.conversations_create(name=f"lk-pp-{tag}", is_private=True)["channel"]["id"]
    hidden = a.chat_postMessage(channel=private, text="hidden")["ts"]
    assert error_of(lambda: link(channel=private, message_ts=hidden)) == "channel_not_found"


def test_team_info_is_the_callers_workspace(server, people):
    _tag, (ann, _ben, _cat) = people
    a = server.client(ann.token)
    team = a.team_info()["team"]
    assert team["id"] == ann.team_id and team["name"] == a.auth_test()["team"]
    assert a.team_info(team=ann.team_id)["team"]["id"] == ann.team_id
    assert error_of(lambda: a.team_info(team="T0OTHER")) == "team_not_found"
    # no custom profile fields: Slack's standard ones only
    assert a.team_profile_get()["profile"] == {"fields": [], "sections": []}
