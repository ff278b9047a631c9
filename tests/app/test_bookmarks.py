"""Bookmarks: links at the top of a channel, as Slack's ``bookmarks.*`` (``slack_sdk``'s
``bookmarks_add`` and the rest): added, edited and removed by members, listed by whoever
may see the channel, the channel's connections told at once; bad links, other people's
private channels and too many are refused."""

from __future__ import annotations

import itertools

from websockets.sync.client import connect

from tests.helpers import error_of, frame_of

_n = itertools.count()


def test_a_channels_bookmarks_are_kept_changed_and_told(server):
    tag = next(_n)
    alice, bob = server.user(f"bm{tag}-alice"), server.user(f"bm{tag}-bob")
    a, b = server.client(alice.token), server.client(bob.token)
    ch = a.conversations_create(name=f"bm{tag}")["channel"]["id"]
    a.conversations_invite(channel=ch, users=bob.user_id)
    with connect(b.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        runbook = a.bookmarks_add(
            channel_id=ch, title="Runbook", type="link", link="https://wiki.example/run"
        )["bookmark"]
        assert (runbook["title"], runbook["type"], runbook["id"][:2]) == ("Runbook", "link", "Bk")
        told = frame_of(ws, "bookmark_added")
        assert told["channel_id"] == ch and told["bookmark"]["id"] == runbook["id"]
        board = b.bookmarks_add(
            channel_id=ch, title="Board", type="link", link="http://board.example", emoji=":pin:"
        )["bookmark"]
        frame_of(ws, "bookmark_added")
        edited = b.bookmarks_edit(channel_id=ch, bookmark_id=runbook["id"], title="Run book")
        assert edited["bookmark"]["link"] == "https://wiki.example/run"  # kept
        assert frame_of(ws, "bookmark_changed")["bookmark"]["title"] == "Run book"
        listed = a.bookmarks_list(channel_id=ch)["bookmarks"]
        assert [(x["title"], x["emoji"]) for x in listed] == [
            ("Run book", None),
            ("Board", ":pin:"),
        ]
        a.bookmarks_remove(channel_id=ch, bookmark_id=board["id"])
        assert frame_of(ws, "bookmark_removed")["bookmark"]["id"] == board["id"]
    assert [x["id"] for x in b.bookmarks_list(channel_id=ch)["bookmarks"]] == [runbook["id"]]


def test_bookmarks_are_checked(server):
    tag = next(_n)
    alice, eve = server.user(f"bmc{tag}-alice"), server.user(f"bmc{tag}-eve")
    a, e = server.client(alice.token), server.client(eve.token)
    ch = a.conversations_create(name=f"bmc{tag}")["channel"]["id"]
    secret = a.conversations_create(name=f"bmc{tag}-s", is_private=True)["channel"]["id"]
    a.bookmarks_add(channel_id=secret, title="plans", type="link", link="https://x.example")

    def add(client, channel, **kw) -> str:
        args = {"channel_id": channel, "title": "t", "type": "link", "link": "https://ok.example"}
        return error_of(client.bookmarks_add, **{**args, **kw})

    assert add(a, ch, link="javascript:alert(1)") == "invalid_link"
    assert add(a, ch, link="https://x.example/" + "a" * 2000) == "invalid_link"
    assert add(a, ch, type="folder") == "invalid_bookmark_type"
    assert add(a, ch, title=" ") == "invalid_arguments"
    assert add(a, ch, emoji="pin") == "invalid_arguments"
    # a private channel eve is not in: as if it were not there, to read or to write
    assert add(e, secret) == "channel_not_found"
    assert error_of(e.bookmarks_list, channel_id=secret) == "channel_not_found"
    # a public one she is not in: readable, not hers to change
    assert e.bookmarks_list(channel_id=ch)["bookmarks"] == []
    assert add(e, ch) == "not_in_channel"
    assert error_of(a.bookmarks_remove, channel_id=ch, bookmark_id="BkNOPE") == "not_found"
    kept = a.bookmarks_list(channel_id=secret)["bookmarks"][0]["id"]
    # a bookmark of another channel is not found through this one
    assert error_of(a.bookmarks_remove, channel_id=ch, bookmark_id=kept) == "not_found"
    for i in range(100):
        a.bookmarks_add(channel_id=ch, title=f"n{i}", type="link", link=f"https://e.example/{i}")
    assert add(a, ch) == "too_many_bookmarks"
    assert len(a.bookmarks_list(channel_id=ch)["bookmarks"]) == 100
