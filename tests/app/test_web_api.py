"""The Web API through the official slack_sdk WebClient, against a real server."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk.errors import SlackApiError

from tests.helpers import error_of

_names = itertools.count()


def error(call, *args, **kwargs) -> str:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value.response["error"]


@pytest.fixture(scope="module")
def alice(server):
    return server.user("alice")


@pytest.fixture(scope="module")
def bob(server):
    return server.user("bob")


@pytest.fixture(scope="module")
def a(server, alice):
    return server.client(alice.token)


@pytest.fixture(scope="module")
def b(server, bob):
    return server.client(bob.token)


def pages(response) -> list[dict]:
    """Every page of a paginated call (slack_sdk reuses one response object per page)."""
    return [dict(page.data) for page in response]


def channel(client, *, private: bool = False, members=()) -> str:
    ch = client.conversations_create(name=f"ch-{next(_names)}", is_private=private)["channel"]
    if members:
        client.conversations_invite(channel=ch["id"], users=",".join(members))
    return ch["id"]


# -- auth ---------------------------------------------------------------------------------


def test_auth_test_names_the_caller(a, alice):
    resp = a.auth_test()
    assert resp["user_id"] == alice.user_id and resp["team_id"] == alice.team_id
    assert resp["user"] == "alice" and resp["url"].startswith("http://")
    assert "bot_id" not in resp


def test_auth_test_gives_a_bot_its_bot_id(server):
    bot = server.user("robot", bot=True)
    assert bot.token.startswith("xoxb-")
    assert server.client(bot.token).auth_test()["bot_id"] == bot.bot_id


def test_missing_and_wrong_tokens(server):
    assert error(server.client("").auth_test) == "not_authed"
    assert error(server.client("xoxp-nope").auth_test) == "invalid_auth"


def test_token_argument_works_without_header(server, alice):
    client = server.client("")
    assert client.api_call("auth.test", params={"token": alice.token})["user_id"] == alice.user_id


def test_api_test_needs_no_token_and_echoes_its_arguments(server, alice):
    anyone = server.client("")
    assert anyone.api_test(foo="bar").data == {"ok": True, "args": {"foo": "bar"}}
    assert anyone.api_call("api.test", http_verb="GET", params={"x": "1"})["args"] == {"x": "1"}
    assert error(anyone.api_test, error="my_error", foo="bar") == "my_error"
    with_token = server.client(alice.token).api_test(token=alice.token, y="2")
    assert with_token["args"] == {"y": "2"}  # the token is not echoed


# -- users ----------------------------------------------------------------------------------


def test_users_info_and_list(a, alice, bob):
    assert a.users_info(user=bob.user_id)["user"]["name"] == "bob"
    assert error(a.users_info, user="UNOPE") == "user_not_found"
    ids = [m["id"] for page in pages(a.users_list(limit=1)) for m in page["members"]]
    assert {alice.user_id, bob.user_id} <= set(ids)
    assert len(ids) == len(set(ids))


# -- conversations ---------------------------------------------------------------------------


def test_create_public_and_private(a, alice):
    pub = a.conversations_create(name="announcements")["channel"]
    assert (
        pub["is_private"] is False and pub["is_member"] is True and pub["name"] == "announcements"
    )
    priv = a.conversations_create(name="secret-plans", is_private=True)["channel"]
    assert priv["is_private"] is True
    assert a.conversations_info(channel=priv["id"])["channel"]["num_members"] == 1


def test_create_rejects_taken_and_invalid_names(a):
    a.conversations_create(name="dupe")
    assert error(a.conversations_create, name="dupe") == "name_taken"
    assert error(a.conversations_create, name="Has Spaces!") == "invalid_name"
    assert error(a.conversations_create, name="x" * 81) == "invalid_name_maxlength"
    assert error(a.conversations_create, name="") == "invalid_name_required"


def test_private_channel_is_invisible_to_non_members(a, b):
    priv = channel(a, private=True)
    ts = a.chat_postMessage(channel=priv, text="psst")["ts"]
    for call, kwargs in [
        (b.conversations_info, {}),
        (b.conversations_history, {}),
        (b.conversations_members, {}),
        (b.conversations_join, {}),
        (b.conversations_replies, {"ts": ts}),
        (b.chat_postMessage, {"text": "hi"}),
        (b.reactions_add, {"timestamp": ts, "name": "eyes"}),
        (b.reactions_get, {"timestamp": ts}),
    ]:
        assert error(call, channel=priv, **kwargs) == "channel_not_found", call
    listed = [
        c["id"]
        for p in pages(b.conversations_list(types="public_channel,private_channel"))
        for c in p["channels"]
    ]
    assert priv not in listed


def test_channel_not_found_for_garbage_ids(a):
    for bad in ["", "C", "nope", "CZZZZZZZZZZZZZZ", "U123"]:
        assert error(a.conversations_info, channel=bad) == "channel_not_found"


def test_join_leave_and_membership(a, b, bob):
    ch = channel(a)
    assert error(b.chat_postMessage, channel=ch, text="hi") == "not_in_channel"
    assert b.conversations_join(channel=ch)["channel"]["is_member"] is True
    assert b.conversations_join(channel=ch)["already_in_channel"] is True
    b.chat_postMessage(channel=ch, text="hi")
    assert bob.user_id in a.conversations_members(channel=ch)["members"]
    b.conversations_leave(channel=ch)
    assert b.conversations_leave(channel=ch)["not_in_channel"] is True
    assert bob.user_id not in a.conversations_members(channel=ch)["members"]


def test_invite(a, b, alice, bob):
    priv = channel(a, private=True)
    assert error(a.conversations_invite, channel=priv, users="UNOPE") == "user_not_found"
    assert error(a.conversations_invite, channel=priv, users=alice.user_id) == "cant_invite_self"
    assert error(b.conversations_invite, channel=priv, users=bob.user_id) == "channel_not_found"
    a.conversations_invite(channel=priv, users=bob.user_id)
    assert error(a.conversations_invite, channel=priv, users=bob.user_id) == "already_in_channel"
    assert b.conversations_info(channel=priv)["channel"]["is_member"] is True


def test_list_paginates_every_channel_once(a):
    made = {channel(a) for _ in range(7)}
    seen = [c["id"] for page in pages(a.conversations_list(limit=3)) for c in page["channels"]]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_members_paginates(server, a):
    ch = channel(a)
    others = [server.user(f"member-{i}") for i in range(5)]
    a.conversations_invite(channel=ch, users=",".join(o.user_id for o in others))
    seen = [
        m for page in pages(a.conversations_members(channel=ch, limit=2)) for m in page["members"]
    ]
    assert len(seen) == 6 and len(set(seen)) == 6


def test_archived_channel_refuses_posts(a):
    ch = channel(a)
    a.conversations_archive(channel=ch)
    assert error(a.chat_postMessage, channel=ch, text="x") == "is_archived"
    assert error(a.conversations_archive, channel=ch) == "already_archived"
    a.conversations_unarchive(channel=ch)
    a.chat_postMessage(channel=ch, text="back")


def test_bad_cursor_and_limit(a):
    ch = channel(a)
    assert error(a.conversations_history, channel=ch, cursor="garbage!") == "invalid_cursor"
    other = a.conversations_list(limit=1)["response_metadata"]["next_cursor"]
    assert other and error(a.conversations_history, channel=ch, cursor=other) == "invalid_cursor"
    assert error(a.conversations_history, channel=ch, limit=-1) == "invalid_limit"
    assert error(a.conversations_history, channel=ch, latest="soon") == "invalid_ts_latest"


# -- messages ---------------------------------------------------------------------------------


def test_post_returns_the_stored_message(a, alice):
    ch = channel(a)
    resp = a.chat_postMessage(channel=ch, text="Hello team!")
    m = resp["message"]
    assert resp["channel"] == ch and resp["ts"] == m["ts"]
    assert m["text"] == "Hello team!" and m["user"] == alice.user_id and m["seq"] == 1


def test_post_validates_text(a):
    ch = channel(a)
    assert error(a.chat_postMessage, channel=ch, text="") == "no_text"
    assert error(a.chat_postMessage, channel=ch, text="   ") == "no_text"
    assert error(a.chat_postMessage, channel=ch, text="x" * 40_001) == "msg_too_long"
    a.chat_postMessage(channel=ch, text="x" * 40_000)
    assert error(a.chat_postMessage, channel="CNOPE", text="hi") == "channel_not_found"
    history = a.conversations_history(channel=ch)["messages"]
    assert len(history) == 1  # nothing half-written by the refused sends


def test_seq_is_gap_free_and_ts_increases_under_concurrency(a):
    ch = channel(a)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: a.chat_postMessage(channel=ch, text=f"m{i}"), range(120)))
    msgs = [m for p in pages(a.conversations_history(channel=ch, limit=50)) for m in p["messages"]]
    assert sorted(m["seq"] for m in msgs) == list(range(1, 121))
    by_seq = sorted(msgs, key=lambda m: m["seq"])
    stamps = [m["ts"] for m in by_seq]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 120


def test_client_msg_id_makes_a_retry_idempotent(a):
    ch = channel(a)
    first = a.chat_postMessage(channel=ch, text="once", client_msg_id="abc-123")
    again = a.chat_postMessage(channel=ch, text="once", client_msg_id="abc-123")
    assert again["ts"] == first["ts"]
    other = a.chat_postMessage(channel=ch, text="twice", client_msg_id="abc-124")
    assert other["ts"] != first["ts"]
    assert len(a.conversations_history(channel=ch)["messages"]) == 2


def test_threads_and_broadcast(a, b, bob):
    ch = channel(a, members=[bob.user_id])
    parent = a.chat_postMessage(channel=ch, text="parent")["ts"]
    r1 = b.chat_postMessage(channel=ch, text="reply 1", thread_ts=parent)["message"]
    assert r1["thread_ts"] == parent
    b.chat_postMessage(channel=ch, text="reply 2", thread_ts=r1["ts"])  # reply to a reply
    a.chat_postMessage(channel=ch, text="also here", thread_ts=parent, reply_broadcast=True)
    replies = a.conversations_replies(channel=ch, ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["parent", "reply 1", "reply 2", "also here"]
    assert replies[0]["reply_count"] == 3 and set(replies[0]["reply_users"]) == {
        bob.user_id,
        replies[0]["user"],
    }
    top = [m["text"] for m in a.conversations_history(channel=ch)["messages"]]
    assert top == ["also here", "parent"]
    assert (
        error(a.chat_postMessage, channel=ch, text="x", thread_ts="1.000001") == "thread_not_found"
    )
    assert error(a.conversations_replies, channel=ch, ts="1.000001") == "thread_not_found"


def test_replies_paginate(a):
    ch = channel(a)
    parent = a.chat_postMessage(channel=ch, text="p")["ts"]
    for i in range(7):
        a.chat_postMessage(channel=ch, text=f"r{i}", thread_ts=parent)
    got = pages(a.conversations_replies(channel=ch, ts=parent, limit=3))
    texts = [m["text"] for page in got for m in page["messages"] if m["ts"] != parent]
    assert texts == [f"r{i}" for i in range(7)]
    assert all(page["messages"][0]["ts"] == parent for page in got)


def test_history_pages_newest_first_with_cursor(a):
    ch = channel(a)
    stamps = [a.chat_postMessage(channel=ch, text=f"m{i}")["ts"] for i in range(25)]
    got = pages(a.conversations_history(channel=ch, limit=10))
    assert [len(p["messages"]) for p in got] == [10, 10, 5]
    assert [p["has_more"] for p in got] == [True, True, False]
    seen = [m["ts"] for p in got for m in p["messages"]]
    assert seen == list(reversed(stamps))


def test_history_oldest_latest_inclusive(a):
    ch = channel(a)
    s = [a.chat_postMessage(channel=ch, text=f"m{i}")["ts"] for i in range(5)]

    def got(**kw):
        return [m["ts"] for m in a.conversations_history(channel=ch, **kw)["messages"]]

    assert got(oldest=s[1], latest=s[3]) == [s[2]]
    assert got(oldest=s[1], latest=s[3], inclusive=True) == [s[3], s[2], s[1]]
    assert got(oldest=s[3]) == [s[4]]
    assert got(latest=s[1]) == [s[0]]


def test_update_is_owner_only_and_supports_a_version_precondition(a, b, bob):
    ch = channel(a, members=[bob.user_id])
    ts = a.chat_postMessage(channel=ch, text="v0")["ts"]
    assert error(b.chat_update, channel=ch, ts=ts, text="hijack") == "cant_update_message"
    r1 = a.chat_update(channel=ch, ts=ts, text="v1")
    assert r1["text"] == "v1" and r1["message"]["edit_version"] == 1
    assert r1["message"]["edited"]["user"]
    with pytest.raises(SlackApiError) as stale:
        a.chat_update(channel=ch, ts=ts, text="v2", edit_version=0)
    assert stale.value.response.status_code == 200
    assert stale.value.response.data == {"ok": False, "error": "edit_conflict", "version": 1}
    a.chat_update(channel=ch, ts=ts, text="v2", edit_version=1)
    assert a.conversations_history(channel=ch)["messages"][0]["text"] == "v2"
    assert error(a.chat_update, channel=ch, ts="1.000001", text="x") == "message_not_found"
    assert error(a.chat_update, channel=ch, ts=ts, text="") == "no_text"


def test_delete_is_owner_only(a, b, bob):
    ch = channel(a, members=[bob.user_id])
    keep = a.chat_postMessage(channel=ch, text="keep")["ts"]
    gone = a.chat_postMessage(channel=ch, text="gone")["ts"]
    assert error(b.chat_delete, channel=ch, ts=gone) == "cant_delete_message"
    assert a.chat_delete(channel=ch, ts=gone)["ts"] == gone
    assert [m["ts"] for m in a.conversations_history(channel=ch)["messages"]] == [keep]
    assert error(a.chat_delete, channel=ch, ts=gone) == "message_not_found"
    nxt = a.chat_postMessage(channel=ch, text="next")["message"]
    assert nxt["seq"] == 3  # a deleted message keeps its seq; no gap, no reuse


def test_a_deleted_thread_parent_stays_as_a_tombstone_while_it_has_replies(a, b, bob):
    ch = channel(a, members=[bob.user_id])
    parent = a.chat_postMessage(channel=ch, text="secret parent")["ts"]
    reply = b.chat_postMessage(channel=ch, text="a reply", thread_ts=parent)["ts"]
    a.reactions_add(channel=ch, timestamp=parent, name="eyes")
    a.chat_delete(channel=ch, ts=parent)
    [stone] = b.conversations_history(channel=ch)["messages"]
    assert stone["ts"] == parent and stone["subtype"] == "tombstone" and stone["hidden"]
    assert stone["text"] == "This message was deleted." and stone["reply_count"] == 1
    assert "secret" not in str(stone) and "reactions" not in stone and stone["seq"] == 1
    thread = b.conversations_replies(channel=ch, ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["This message was deleted.", "a reply"]
    assert error(a.chat_update, channel=ch, ts=parent, text="back") == "message_not_found"
    b.chat_delete(channel=ch, ts=reply)  # the last reply gone: so is the tombstone
    assert b.conversations_history(channel=ch)["messages"] == []


# -- reactions ---------------------------------------------------------------------------------


def test_reactions(a, b, alice, bob):
    ch = channel(a, members=[bob.user_id])
    ts = a.chat_postMessage(channel=ch, text="react to me")["ts"]
    a.reactions_add(channel=ch, timestamp=ts, name="thumbsup")
    b.reactions_add(channel=ch, timestamp=ts, name=":thumbsup:")
    b.reactions_add(channel=ch, timestamp=ts, name="eyes")
    assert error(a.reactions_add, channel=ch, timestamp=ts, name="thumbsup") == "already_reacted"
    got = a.reactions_get(channel=ch, timestamp=ts)["message"]["reactions"]
    assert got == [
        {"name": "thumbsup", "users": [alice.user_id, bob.user_id], "count": 2},
        {"name": "eyes", "users": [bob.user_id], "count": 1},
    ]
    b.reactions_remove(channel=ch, timestamp=ts, name="eyes")
    assert error(b.reactions_remove, channel=ch, timestamp=ts, name="eyes") == "no_reaction"
    assert error(a.reactions_add, channel=ch, timestamp=ts, name="no spaces") == "invalid_name"
    assert error(a.reactions_add, channel=ch, timestamp="1.000001", name="x") == "message_not_found"
    history = a.conversations_history(channel=ch)["messages"][0]
    assert history["reactions"] == [
        {"name": "thumbsup", "users": [alice.user_id, bob.user_id], "count": 2}
    ]


def test_reactions_list_shows_what_someone_reacted_to_where_the_caller_may_look(server):
    """Newest reaction first, each message once, in pages; not a deleted message; of
    another person's, only in conversations the caller can see."""
    carol, dave = server.user("rl-carol"), server.user("rl-dave")
    c, d = server.client(carol.token), server.client(dave.token)
    public = channel(c, members=[dave.user_id])
    private = channel(c, private=True)
    ts = {
        name: c.chat_postMessage(channel=where, text=name)["ts"]
        for name, where in [("m1", public), ("m2", private), ("m3", public), ("m4", public)]
    }
    where = {"m1": public, "m2": private, "m3": public, "m4": public}
    for name, emoji in [("m1", "a"), ("m2", "b"), ("m3", "c"), ("m4", "e"), ("m1", "d")]:
        c.reactions_add(channel=where[name], timestamp=ts[name], name=emoji)
    d.reactions_add(channel=public, timestamp=ts["m4"], name="zzz")  # someone else's
    c.chat_delete(channel=public, ts=ts["m4"])

    def listed(client, **args) -> list[str]:
        return [
            item["message"]["text"]
            for page in client.reactions_list(limit=2, **args)
            for item in page["items"]
        ]

    assert listed(c) == ["m1", "m3", "m2"]
    first = c.reactions_list()["items"][0]
    assert first["type"] == "message" and first["channel"] == public
    assert [r["name"] for r in first["message"]["reactions"]] == ["a", "d"]
    assert listed(d, user=carol.user_id) == ["m1", "m3"]  # not the private one
    assert error(d.reactions_list, user="UNOBODY") == "user_not_found"
    assert error(c.reactions_list, cursor="bm9wZQ") == "invalid_cursor"


