"""Scopes, auth.revoke and rate limits against a real server, through slack_sdk."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from parley.pipeline import scopes
from tests.app.test_cli import parley


def call(client: WebClient, method: str, **args) -> dict:
    """The raw answer of ``method`` (errors included) as a dict, with the HTTP status."""
    try:
        resp = client.api_call(method, json=args)
    except SlackApiError as exc:
        resp = exc.response
    return {"status": resp.status_code, "headers": resp.headers, **resp.data}


def header(answer: dict, name: str) -> str:
    value = answer["headers"][name]
    return value[0] if isinstance(value, list) else value


# arguments that get past argument checks to the point where the scope matters
ARGS = {
    "chat.postMessage": {"channel": "CXXXXXXXX", "text": "hi"},
    "chat.update": {"channel": "CXXXXXXXX", "ts": "1.000001", "text": "x"},
    "chat.delete": {"channel": "CXXXXXXXX", "ts": "1.000001"},
    "conversations.create": {"name": "scoped"},
    "conversations.open": {"users": "UXXXXXXXX"},
    "reactions.add": {"channel": "CXXXXXXXX", "timestamp": "1.000001", "name": "tada"},
    "reactions.remove": {"channel": "CXXXXXXXX", "timestamp": "1.000001", "name": "tada"},
    "reactions.get": {"channel": "CXXXXXXXX", "timestamp": "1.000001"},
    "users.info": {"user": "UXXXXXXXX"},
    "admin.dlq.info": {"step": "push", "item": "nothing"},
    "admin.dlq.replay": {"step": "push", "all": True},
    "admin.dlq.purge": {"step": "push", "items": "nothing"},
}


# where the scope allows the method only for private channels
ARGS_FOR_SCOPE = {
    ("conversations.list", "groups:read"): {"types": "private_channel"},
    ("conversations.list", "im:read"): {"types": "im"},
    ("conversations.list", "mpim:read"): {"types": "mpim"},
    ("conversations.open", "mpim:write"): {"users": "UXXXXXXXX,UYYYYYYYY"},
    ("conversations.create", "groups:write"): {"name": "scoped-private", "is_private": True},
    ("users.conversations", "groups:read"): {"types": "private_channel"},
    ("users.conversations", "im:read"): {"types": "im"},
    ("users.conversations", "mpim:read"): {"types": "mpim"},
}


@pytest.mark.parametrize("method", sorted(scopes.METHODS))
def test_scope_matrix(server, method):
    """Every method: without any of its scopes, missing_scope naming what is needed and
    what the token has; with exactly one of them, never missing_scope."""
    needed = scopes.METHODS[method]
    others = sorted(scopes.ALL - set(needed))[:2]
    tag = method.replace(".", "-").lower()
    without = server.user(f"no-{tag}", scopes=",".join(others))
    out = call(server.client(without.token), method, **ARGS.get(method, {}))
    assert out["ok"] is False and out["error"] == "missing_scope", out
    assert out["needed"] == ",".join(needed)
    assert out["provided"] == ",".join(others)
    for scope in needed:
        with_one = server.user(f"with-{tag}-{scope.replace(':', '-')}", scopes=scope)
        args = ARGS_FOR_SCOPE.get((method, scope), ARGS.get(method, {}))
        out = call(server.client(with_one.token), method, **args)
        assert out.get("error") != "missing_scope", (scope, out)


def test_methods_without_scopes_and_an_empty_scope_list(server):
    bare = server.user("bare", scopes="")
    client = server.client(bare.token)
    assert client.auth_test()["scopes"] == ""
    assert call(client, "conversations.list")["error"] == "missing_scope"


def test_default_scopes_for_people_and_bots(server):
    person, bot = server.user("scoped-person"), server.user("scoped-bot", bot=True)
    # an operator's scope and an app-level token's are never defaults, nor a person's
    # the apps' scopes of links on their domains (a person's token belongs to no app),
    # nor Sign in with Slack's (granted to an app by the person signing in to it)
    people = scopes.ALL - scopes.ADMIN - {"connections:write", "links:read", "links:write"}
    people -= {"openid", "email", "profile"}
    assert server.client(person.token).auth_test()["scopes"] == scopes.encode(people)
    assert server.client(bot.token).auth_test()["scopes"] == scopes.encode(scopes.DEFAULT_BOT)


def test_unknown_scopes_are_refused_at_creation(tmp_path):
    code, err = parley(
        "user", "create", "x", "--scopes", "chat:write,admin", "--data-dir", str(tmp_path)
    )
    assert code == 1 and "admin" in err["error"]
    code, ok = parley(
        "user",
        "create",
        "y",
        "--scopes",
        "channels:read,channels:history",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 0 and ok["token"].startswith("xoxp-")


def test_auth_revoke_takes_effect_at_once(server):
    creds = server.user("revoker")
    client = server.client(creds.token)
    assert client.auth_test()["ok"]
    assert client.api_call("auth.revoke", params={"test": "true"})["revoked"] is False
    assert client.auth_test()["ok"]  # test=true revoked nothing
    assert client.auth_revoke()["revoked"] is True
    out = call(client, "auth.test")
    assert out["ok"] is False and out["error"] == "token_revoked"
    assert call(client, "auth.revoke")["error"] == "token_revoked"
    # another token of the same user keeps working
    other = server.client(server.user("revoker2").token)
    assert other.auth_test()["ok"]


def test_over_the_limit_429_with_retry_after_and_nothing_written(server):
    limited = server.user("limited", rate_limit=None)  # the defaults: bursts of 10, then 1/s
    client = server.client(limited.token)
    channel = client.conversations_create(name="limits")["channel"]["id"]
    answers = [call(client, "chat.postMessage", channel=channel, text=f"m{i}") for i in range(14)]
    ok = [a for a in answers if a["ok"]]
    refused = [a for a in answers if not a["ok"]]
    assert len(ok) >= 10 and refused, [a.get("error") for a in answers]
    for a in refused:
        assert a["status"] == 429 and a["error"] == "ratelimited"
        assert set(a) == {"status", "headers", "ok", "error"}  # body: ok and error only
        assert int(header(a, "retry-after")) >= 1
    history = client.conversations_history(channel=channel, limit=100)["messages"]
    assert len(history) == len(ok)  # nothing of a refused send was written


def test_slack_sdk_retry_handler_backs_off_and_succeeds(server):
    """A real slack_sdk client with its RateLimitErrorRetryHandler posts 13 messages in a
    row on the default limits: the last ones wait for Retry-After and go through."""
    creds = server.user("patient", rate_limit=None)
    client = WebClient(
        token=creds.token,
        base_url=f"{server.url}/api/",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=5)],
    )
    channel = client.conversations_create(name="patience")["channel"]["id"]
    started = time.monotonic()
    for i in range(13):
        assert client.chat_postMessage(channel=channel, text=f"p{i}")["ok"]
    assert time.monotonic() - started >= 1.0  # it had to wait at least once
    texts = [m["text"] for m in client.conversations_history(channel=channel)["messages"]]
    assert texts == [f"p{i}" for i in reversed(range(13))]  # each once, none lost


def test_private_channels_need_the_groups_scopes(server):
    owner = server.client(server.user("kind-owner").token)
    public = owner.conversations_create(name="kind-public")["channel"]["id"]
    private = owner.conversations_create(name="kind-private", is_private=True)["channel"]["id"]
    public_only = server.user(
        "kind-public-only",
        scopes="channels:read,channels:history,channels:write,channels:join,chat:write",
    )
    client = server.client(public_only.token)
    client.conversations_join(channel=public)
    owner.conversations_invite(channel=private, users=public_only.user_id)
    assert client.conversations_history(channel=public)["ok"]
    assert client.conversations_info(channel=public)["ok"]
    for method, args in (
        ("conversations.history", {"channel": private}),
        ("conversations.info", {"channel": private}),
        ("conversations.members", {"channel": private}),
        ("conversations.list", {"types": "private_channel"}),
        ("conversations.create", {"name": "kind-new", "is_private": True}),
        ("conversations.leave", {"channel": private}),
    ):
        out = call(client, method, **args)
        assert out["error"] == "missing_scope", (method, out)
        assert out["needed"].startswith("groups:"), (method, out)
    # a member posts to the private channel with chat:write alone, as in Slack
    assert client.chat_postMessage(channel=private, text="hi")["ok"]
    # and a non-member still learns nothing: channel_not_found before any scope check
    stranger = server.client(server.user("kind-stranger", scopes="channels:read").token)
    assert call(stranger, "conversations.info", channel=private)["error"] == "channel_not_found"


def test_the_websocket_send_needs_chat_write(server):
    import asyncio

    from tests.helpers import WsClient

    owner = server.client(server.user("ws-owner").token)
    channel = owner.conversations_create(name="ws-scoped")["channel"]["id"]
    reader = server.user("ws-reader", scopes="rtm:stream,channels:read,channels:join")
    server.client(reader.token).conversations_join(channel=channel)
    url = server.client(reader.token).rtm_connect()["url"]

    async def go() -> dict:
        ws = await WsClient.open(url)
        try:
            await ws.next(type="hello")
            ws.send({"id": 1, "type": "message", "channel": channel, "text": "no"})
            return await ws.next(reply_to=1)
        finally:
            ws.close()

    reply = asyncio.run(go())
    assert reply["ok"] is False and reply["error"]["code"] == "missing_scope"
    texts = [m["text"] for m in owner.conversations_history(channel=channel)["messages"]]
    assert "no" not in texts  # nothing was written


def test_a_websocket_send_over_the_limit_is_refused_with_a_retry_hint(server):
    import asyncio

    from tests.helpers import WsClient

    creds = server.user("ws-limited", rate_limit=None)  # bursts of 10, then 1/s
    client = server.client(creds.token)
    channel = client.conversations_create(name="ws-limits")["channel"]["id"]
    url = client.rtm_connect()["url"]

    async def go() -> list[dict]:
        ws = await WsClient.open(url)
        try:
            await ws.next(type="hello")
            for i in range(1, 14):
                ws.send({"id": i, "type": "message", "channel": channel, "text": f"w{i}"})
            return [await ws.next(reply_to=i) for i in range(1, 14)]
        finally:
            ws.close()

    replies = asyncio.run(go())
    acked = [r for r in replies if r["ok"]]
    refused = [r for r in replies if not r["ok"]]
    assert len(acked) >= 10 and refused
    for r in refused:
        assert r["error"]["code"] == "ratelimited" and r["error"]["retry_after"] >= 1
    history = client.conversations_history(channel=channel)["messages"]
    assert len([m for m in history if m["text"].startswith("w")]) == len(acked)


def test_no_token_or_ticket_reaches_the_logs(server, caplog):
    import asyncio
    import logging

    from tests.helpers import WsClient

    caplog.set_level(logging.DEBUG)
    creds = server.user("logged")
    client = server.client(creds.token)
    client.auth_test()
    call(server.client(creds.token + "x"), "auth.test")  # a wrong one, too
    call(client, "chat.postMessage", channel="C0NOPE", text="x")
    url = client.rtm_connect()["url"]

    async def go() -> None:
        ws = await WsClient.open(url)
        await ws.next(type="hello")
        ws.send({"id": 1, "type": "message", "channel": "C0NOPE", "text": "x"})
        await ws.next(reply_to=1)
        ws.close()

    asyncio.run(go())
    ticket = url.split("ticket=")[1]
    # the server's records (the clients in this process log their own requests)
    server_log = "\n".join(
        r.getMessage()
        for r in caplog.records
        if not r.name.startswith(("slack_sdk", "picows.client", "tests"))
    )
    assert server_log  # the server did log (connections, ...)
    assert creds.token not in server_log and creds.token[5:] not in server_log
    assert ticket not in server_log
