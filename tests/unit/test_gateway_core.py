"""The gateway's pure parts: tickets, the session protocol and the fan-out hub."""

from __future__ import annotations

import asyncio

import orjson
from hypothesis import given
from hypothesis import strategies as st

from parley.bus.interface import JOIN_NOTICE, Event
from parley.gateway import protocol
from parley.gateway.hub import Hub
from parley.gateway.tickets import TicketBook
from parley.storage.models import User

USER = User("U1", "T1", "alice", "Alice", False, None, None, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_tickets_are_single_use_and_expire():
    clock = FakeClock()
    book = TicketBook(ttl=30, clock=clock)
    ticket = asyncio.run(book.issue(USER, {"C1": 4}))
    assert book.holder(ticket) == USER.id  # what the gateway answers the upgrade from
    grant = asyncio.run(book.redeem(ticket))
    assert grant.user == USER and grant.resume == {"C1": 4}
    assert asyncio.run(book.redeem(ticket)) is None and book.holder(ticket) is None
    late = asyncio.run(book.issue(USER))
    clock.now += 30
    assert book.holder(late) is None and asyncio.run(book.redeem(late)) is None
    assert book.holder("made-up") is None and asyncio.run(book.redeem("made-up")) is None


def test_outstanding_tickets_are_bounded():
    book = TicketBook(ttl=30, max_outstanding=3, clock=FakeClock())
    tickets = [asyncio.run(book.issue(USER)) for _ in range(5)]
    redeemed = [asyncio.run(book.redeem(t)) is not None for t in tickets]
    assert redeemed == [False, False, True, True, True]


def test_protocol_parses_sends_pings_and_typing():
    send = protocol.parse(
        b'{"id": 3, "type": "message", "channel": "C1", "text": "hi", '
        b'"thread_ts": "1.000002", "client_msg_id": "x"}',
        max_text=100,
    )
    assert send == protocol.Send(3, "C1", "hi", 1_000_002, "x", False)
    pong = protocol.parse(b'{"id": 4, "type": "ping", "time": 5}', max_text=100)
    assert orjson.loads(pong.data) == {"type": "pong", "reply_to": 4, "time": 5}
    assert protocol.parse(b'{"type": "typing", "channel": "C1"}', max_text=100) == protocol.Typing(
        "C1"
    )


def test_protocol_answers_bad_frames_with_errors():
    def error(frame: bytes) -> dict:
        reply = protocol.parse(frame, max_text=5)
        assert isinstance(reply, protocol.Reply)
        return orjson.loads(reply.data)

    assert error(b"nope")["error"]["code"] == "invalid_json"
    assert error(b"[1]")["error"]["code"] == "invalid_json"
    assert error(b'{"id": 1, "type": "dance"}') == {
        "ok": False,
        "reply_to": 1,
        "error": {"code": "unknown_type", "msg": "unsupported frame type 'dance'"},
    }
    assert (
        error(b'{"id": 2, "type": "message", "channel": "C", "text": "toolong"}')["error"]["code"]
        == "msg_too_long"
    )
    assert (
        error(b'{"id": 2, "type": "message", "channel": "C", "text": 5}')["error"]["code"]
        == "invalid_arguments"
    )
    assert (
        error(b'{"id": 2, "type": "message", "channel": "C", "text": "x", "thread_ts": 1}')[
            "error"
        ]["code"]
        == "thread_not_found"
    )
    assert error(b'{"id": [1], "type": "ping"}')["error"]["code"] == "invalid_arguments"


@given(st.binary(max_size=200))
def test_protocol_never_raises(data):
    protocol.parse(data, max_text=40_000)


class Sub:
    def __init__(self, user_id: str, team_id: str = "T1") -> None:
        self.user_id, self.team_id = user_id, team_id
        self.got: list[bytes] = []

    def deliver(self, event: Event) -> None:
        self.got.append(event.payload)

    def joined(self, notice: Event) -> None:  # a connection follows and catches up
        self.hub.follow(self, notice.channel)
        self.got.append(notice.payload)


def ev(kind: str, channel: str, user: str = "", payload: bytes = b"x") -> Event:
    return Event(kind, channel, "T1", 0, 0, payload, user)


def test_hub_delivers_the_same_bytes_to_channel_subscribers_only():
    hub = Hub()
    a, b, c = Sub("U1"), Sub("U2"), Sub("U3")
    hub.add(a, ["C1"])
    hub.add(b, ["C1", "C2"])
    hub.add(c, ["C2"])
    payload = b'{"type":"message"}'
    assert hub.deliver(ev("message", "C1", payload=payload)) == 2
    assert a.got == [payload] and b.got == [payload] and c.got == []
    assert a.got[0] is b.got[0]  # encoded once
    hub.remove(b)
    assert hub.deliver(ev("message", "C2")) == 1 and not hub.online("U2")


def test_hub_follows_membership_changes_and_skips_the_typist():
    hub = Hub()
    a, b = Sub("U1"), Sub("U2")
    a.hub = b.hub = hub
    hub.add(a, ["C1"])
    hub.add(b, [])
    # a join: the members see it from the channel, the joiner from its notice
    assert hub.deliver(ev("member_joined_channel", "C1", user="U2", payload=b"join")) == 1
    assert a.got == [b"join"] and b.got == []
    assert hub.deliver(ev(JOIN_NOTICE, "C1", user="U2", payload=b"join")) == 1
    assert b.got == [b"join"] and a.got == [b"join"]
    other_team = Event(JOIN_NOTICE, "C1", "T2", 0, 0, b"x", "U1")
    assert hub.deliver(other_team) == 0  # a notice never crosses a workspace
    hub.deliver(ev("user_typing", "C1", user="U1", payload=b"typing"))
    assert b.got[-1] == b"typing" and a.got[-1] == b"join"
    hub.deliver(ev("member_left_channel", "C1", user="U2", payload=b"left"))
    assert b.got[-1] == b"left"
    hub.deliver(ev("message", "C1", payload=b"after"))
    assert b.got[-1] == b"left" and a.got[-1] == b"after"


def test_hub_announces_new_public_channels_to_the_team():
    hub = Hub()
    a, other_team = Sub("U1"), Sub("U9", team_id="T2")
    hub.add(a, [])
    hub.add(other_team, [])
    hub.deliver(ev("channel_created", "C5", payload=b"new"))
    assert a.got == [b"new"] and other_team.got == []


def test_parse_resume_accepts_objects_json_and_the_sdk_literal():
    from parley.errors import ApiError
    from parley.gateway.resume import parse_resume

    assert parse_resume({"C1": 4}) == {"C1": 4}
    assert parse_resume('{"C1": 4}') == {"C1": 4}
    assert parse_resume("{'C1': 4}") == {"C1": 4}
    assert parse_resume(None) == {} and parse_resume("") == {}
    for bad in [
        {"C1": -1},
        {"C1": True},
        {"C1": "4"},
        [1],
        "nope",
        "__import__('os')",
        {1: 2},
        "{[1]: 2}",
    ]:
        try:
            parse_resume(bad)
        except ApiError as exc:
            assert exc.code == "invalid_arguments"
        else:
            raise AssertionError(f"accepted {bad!r}")


def test_held_events_are_released_without_what_the_replay_carried():
    from parley.gateway.resume import Floor, Held

    held = Held(limit=4)
    msgs = [Event("message", "C1", "T1", seq, 0, b"") for seq in (5, 6)]
    other = Event("message", "C2", "T1", 1, 0, b"")
    edit = Event("message_changed", "C1", "T1", 3, 0, b"")
    assert all(held.add(e) for e in [*msgs, other, edit])
    assert held.release(Floor({"C1": 5})) == [msgs[1], other, edit]
    assert not held.add(edit)  # past the limit: the caller drops the client


def test_the_floor_drops_live_messages_the_replay_carried_after_it_ended():
    """The consumer can lag the buffer: a replayed message's live event may come later."""
    from parley.gateway.resume import Floor

    floor = Floor({"C1": 7, "C2": 0})
    assert floor  # C2 at 0 replayed nothing: no floor there
    late = [Event("message", "C1", "T1", seq, 0, b"") for seq in (6, 7, 8)]
    assert [floor.admits(e) for e in late] == [False, False, True]
    assert not floor  # caught up: forgotten
    assert floor.admits(Event("message", "C1", "T1", 7, 0, b""))  # no floor any more
    assert Floor({"C1": 7}).admits(Event("message_changed", "C1", "T1", 3, 0, b""))


def test_seq_tracker_drops_duplicates_and_knows_where_to_resume():
    from parley.client import SeqTracker

    t = SeqTracker()
    assert t.admit("C1", 40, new=True)  # the first seen sets the baseline
    assert t.admit("C1", 41, new=True) and not t.admit("C1", 41, new=True)
    assert t.admit("C1", 43, new=True)  # 42 is missing
    assert t.resume_map() == {"C1": 41}
    assert not t.admit("C1", 43, new=True)
    assert t.admit("C1", 42, new=True)  # the gap fills
    assert t.resume_map() == {"C1": 43}
    assert t.admit("C1", 41, new=False)  # edits and deletions of held messages pass


def test_hub_counts_devices_and_names_who_is_offline():
    hub = Hub()
    phone, laptop, other = Sub("U1"), Sub("U1"), Sub("U2")
    hub.add(phone, ["C1"])
    hub.add(laptop, ["C1"])
    hub.add(other, ["C1"])
    assert hub.devices("U1") == 2 and hub.devices("U3") == 0
    hub.remove(other)
    assert hub.offline(["U1", "U2", "U3"]) == ["U2", "U3"]
    hub.remove(phone)
    assert hub.online("U1") and hub.devices("U1") == 1


def test_membership_changes_while_a_snapshot_loads_are_not_lost():
    hub = Hub()
    conn = Sub("U1")
    conn.hub = hub
    hub.add(conn)  # registered; its channels are being loaded
    hub.deliver(ev(JOIN_NOTICE, "C-new", user="U1", payload=b"joined"))
    hub.deliver(ev("member_left_channel", "C-old", user="U1", payload=b"left"))
    hub.follow_snapshot(conn, ["C-old", "C-kept"])  # taken before the leave committed
    for channel in ("C-new", "C-kept", "C-old"):
        hub.deliver(ev("message", channel, payload=channel.encode()))
    assert conn.got[-2:] == [b"C-new", b"C-kept"]  # nothing from the channel it left


def test_presence_sub_parses_ids_and_rejects_bad_ones():
    parsed = protocol.parse(b'{"type": "presence_sub", "ids": ["U1", "U2", "U1"]}', max_text=9)
    assert parsed == protocol.PresenceSub(("U1", "U2"), True)
    query = protocol.parse(b'{"type": "presence_query", "ids": []}', max_text=9)
    assert query == protocol.PresenceSub((), False)
    for bad in (b'{"type": "presence_sub"}', b'{"type": "presence_sub", "ids": [1]}'):
        assert isinstance(protocol.parse(bad, max_text=9), protocol.Reply)


def test_hub_sends_presence_only_to_watchers_of_the_same_team():
    class Sub:
        def __init__(self, user_id, team_id):
            self.user_id, self.team_id, self.got = user_id, team_id, []

        def deliver(self, event):
            self.got.append(event)

    hub = Hub()
    watcher, bystander, foreign = Sub("U1", "T1"), Sub("U2", "T1"), Sub("U3", "T2")
    for sub in (watcher, bystander, foreign):
        hub.add(sub)
    hub.watch_presence(watcher, ["U9"])
    hub.watch_presence(foreign, ["U9"])
    event = Event("presence_change", "T1", "T1", 0, 1, b"{}", "U9")
    assert hub.deliver(event) == 1 and watcher.got == [event]
    assert bystander.got == foreign.got == []
    assert hub.presence("T1", "U1") == "active" and hub.presence("T2", "U1") == "away"
    hub.remove(watcher)
    assert hub.deliver(event) == 0


def test_server_frames_are_final_unmasked_text_frames_of_any_length():
    import struct

    from parley.gateway.frames import text

    assert text(b"hi") == b"\x81\x02hi"
    assert text(b"z", rsv1=True) == b"\xc1\x01z"
    medium = text(b"m" * 200)
    assert medium[:4] == b"\x81\x7e" + struct.pack("!H", 200) and len(medium) == 204
    large = text(b"L" * 70_000)
    assert large[:10] == b"\x81\x7f" + struct.pack("!Q", 70_000) and len(large) == 70_010
    assert text(b"x" * 125)[1] == 125 and text(b"x" * 126)[1] == 126


def test_hub_knows_what_a_connection_follows_now():
    hub = Hub()
    a = Sub("U1")
    hub.add(a)
    hub.follow_snapshot(a, ["C1", "C2"])
    hub.deliver(ev("member_left_channel", "C2", user="U1"))
    assert hub.follows(a, "C1") and not hub.follows(a, "C2")
    hub.remove(a)
    assert not hub.follows(a, "C1")


# -- the frame gate (pure, on a fake clock) -----------------------------------------------------


def test_the_frame_gate_passes_the_burst_then_refuses_then_refills():
    from parley.gateway.bounds import FrameGate, FrameRate, Verdict

    clock = FakeClock()
    gate = FrameGate(FrameRate(rate=50, burst=100, flood=10), clock)
    assert [gate.check() for _ in range(100)] == [Verdict.PASS] * 100
    assert gate.check() == Verdict.REFUSE and gate.wait == 1 / 50
    clock.now += 0.125  # six and a quarter frames' worth
    assert [gate.check() for _ in range(7)] == [Verdict.PASS] * 6 + [Verdict.REFUSE]
    clock.now += 60  # a long pause refills the burst, not more
    assert [gate.check() for _ in range(101)].count(Verdict.PASS) == 100


def test_the_frame_gate_closes_a_flood_but_not_a_client_that_backs_off():
    from parley.gateway.bounds import FrameGate, FrameRate, Verdict

    policy = FrameRate(rate=50, burst=100, flood=10)
    clock = FakeClock()
    gate = FrameGate(policy, clock)
    verdicts = [gate.check() for _ in range(1001)]  # all at once
    assert verdicts[:1000].count(Verdict.CLOSE) == 0 and verdicts[1000] == Verdict.CLOSE

    def sustained(per_second: int, seconds: int) -> set:
        clock, out = FakeClock(), set()
        gate = FrameGate(policy, clock)
        for _ in range(seconds * per_second):
            clock.now += 1 / per_second
            out.add(gate.check())
        return out

    assert sustained(50, 10) == {Verdict.PASS}
    assert sustained(450, 10) == {Verdict.PASS, Verdict.REFUSE}  # refused, never closed
    assert Verdict.CLOSE in sustained(600, 10)


def test_protocol_closes_on_text_that_is_not_utf8_and_answers_refusals():
    assert protocol.parse(b'{"type": "ping", "x": "\xff"}', max_text=10) == protocol.NOT_UTF8
    assert protocol.NOT_UTF8.code == 1007
    assert (
        protocol.parse(b"nope \xc3\xa9", max_text=10) != protocol.NOT_UTF8
    )  # bad JSON, good UTF-8
    assert protocol.reply_id(b'{"id": 4, "type": "x"}') == 4
    assert [protocol.reply_id(d) for d in (b"nope", b"[4]", b'{"id": true}')] == [None] * 3
    assert orjson.loads(protocol.ratelimited(4, 0.02)) == {
        "ok": False,
        "reply_to": 4,
        "error": {"code": "ratelimited", "msg": "ratelimited", "retry_after": 1},
    }
    bare = orjson.loads(protocol.ratelimited(None, 2.5))
    assert bare["type"] == "error" and bare["error"]["retry_after"] == 3