def test_blocks_and_attachments_are_stored_returned_and_delivered(server, a, bob):
    """slack_sdk sends blocks as JSON; they come back on every read, in the RTM event,
    after an edit that leaves them out, and go away with empty arrays or a delete."""
    import asyncio

    from tests.helpers import WsClient

    ch = channel(a, members=[bob.user_id])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*deploy* done"}}]
    attachments = [{"color": "good", "text": "all green"}]
    url = server.client(bob.token).rtm_connect()["url"]

    async def watch() -> dict:
        ws = await WsClient.open(url)
        try:
            await ws.next(type="hello")
            posted.set_result(None)
            return await ws.next(type="message", channel=ch)
        finally:
            ws.close()

    async def run() -> tuple[dict, dict]:
        global posted
        loop = asyncio.get_running_loop()
        posted = loop.create_future()
        task = asyncio.create_task(watch())
        await posted
        sent = await loop.run_in_executor(
            None,
            lambda: a.chat_postMessage(channel=ch, blocks=blocks, attachments=attachments),
        )
        return sent, await task

    sent, event = asyncio.run(run())
    assert sent["message"]["text"] == "" and sent["message"]["blocks"] == blocks
    assert event["blocks"] == blocks and event["attachments"] == attachments
    (stored,) = a.conversations_history(channel=ch, limit=1)["messages"]
    assert stored["blocks"] == blocks and stored["attachments"] == attachments
    edited = a.chat_update(channel=ch, ts=sent["ts"], text="fallback")["message"]
    assert edited["blocks"] == blocks and edited["text"] == "fallback"  # kept
    cleared = a.chat_update(channel=ch, ts=sent["ts"], text="plain", blocks=[])["message"]
    assert "blocks" not in cleared and cleared["attachments"] == attachments
    assert error(a.chat_postMessage, channel=ch, blocks=[{"text": "typeless"}]) == "invalid_blocks"
    assert error(a.chat_postMessage, channel=ch, attachments=[{}] * 101) == "too_many_attachments"
    assert error(a.chat_postMessage, channel=ch) == "no_text"
    a.chat_delete(channel=ch, ts=sent["ts"])
    assert all("attachments" not in m for m in a.conversations_history(channel=ch)["messages"])


