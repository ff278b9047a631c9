"""Message metadata through ``slack_sdk``: ``chat.postMessage``'s ``metadata`` is kept
with the message and shown with it; a Bolt app in the channel hears
``message_metadata_posted``; bad metadata is refused with Slack's errors."""

from __future__ import annotations

import json

from slack_bolt import App
from slack_sdk import WebClient

from tests.helpers import bolt_over_socket_mode, error_of
from tests.subscriber import wait_for

DEPLOYED = {"event_type": "deploy_finished", "event_payload": {"service": "api", "ok": True}}


def test_metadata_is_kept_with_the_message_and_heard_by_apps(server):
    person = server.user("meta-person")
    poster = server.user("meta-poster", bot=True)
    listener = server.user("meta-listener", bot=True, app_token=True)
    web = server.client(person.token)
    room = web.conversations_create(name="meta-room")["channel"]["id"]
    web.conversations_invite(channel=room, users=f"{poster.user_id},{listener.user_id}")
    app = App(client=WebClient(token=listener.token, base_url=f"{server.url}/api/"))
    heard: list[dict] = []
    app.event("message_metadata_posted")(lambda event: heard.append(event))
    app.event("message")(lambda: None)
    poster_web = server.client(poster.token)
    with bolt_over_socket_mode(app, listener.app_token):
        posted = poster_web.chat_postMessage(channel=room, text="deployed", metadata=DEPLOYED)
        assert posted["message"]["metadata"] == DEPLOYED
        wait_for(lambda: heard, 10, "message_metadata_posted")
    [event] = heard
    assert event["metadata"] == DEPLOYED and event["message_ts"] == posted["ts"]
    assert (event["channel_id"], event["bot_id"]) == (room, poster.bot_id)
    assert event["app_id"] == "A" + poster.bot_id[1:] and event["user_id"] == poster.user_id
    [kept] = web.conversations_history(channel=room, limit=1, include_all_metadata=True)["messages"]
    assert kept["metadata"] == DEPLOYED and kept["text"] == "deployed"
    # an edit may change it; metadata alone is no content
    edited = {"event_type": "deploy_rolled_back", "event_payload": {}}
    poster_web.chat_update(channel=room, ts=posted["ts"], text="rolled back", metadata=edited)
    assert web.conversations_history(channel=room, limit=1)["messages"][0]["metadata"] == edited
    assert error_of(poster_web.chat_postMessage, channel=room, metadata=DEPLOYED) == "no_text"
    call = poster_web.api_call
    for metadata, code in (
        ("not json", "invalid_metadata_format"),
        ("[1]", "invalid_metadata_format"),
        ('{"event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "a b", "event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "x", "event_payload": []}', "invalid_metadata_schema"),
        (json.dumps({"event_type": "x", "event_payload": {"k": "v" * 9000}}), "metadata_too_large"),
    ):
        sent = {"channel": room, "text": "x", "metadata": metadata}
        assert error_of(call, "chat.postMessage", data=sent) == code, metadata
