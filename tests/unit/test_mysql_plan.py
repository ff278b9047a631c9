"""The MySQL backend's pure parts: what a batch of writes does (``storage.mysql.plan``)
and database URLs (``storage.mysql.urls``), without a server."""

from __future__ import annotations

import pytest

from parley.errors import ApiError, ConfigError
from parley.storage.models import Message, PostRequest
from parley.storage.mysql import plan as p
from parley.storage.mysql.urls import parse, redact, topology


def req(i: int, channel: str = "C1", **kw) -> PostRequest:
    kw.setdefault("user", "U1")
    return PostRequest(id=i, channel=channel, team="T1", bot_id=None, text=f"m{i}", **kw)


def stored(seq: int, ts: int, channel: str = "C1", **kw) -> Message:
    kw.setdefault("user", "U1")
    return Message(
        id=seq, channel=channel, team="T1", seq=seq, ts=ts, bot_id=None, text=f"m{seq}", **kw
    )


class Ticks:
    """A clock that advances 1 µs per read, from a start that may be in the past."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        self.now += 1
        return self.now


def test_posts_continue_each_tail_in_queue_order_and_ts_never_goes_back():
    loaded = p.Loaded(tails={"C1": (7, 5_000)})
    done = p.plan(
        [p.Post(req(1)), p.Post(req(2, "C2")), p.Post(req(3))], loaded, Ticks(1_000)
    )  # the clock is behind the tail
    got = [(v.message.channel, v.message.seq, v.message.ts) for _ok, v in done.results]
    assert got == [("C1", 8, 5_001), ("C2", 1, 1_002), ("C1", 9, 5_002)]
    assert done.tails == {"C1": (9, 5_002), "C2": (1, 1_002)}
    assert [m.seq for m in done.inserts] == [8, 1, 9] and not done.rewrites


def test_a_repeated_client_msg_id_returns_the_original_and_writes_nothing():
    original = stored(3, 30, client_msg_id="x")
    loaded = p.Loaded(tails={"C1": (3, 30)}, client_ids={("C1", "U1", "x"): original})
    done = p.plan(
        [
            p.Post(req(1, client_msg_id="x")),
            p.Post(req(2, client_msg_id="y")),
            p.Post(req(3, client_msg_id="y")),
        ],
        loaded,
        Ticks(100),
    )
    a, b, c = (v for _ok, v in done.results)
    assert a.duplicate and a.message is original
    assert not b.duplicate and c.duplicate and c.message == b.message
    assert [m.id for m in done.inserts] == [2]


def test_an_op_that_refuses_changes_nothing_and_the_others_apply():
    parent = stored(1, 10)
    loaded = p.Loaded(tails={"C1": (1, 10)}, messages={("C1", 10): parent})
    ops = [
        p.Post(req(2, thread_ts=99)),  # no such thread
        p.Update("C1", 10, "U2", "x", None),  # not U2's
        p.Update("C1", 10, "U1", "v1", 0),
        p.Update("C1", 10, "U1", "v1 again", 0),  # stale version
        p.React("C1", 10, "U2", "tada", True),
        p.React("C1", 10, "U2", "tada", True),  # twice
        p.React("C1", 10, "U2", "tada", False),
        p.React("C1", 10, "U2", "tada", False),  # none left
    ]
    done = p.plan(ops, loaded, Ticks(100))
    codes = [v.code if not ok else "ok" for ok, v in done.results]
    assert codes == [
        "thread_not_found",
        "cant_update_message",
        "ok",
        "edit_conflict",
        "ok",
        "already_reacted",
        "ok",
        "no_reaction",
    ]
    assert not done.inserts and not done.tails  # the refused post took no seq
    assert [(m.text, m.version) for m in done.rewrites] == [("v1", 1)]
    assert not done.reactions_added and not done.reactions_removed  # added, then removed
    assert isinstance(done.results[3][1], ApiError) and done.results[3][1].data == {"version": 1}


def test_replies_join_the_parents_thread_and_deletes_update_the_count():
    parent = stored(1, 10, reply_count=1, reply_users=("U2",), latest_reply=20)
    reply = stored(2, 20, user="U2", thread_ts=10)
    ops = [p.Post(req(3, thread_ts=20)), p.Delete("C1", 20, "U2")]
    first = {("C1", 20): reply}
    assert p.followups(ops, first) == (("C1", 10),)  # the parent is loaded in a second step
    loaded = p.Loaded(
        tails={"C1": (2, 20)},
        messages={**first, ("C1", 10): parent},
        reactions={("C1", 20): [("eyes", "U1", 5)]},
    )
    done = p.plan(ops, loaded, Ticks(100))
    posted, deleted = (v for _ok, v in done.results)
    assert posted.message.thread_ts == 10 and posted.parent.reply_count == 2
    assert posted.parent.reply_users == ("U2", "U1") and posted.parent.latest_reply == 101
    assert deleted == reply  # as it was
    by_ts = {m.ts: m for m in done.rewrites}
    assert by_ts[10].reply_count == 1 and by_ts[20].deleted and by_ts[20].text == ""
    assert done.reactions_removed == [("C1", 20, "eyes", "U1")]


def test_reactions_show_grouped_in_order_of_first_use():
    marks = [("b", "U2", 3), ("a", "U1", 1), ("b", "U1", 2), ("a", "U3", 4)]
    shown = [(r.name, r.users) for r in p.reactions_of(marks)]
    assert shown == [("a", ("U1", "U3")), ("b", ("U1", "U2"))]


def test_needs_are_sorted_for_a_stable_lock_order():
    ops = [
        p.Post(req(1, "C2", client_msg_id="x")),
        p.React("C1", 5, "U1", "a", True),
        p.Post(req(2, "C1", thread_ts=3)),
    ]
    need = p.needs(ops)
    assert need.channels == ("C1", "C2")
    assert need.client_ids == (("C2", "U1", "x"),)
    assert need.keys == (("C1", 3), ("C1", 5))


def test_urls_parse_redact_and_default():
    u = parse("mysql://app:s%40cret@db.example:3307/parley_s0", "X")
    assert (u.user, u.password, u.host, u.port, u.database) == (
        "app",
        "s@cret",
        "db.example",
        3307,
        "parley_s0",
    )
    assert u.redacted() == "mysql://app@db.example:3307/parley_s0"
    assert parse("mariadb://root@[::1]/d", "X").redacted() == "mysql://root@[::1]:3306/d"
    assert redact("mysql://app:hunter2@h/d") == "mysql://app:***@h/d"
    for bad, why in (
        ("mysql://root@h/", "database name"),
        ("mysql://root@h/a;DROP", "database name"),
        ("mysql://root@h/a?ssl=1", "no options"),
        ("mysql:///a", "no host"),
    ):
        with pytest.raises(ConfigError, match=why):
            parse(bad, "X")


def test_topology_aligns_replicas_and_defaults_the_directory():
    topo = topology(("mysql://r@a/s0", "mysql://r@b/s1"), "", ("mysql://r@ra/s0",))
    assert topo.directory == topo.shards[0]
    assert [r and r.host for r in topo.replicas] == ["ra", None]
    topo = topology(("mysql://r@a/s0",), "mysql://r@d/dir", ())
    assert topo.directory.database == "dir" and topo.replicas == (None,)