def test_a_reply_does_not_strip_the_parents_reactions_from_its_event(server, a, bob):
    """The parent's message_changed after a reply carries the parent whole (reactions too)."""
    import asyncio

    from tests.helpers import WsClient

    ch = channel(a, members=[bob.user_id])
    ts = a.chat_postMessage(channel=ch, text="parent")["ts"]
    a.reactions_add(channel=ch, timestamp=ts, name="eyes")
    url = server.client(bob.token).rtm_connect()["url"]

    async def go() -> dict:
        ws = await WsClient.open(url)
        try:
            await ws.next(type="hello")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                None, lambda: a.chat_postMessage(channel=ch, text="child", thread_ts=ts)
            )
            return await ws.next(type="message", subtype="message_changed", channel=ch)
        finally:
            ws.close()

    changed = asyncio.run(go())["message"]
    assert changed["ts"] == ts and changed["reply_count"] == 1
    assert changed["reactions"] == [
        {"name": "eyes", "users": [a.auth_test()["user_id"]], "count": 1}
    ]


def test_me_message_and_bots_info(server, alice):
    web = server.client(alice.token)
    channel = web.conversations_create(name=f"me-{next(_names)}")["channel"]["id"]
    ts = web.chat_meMessage(channel=channel, text="waves")["ts"]
    (m,) = web.conversations_history(channel=channel)["messages"]
    assert (m["ts"], m["subtype"], m["text"]) == (ts, "me_message", "waves")
    assert m["user"] == alice.user_id
    assert error(web.chat_meMessage, channel=channel, text="") == "no_text"
    bot = server.user(f"infobot{next(_names)}", bot=True)
    info = web.bots_info(bot=bot.bot_id)["bot"]
    assert (info["id"], info["user_id"], info["deleted"]) == (bot.bot_id, bot.user_id, False)
    assert error(web.bots_info, bot="B0NOBODY") == "bot_not_found"


