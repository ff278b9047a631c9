"""Bad input gets a clear Slack-style error: never a 500, never half-written state."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def raw(
    server,
    path: str,
    body: bytes | None = None,
    *,
    token: str | None = None,
    content_type: str = "application/json",
    method: str | None = None,
) -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        f"{server.url}{path}",
        data=body,
        headers=headers,
        method=method or ("POST" if body is not None else "GET"),
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def who(server):
    creds = server.user("fuzzer")
    client = server.client(creds.token)
    ch = client.conversations_create(name="fuzz-target")["channel"]["id"]
    ts = client.chat_postMessage(channel=ch, text="target")["ts"]
    return creds, ch, ts


def test_unknown_method(server, who):
    status, body = raw(server, "/api/chat.nope", b"{}", token=who[0].token)
    assert (status, body["error"]) == (404, "unknown_method")


def test_malformed_json_and_wrong_shapes(server, who):
    token = who[0].token
    assert raw(server, "/api/chat.postMessage", b"{nope", token=token)[1]["error"] == "invalid_json"
    assert (
        raw(server, "/api/chat.postMessage", b"[1, 2]", token=token)[1]["error"] == "invalid_json"
    )
    body = json.dumps({"channel": who[1], "text": {"not": "a string"}}).encode()
    assert (
        raw(server, "/api/chat.postMessage", body, token=token)[1]["error"] == "invalid_arguments"
    )
    body = json.dumps({"channel": who[1], "limit": "many"}).encode()
    assert (
        raw(server, "/api/conversations.history", body, token=token)[1]["error"] == "invalid_limit"
    )


def test_bad_form_bodies(server, who):
    token = who[0].token
    assert (
        raw(
            server,
            "/api/auth.test",
            b"\xff\xfe=\xff",
            token=token,
            content_type="application/x-www-form-urlencoded",
        )[1]["error"]
        == "invalid_form_data"
    )
    assert (
        raw(
            server,
            "/api/auth.test",
            b"--x\r\ngarbage",
            token=token,
            content_type="multipart/form-data; boundary=x",
        )[1]["error"]
        == "invalid_form_data"
    )
    assert (
        raw(server, "/api/auth.test", b"<xml/>", token=token, content_type="application/xml")[1][
            "error"
        ]
        == "invalid_post_type"
    )


def test_write_methods_refuse_get(server, who):
    status, body = raw(
        server, f"/api/chat.postMessage?channel={who[1]}&text=hi&token={who[0].token}"
    )
    assert (status, body["error"]) == (405, "method_not_allowed")


def test_other_verbs_get_405_with_the_verbs_the_method_takes(server, who):
    for path, allow in (("/api/chat.postMessage", "POST"), ("/api/auth.test", "GET, POST")):
        req = urllib.request.Request(f"{server.url}{path}", data=b"{}", method="PUT")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 405 and err.value.headers["allow"] == allow
        assert json.loads(err.value.read())["error"] == "method_not_allowed"


def test_read_methods_accept_get(server, who):
    status, body = raw(server, f"/api/conversations.history?channel={who[1]}&token={who[0].token}")
    assert status == 200 and body["ok"] and body["messages"][0]["text"] == "target"


def test_oversized_body_is_refused(server, who):
    status, body = raw(server, "/api/chat.postMessage", b"x" * (2 << 20), token=who[0].token)
    assert (status, body["error"]) == (413, "request_too_large")


METHODS = [
    "auth.test",
    "users.list",
    "users.info",
    "conversations.create",
    "conversations.list",
    "conversations.info",
    "conversations.join",
    "conversations.leave",
    "conversations.invite",
    "conversations.members",
    "conversations.history",
    "conversations.replies",
    "conversations.archive",
    "conversations.unarchive",
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "reactions.add",
    "reactions.remove",
    "reactions.get",
]
ARG_NAMES = [
    "channel",
    "text",
    "ts",
    "thread_ts",
    "timestamp",
    "name",
    "users",
    "user",
    "cursor",
    "limit",
    "oldest",
    "latest",
    "inclusive",
    "is_private",
    "types",
    "client_msg_id",
    "reply_broadcast",
    "edit_version",
    "exclude_archived",
]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=60),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(METHODS),
    args=st.dictionaries(st.sampled_from(ARG_NAMES), values, max_size=6),
    use_real_ids=st.booleans(),
)
def test_no_input_makes_a_500(server, who, method, args, use_real_ids):
    creds, ch, ts = who
    if use_real_ids:
        args.setdefault("channel", ch)
        args.setdefault("ts", ts)
        args.setdefault("timestamp", ts)
    status, body = raw(server, f"/api/{method}", json.dumps(args).encode(), token=creds.token)
    assert status < 500, body
    assert isinstance(body.get("ok"), bool)
    if not body["ok"]:
        assert isinstance(body["error"], str) and body["error"]


def test_oversized_headers_get_431_and_the_server_keeps_serving(server, who):
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(server.url)
    for headers in (
        b"X-Big: " + b"a" * 100_000 + b"\r\n",  # past max_header (64 KiB)
        b"".join(b"X-H%d: v\r\n" % i for i in range(2000)),  # too many
    ):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(b"POST /api/auth.test HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 431")
    assert server.client(who[0].token).auth_test()["ok"]
