"""Direct messages through ``slack_sdk``: ``conversations.open``, the IM's shape, who can
see it, live delivery over the WebSocket, and what cannot be done to one; the same for
group direct messages (``mpim``). The same checks run on MariaDB's directory in
``tests/integration/test_mysql_search.py``."""

from __future__ import annotations

import json
import time

from websockets.sync.client import connect

from tests.app.test_dnd import error_of
from tests.app.test_search import wait_total
from tests.helpers import RunningServer


def _next_message(ws, channel: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame.get("type") == "message" and frame.get("channel") == channel:
            return frame


def check_dms(srv: RunningServer, tag: str) -> None:
    people = {n: srv.user(f"dm-{n}-{tag}") for n in ("alice", "bob", "carol")}
    web = {n: srv.client(u.token) for n, u in people.items()}
    ids = {n: u.user_id for n, u in people.items()}
    alice, bob, carol = web["alice"], web["bob"], web["carol"]

    with connect(bob.rtm_connect()["url"]) as bob_ws:  # online before the DM exists
        assert '"hello"' in bob_ws.recv(timeout=10)
        opened = alice.conversations_open(users=ids["bob"], return_im=True)
        dm = opened["channel"]
        assert dm["id"].startswith("D") and dm["is_im"] is True and dm["user"] == ids["bob"]
        assert "already_open" not in opened
        again = bob.conversations_open(users=[ids["alice"]])  # the same one, either side
        assert again["channel"]["id"] == dm["id"] and again["already_open"] is True
        assert bob.conversations_info(channel=dm["id"])["channel"]["user"] == ids["alice"]
        posted = alice.chat_postMessage(channel=dm["id"], text="psst, bob")
        live = _next_message(bob_ws, dm["id"])
        assert live["text"] == "psst, bob" and live["ts"] == posted["ts"]
    history = bob.conversations_history(channel=dm["id"])["messages"]
    assert [m["text"] for m in history] == ["psst, bob"]
    found = wait_total(alice, f"psst from:<@{ids['alice']}>", 1)["matches"]
    assert [(m["channel"]["id"], m["channel"]["is_im"]) for m in found] == [(dm["id"], True)]
    assert wait_total(bob, "psst", 1)["total"] == 1
    assert carol.search_messages(query="psst")["messages"]["total"] == 0  # not theirs

    # nobody else sees it, and it looks like nothing at all to them
    for call, kwargs in (
        (carol.conversations_info, {}),
        (carol.conversations_history, {}),
        (carol.conversations_members, {}),
        (carol.chat_postMessage, {"text": "let me in"}),
    ):
        assert error_of(call, channel=dm["id"], **kwargs) == "channel_not_found"
    assert error_of(carol.conversations_open, channel=dm["id"]) == "channel_not_found"

    # listed as the caller's ims only
    ims = alice.conversations_list(types="im")["channels"]
    assert [(c["id"], c["user"]) for c in ims] == [(dm["id"], ids["bob"])]
    assert dm["id"] not in str(alice.conversations_list(types="public_channel,private_channel"))
    assert carol.conversations_list(types="im")["channels"] == []

    # what cannot be done to a direct message
    unsupported = "method_not_supported_for_channel_type"
    assert error_of(bob.conversations_leave, channel=dm["id"]) == unsupported
    assert error_of(bob.conversations_join, channel=dm["id"]) == unsupported
    assert error_of(alice.conversations_invite, channel=dm["id"], users=ids["carol"]) == (
        unsupported
    )
    assert error_of(alice.conversations_archive, channel=dm["id"]) == unsupported
    general = alice.conversations_create(name=f"dm-general-{tag}")["channel"]["id"]
    assert error_of(alice.conversations_open, channel=general) == unsupported

    # bad arguments
    assert error_of(alice.api_call, "conversations.open") == "users_list_not_supplied"
    assert error_of(alice.conversations_open, users="UNOBODY00") == "user_not_found"

    # a note to self
    own = carol.conversations_open(users=ids["carol"], return_im=True)["channel"]
    assert own["user"] == ids["carol"] and own["id"] != dm["id"]
    carol.chat_postMessage(channel=own["id"], text="remember the milk")

    # chat.postMessage to a user id: the direct message with them, opened if need be
    to_bob = alice.chat_postMessage(channel=ids["bob"], text="by your id")
    assert to_bob["channel"] == dm["id"]  # the one they already share
    latest = bob.conversations_history(channel=dm["id"], limit=1)["messages"]
    assert latest[0]["text"] == "by your id"
    fresh = carol.chat_postMessage(channel=ids["bob"], text="hello, stranger")
    assert fresh["channel"].startswith("D") and fresh["channel"] != dm["id"]
    assert bob.conversations_open(users=ids["carol"])["channel"]["id"] == fresh["channel"]
    assert error_of(alice.chat_postMessage, channel="UNOBODY00", text="x") == ("channel_not_found")

    # a token without the im scopes
    narrow = srv.client(srv.user(f"dm-narrow-{tag}", scopes="chat:write,channels:read").token)
    assert error_of(narrow.conversations_open, users=ids["alice"]) == "missing_scope"


def check_group_dms(srv: RunningServer, tag: str) -> None:
    names = ("ann", "ben", "cy", "dee")
    people = {n: srv.user(f"g-{n}-{tag}") for n in names}
    web = {n: srv.client(u.token) for n, u in people.items()}
    ids = {n: u.user_id for n, u in people.items()}
    ann, ben, cy, dee = (web[n] for n in names)
    trio = [ids["ben"], ids["cy"]]

    with connect(cy.rtm_connect()["url"]) as cy_ws:  # online before the group exists
        assert '"hello"' in cy_ws.recv(timeout=10)
        opened = ann.conversations_open(users=trio, return_im=True)
        group = opened["channel"]
        assert group["id"].startswith("G") and "already_open" not in opened
        assert (group["is_mpim"], group["is_private"], group["is_im"]) == (True, True, False)
        assert group["name"] == f"mpdm-g-ann-{tag}--g-ben-{tag}--g-cy-{tag}-1"
        # the same three, in any order and from any of them, find the same one
        again = cy.conversations_open(users=[ids["ben"], ids["ann"], ids["cy"], ids["ben"]])
        assert again["channel"]["id"] == group["id"] and again["already_open"] is True
        assert ben.conversations_open(channel=group["id"])["channel"]["is_mpim"] is True
        members = ben.conversations_members(channel=group["id"])["members"]
        assert sorted(members) == sorted([ids["ann"], *trio])
        posted = ann.chat_postMessage(channel=group["id"], text="picnic, you two?")
        live = _next_message(cy_ws, group["id"])
        assert live["text"] == "picnic, you two?" and live["ts"] == posted["ts"]
    ben.chat_postMessage(channel=group["id"], text="sure")
    history = cy.conversations_history(channel=group["id"])["messages"]
    assert [m["text"] for m in history] == ["sure", "picnic, you two?"]
    found = wait_total(cy, "picnic", 1)["matches"]
    assert [(m["channel"]["id"], m["channel"]["is_mpim"]) for m in found] == [(group["id"], True)]
    assert dee.search_messages(query="picnic")["messages"]["total"] == 0

    # another set of people is another group; a pair is a direct message
    four = ann.conversations_open(users=[*trio, ids["dee"]])["channel"]["id"]
    assert four.startswith("G") and four != group["id"]
    assert ann.conversations_open(users=ids["ben"])["channel"]["id"].startswith("D")

    # nobody outside sees it, and it looks like nothing at all to them
    for call, kwargs in (
        (dee.conversations_info, {}),
        (dee.conversations_history, {}),
        (dee.conversations_members, {}),
        (dee.chat_postMessage, {"text": "let me in"}),
        (dee.conversations_open, {}),
    ):
        assert error_of(call, channel=group["id"], **kwargs) == "channel_not_found"

    # listed as the members' mpims only, with their kinds apart
    listed = ben.conversations_list(types="mpim")["channels"]
    assert sorted((c["id"], c["is_mpim"]) for c in listed) == sorted(
        [(group["id"], True), (four, True)]
    )
    assert [c["id"] for c in dee.conversations_list(types="mpim")["channels"]] == [four]
    for kinds in ("im", "public_channel,private_channel"):
        assert group["id"] not in str(ben.conversations_list(types=kinds))
    of_cy = ann.users_conversations(user=ids["cy"], types="mpim")["channels"]
    assert sorted(c["id"] for c in of_cy) == sorted([group["id"], four])
    shared = dee.users_conversations(user=ids["cy"], types="mpim")["channels"]
    assert [c["id"] for c in shared] == [four]  # not the one dee is not in

    # its members are fixed; its topic may change
    unsupported = "method_not_supported_for_channel_type"
    for call, kwargs in (
        (ben.conversations_leave, {}),
        (ann.conversations_join, {}),
        (ann.conversations_invite, {"users": ids["dee"]}),
        (ann.conversations_kick, {"user": ids["ben"]}),
        (ann.conversations_archive, {}),
        (ann.conversations_rename, {"name": "lunch-club"}),
    ):
        assert error_of(call, channel=group["id"], **kwargs) == unsupported
    assert error_of(dee.conversations_join, channel=group["id"]) == "channel_not_found"
    topic = ben.conversations_setTopic(channel=group["id"], topic="lunch")["channel"]
    assert topic["topic"]["value"] == "lunch" and topic["is_mpim"] is True

    # a read mark is the reader's own (mpim_marked), and what is unread is counted
    with connect(cy.rtm_connect()["url"]) as cy_ws, connect(ann.rtm_connect()["url"]) as ann_ws:
        assert '"hello"' in cy_ws.recv(timeout=10) and '"hello"' in ann_ws.recv(timeout=10)
        cy.conversations_mark(channel=group["id"], ts=posted["ts"])
        frame = json.loads(cy_ws.recv(timeout=5))
        assert (frame["type"], frame["unread_count"]) == ("mpim_marked", 2)  # sure, topic
        ben.chat_postMessage(channel=group["id"], text="noon?")
        assert _next_message(ann_ws, group["id"])["text"] == "noon?"  # not cy's mark first

    # bad arguments
    many = [srv.user(f"g-many{i}-{tag}").user_id for i in range(9)]
    assert error_of(ann.conversations_open, users=",".join(many)) == "too_many_users"
    assert len(ann.conversations_open(users=many[:8])["channel"]["id"]) > 1  # 9 in all
    missing = f"{ids['ben']},UNOBODY00"
    assert error_of(ann.conversations_open, users=missing) == "user_not_found"
    narrow = srv.client(srv.user(f"g-narrow-{tag}", scopes="chat:write,im:write").token)
    assert error_of(narrow.conversations_open, users=trio) == "missing_scope"
    assert error_of(ben.conversations_list, types="mpim,nonsense") == "invalid_types"


def _frame(ws, kind: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame.get("type") == kind:
            return frame


def check_closing(srv: RunningServer, tag: str) -> None:
    """``conversations.close``: a person hides a direct or group direct message from
    their own list until they open it again or a message comes; their connections hear
    ``im_close`` and ``im_open``; nobody else's view changes."""
    people = {n: srv.user(f"close-{n}-{tag}") for n in ("alice", "bob", "carol")}
    web = {n: srv.client(u.token) for n, u in people.items()}
    ids = {n: u.user_id for n, u in people.items()}
    alice, bob, carol = web["alice"], web["bob"], web["carol"]
    dm = alice.conversations_open(users=ids["bob"])["channel"]["id"]
    group = alice.conversations_open(users=[ids["bob"], ids["carol"]])["channel"]["id"]
    alice.chat_postMessage(channel=dm, text="hello bob")

    def is_open(client, channel: str, **kw) -> bool:
        listed = client.conversations_list(types="im,mpim", **kw)["channels"]
        [found] = [c for c in listed if c["id"] == channel]
        return found["is_open"]

    with connect(bob.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        assert bob.conversations_close(channel=dm).data == {"ok": True}
        closed = _frame(ws, "im_close")
        assert (closed["user"], closed["channel"]) == (ids["bob"], dm)
        assert is_open(bob, dm) is False and is_open(alice, dm) is True
        assert bob.conversations_info(channel=dm)["channel"]["is_open"] is False
        mine = bob.users_conversations(types="im")["channels"]
        assert [c["is_open"] for c in mine if c["id"] == dm] == [False]
        theirs = alice.users_conversations(user=ids["bob"], types="im")["channels"]
        assert [c["is_open"] for c in theirs if c["id"] == dm] == [True]  # bob's own to know
        again = bob.conversations_close(channel=dm)
        assert (again["no_op"], again["already_closed"]) == (True, True)
        # a message opens it again
        alice.chat_postMessage(channel=dm, text="are you there?")
        assert is_open(bob, dm) is True
        assert "no_op" not in bob.conversations_close(channel=dm)
        # and so does opening it
        reopened = bob.conversations_open(channel=dm)
        assert "already_open" not in reopened
        assert (_frame(ws, "im_open")["channel"], is_open(bob, dm)) == (dm, True)
        assert bob.conversations_open(channel=dm)["already_open"] is True
        bob.conversations_close(channel=dm)
        assert "already_open" not in bob.conversations_open(users=ids["alice"])
        # a group direct message too
        bob.conversations_close(channel=group)
        assert _frame(ws, "mpim_close")["channel"] == group
        assert is_open(bob, group) is False and is_open(carol, group) is True
    general = alice.conversations_create(name=f"close-room-{tag}")["channel"]["id"]
    assert error_of(alice.conversations_close, channel=general) == (
        "method_not_supported_for_channel_type"
    )
    assert error_of(carol.conversations_close, channel=dm) == "channel_not_found"


def test_direct_messages(server):
    check_dms(server, "emb")


def test_closing_a_direct_message(server):
    check_closing(server, "emb")


def test_group_direct_messages(server):
    check_group_dms(server, "emb")