def test_a_bots_post_may_show_another_name_and_icon(server, a, alice):
    """``username`` and ``icon_emoji``/``icon_url`` (Slack's ``chat:write.customize``): a
    bot's post keeps them (history, the answer, a push's sender); a person's token, or a
    bot's without the scope, has them ignored; a bad one is refused, nothing written."""
    bot = server.user("customizer", bot=True)
    plain_bot = server.user("plainbot", bot=True, scopes="chat:write,channels:read")
    ch = channel(a, members=[bot.user_id, plain_bot.user_id])
    web = server.client(bot.token)
    posted = web.chat_postMessage(
        channel=ch, text="deployed", username="Deploy Bot", icon_emoji=":rocket:"
    )["message"]
    assert (posted["username"], posted["icons"]) == ("Deploy Bot", {"emoji": ":rocket:"})
    assert posted["bot_id"] == bot.bot_id
    web.chat_postMessage(channel=ch, text="by url", icon_url="https://example.com/ci.png")
    server.client(plain_bot.token).chat_postMessage(channel=ch, text="plain", username="Boss")
    a.chat_postMessage(channel=ch, text="mine", username="Deploy Bot")
    history = {m["text"]: m for m in a.conversations_history(channel=ch)["messages"]}
    assert history["deployed"]["username"] == "Deploy Bot"
    assert history["by url"]["icons"] == {"image_48": "https://example.com/ci.png"}
    assert "username" not in history["plain"] and "username" not in history["mine"]
    for bad in ({"icon_emoji": "rocket"}, {"icon_url": "file:///etc/passwd"}):
        assert error_of(web.chat_postMessage, channel=ch, text="x", **bad) == "invalid_arguments"
    assert error_of(web.chat_postMessage, channel=ch, username="only a name") == "no_text"
    texts = [m["text"] for m in a.conversations_history(channel=ch)["messages"]]
    assert "x" not in texts and "" not in texts
