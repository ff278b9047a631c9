"""Logs (``parley.logs``): JSON lines, and a request id that follows a message from the
Web API through the event log to the gateway; no token or message text in them."""

from __future__ import annotations

import io
import json
import logging

from slack_sdk import WebClient
from websockets.sync.client import connect

from parley.logs import REQUEST_ID, JsonFormatter, request_id


def test_request_ids_and_the_json_format():
    assert request_id("trace-me.42:x") == "trace-me.42:x"
    for bad in (None, "", "has space", "x" * 65, "new\nline"):
        made = request_id(bad)
        assert made != bad and len(made) == 16
    record = logging.LogRecord("parley.x", logging.WARNING, "f.py", 1, "odd %s", ("thing",), None)
    record.channel = "C1"
    token = REQUEST_ID.set("rid-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["msg"] == "odd thing" and line["level"] == "warning"
    assert line["rid"] == "rid-1" and line["channel"] == "C1" and line["logger"] == "parley.x"


def test_a_request_id_follows_a_message_to_the_gateway(server):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        alice, bob = server.user("logs-alice"), server.user("logs-bob")
        web = WebClient(
            token=alice.token,
            base_url=f"{server.url}/api/",
            headers={"X-Request-Id": "trace-me-42"},
        )
        room = web.conversations_create(name="logged")["channel"]["id"]
        web.conversations_invite(channel=room, users=bob.user_id)
        with connect(server.client(bob.token).rtm_connect()["url"]) as ws:
            assert '"hello"' in ws.recv(timeout=10)
            posted = web.chat_postMessage(channel=room, text="a secret in the text")
            assert posted.headers.get("x-request-id") == "trace-me-42"
            while json.loads(ws.recv(timeout=10)).get("type") != "message":
                pass
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    traced = [x for x in lines if x.get("rid") == "trace-me-42"]
    assert any(x["msg"] == "api call" and x["method"] == "chat.postMessage" for x in traced)
    handed = [x for x in traced if x["msg"] == "message handed out"]
    assert handed and handed[0]["channel"] == room and handed[0]["connections"] == 1
    ours = json.dumps([x for x in lines if x["logger"].startswith("parley")])
    assert "a secret in the text" not in ours and alice.token not in ours  # slack_sdk's may
