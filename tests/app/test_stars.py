"""Saving messages for later (``stars.*``, :mod:`parley.api.methods.stars`): through
slack_sdk, a real WebSocket, SQLite (and MariaDB: ``check_stars``)."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from tests.helpers import RunningServer, error_of, frame_of


def test_saving_messages_for_later(server):
    check_stars(server, "emb")


def check_stars(srv: RunningServer, tag: str) -> None:
    """Saved and unsaved, told to the person's own connections; listed as they are now,
    the newest saved first, a page at a time; a deleted message, or one of a private
    channel the person left, left out; nobody else's."""
    ann_u, ben_u = srv.user(f"star-ann-{tag}"), srv.user(f"star-ben-{tag}")
    ann, ben = srv.client(ann_u.token), srv.client(ben_u.token)
    room = ann.conversations_create(name=f"star-room-{tag}")["channel"]["id"]
    secret = ann.conversations_create(name=f"star-secret-{tag}", is_private=True)["channel"]
    ann.conversations_invite(channel=secret["id"], users=ben_u.user_id)
    ben.conversations_join(channel=room)
    posts = [ann.chat_postMessage(channel=room, text=f"note {n}")["ts"] for n in range(3)]
    hidden = ann.chat_postMessage(channel=secret["id"], text="between us")["ts"]
    with connect(ben.rtm_connect()["url"]) as ws, connect(ann.rtm_connect()["url"]) as other:
        assert '"hello"' in ws.recv(timeout=10) and '"hello"' in other.recv(timeout=10)
        for ts in posts:
            assert ben.stars_add(channel=room, timestamp=ts)["ok"]
        added = frame_of(ws, "star_added")
        assert added["user"] == ben_u.user_id and added["item"]["message"]["text"] == "note 0"
        assert error_of(ben.stars_add, channel=room, timestamp=posts[0]) == "already_starred"
        ben.stars_add(channel=secret["id"], timestamp=hidden)
        assert ben.stars_remove(channel=room, timestamp=posts[1])["ok"]
        removed = frame_of(ws, "star_removed")
        assert removed["item"]["message"]["ts"] == posts[1]
        assert error_of(ben.stars_remove, channel=room, timestamp=posts[1]) == "not_starred"
        # ann, who saved nothing, heard nothing: her next frame is her ping's answer
        other.send('{"type": "ping", "id": 3}')
        assert json.loads(other.recv(timeout=10))["type"] == "pong"
    listed = ben.stars_list()["items"]
    assert [(i["channel"], i["message"]["text"]) for i in listed] == [
        (secret["id"], "between us"),
        (room, "note 2"),
        (room, "note 0"),
    ]
    assert all(i["type"] == "message" and i["date_create"] > 0 for i in listed)
    first = ben.stars_list(limit=2)
    cursor = first["response_metadata"]["next_cursor"]
    rest = ben.stars_list(limit=2, cursor=cursor)
    assert [i["message"]["text"] for i in first["items"] + rest["items"]] == [
        "between us",
        "note 2",
        "note 0",
    ]
    assert rest["response_metadata"]["next_cursor"] == ""
    assert error_of(ben.stars_list, cursor="bogus") == "invalid_cursor"
    ben.conversations_leave(channel=secret["id"])  # no longer his to read
    ann.chat_delete(channel=room, ts=posts[2])  # gone
    assert [i["message"]["text"] for i in ben.stars_list()["items"]] == ["note 0"]
    assert ann.stars_list()["items"] == []  # his, not hers
    assert error_of(ben.stars_add, channel=room, timestamp="1.000001") == "message_not_found"
    outsider = srv.client(srv.user(f"star-cy-{tag}").token)
    assert error_of(outsider.stars_add, channel=secret["id"], timestamp=hidden) == (
        "channel_not_found"
    )
    bot = srv.user(f"star-bot-{tag}", bot=True)
    assert error_of(srv.client(bot.token).stars_list) == "missing_scope"  # a person's
