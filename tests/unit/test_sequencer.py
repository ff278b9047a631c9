"""The gateway's per-channel reorder stage: pure, with a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.bus.interface import Event
from parley.gateway.sequencer import Sequencer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def msg(seq: int, channel: str = "C1") -> Event:
    return Event("message", channel, "T1", seq, seq, b"{}")


def edit(seq: int, channel: str = "C1") -> Event:
    return Event("message_changed", channel, "T1", seq, seq, b"{}")


def seqs(events: list[Event]) -> list[tuple[str, int]]:
    return [(e.type, e.seq) for e in events]


def test_in_order_events_pass_at_once():
    s = Sequencer(0.5, clock=Clock())
    assert seqs(s.push(msg(7))) == [("message", 7)]
    assert seqs(s.push(msg(8))) == [("message", 8)]
    assert seqs(s.push(edit(7))) == [("message_changed", 7)]
    assert s.gaps() == 0


def test_a_swapped_pair_is_put_back_in_order():
    s = Sequencer(0.5, clock=Clock())
    s.push(msg(1))
    assert s.push(msg(3)) == []
    assert seqs(s.push(msg(2))) == [("message", 2), ("message", 3)]
    assert s.gaps() == 0


def test_an_edit_waits_behind_the_messages_that_came_before_it():
    s = Sequencer(0.5, clock=Clock())
    s.push(msg(1))
    s.push(msg(3))
    assert s.push(edit(3)) == []  # the edit of 3 must not overtake 3 (or 2)
    assert seqs(s.push(msg(2))) == [("message", 2), ("message", 3), ("message_changed", 3)]


def test_duplicates_are_dropped():
    s = Sequencer(0.5, clock=Clock())
    s.push(msg(1))
    s.push(msg(2))
    assert s.push(msg(2)) == []
    assert s.push(msg(1)) == []


def test_a_gap_open_past_the_window_is_due_and_filled_from_the_store():
    clock = Clock()
    s = Sequencer(0.5, clock=clock)
    s.push(msg(1))
    s.push(msg(4))
    assert s.due() == []
    clock.now += 0.5
    assert s.due() == [("C1", 1, 2)]  # read 2 messages after seq 1
    assert seqs(s.fill("C1", [msg(2), msg(3)])) == [("message", 2), ("message", 3), ("message", 4)]
    assert s.due() == [] and s.gaps() == 0
    assert s.push(msg(3)) == []  # the late original of a filled message is not sent twice


def test_a_partial_fill_restarts_the_window():
    clock = Clock()
    s = Sequencer(0.5, clock=clock)
    s.push(msg(1))
    s.push(msg(4))
    clock.now += 1
    assert seqs(s.fill("C1", [msg(2)])) == [("message", 2)]
    assert s.due() == []
    clock.now += 0.5
    assert s.due() == [("C1", 2, 1)]


def test_a_message_older_than_the_first_one_seen_is_late_not_lost():
    s = Sequencer(0.5, clock=Clock())
    s.push(msg(6))
    assert seqs(s.push(msg(5))) == [("message", 5)]


def test_a_channel_started_at_its_stored_tail_orders_its_first_messages():
    """Two nodes race a channel's first messages past a gateway that just began to read
    its partition: started at the store's last seq, the channel comes out in order."""
    s = Sequencer(0.5, clock=Clock())
    s.expect("C1", 4)
    assert s.knows("C1")
    assert s.push(msg(6)) == []
    assert seqs(s.push(msg(5))) == [("message", 5), ("message", 6)]
    s.expect("C1", 0)  # known: unchanged
    assert seqs(s.push(msg(7))) == [("message", 7)]
    assert s.push(msg(6)) == []  # released already: a redelivery


def test_the_stored_tail_still_on_its_way_to_the_log_is_released_not_dropped():
    """The store's last message was committed, and read as the channel's start, before
    its writer published it: when it comes on the log it is news to this gateway (a
    joiner's replay may have missed it; its replay floor drops it if not)."""
    s = Sequencer(0.5, clock=Clock())
    s.expect("C1", 4)
    assert seqs(s.push(msg(4))) == [("message", 4)]
    assert seqs(s.push(msg(3))) == [("message", 3)]
    assert seqs(s.push(msg(5))) == [("message", 5)]
    assert s.gaps() == 0


def test_forgotten_channels_start_afresh():
    s = Sequencer(0.5, clock=Clock())
    s.push(msg(1, "A"))
    s.push(msg(3, "A"))  # a gap in A
    s.push(msg(1, "B"))
    s.forget(lambda channel: channel == "A")
    assert not s.knows("A") and s.knows("B") and s.gaps() == 0 and s.due() == []
    assert seqs(s.push(msg(9, "A"))) == [("message", 9)]


def test_channels_are_independent_and_forgetting_spares_open_gaps():
    s = Sequencer(0.5, max_channels=2, clock=Clock())
    s.push(msg(1, "A"))
    s.push(msg(3, "A"))  # gap in A
    s.push(msg(1, "B"))
    s.push(msg(1, "C"))  # over the bound: B goes, A (gap open) stays
    assert seqs(s.push(msg(2, "A"))) == [("message", 2), ("message", 3)]


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(1, 30)), st.integers(0, 28))
def test_any_arrival_order_comes_out_in_seq_order_once(order, lost):
    """Whatever order the publishers' events arrive in, and with one publish lost (filled
    from the store once due), every message comes out once, in seq order."""
    clock = Clock()
    s = Sequencer(0.5, clock=clock)
    out = s.push(msg(0))
    for seq in order:
        if seq != order[lost]:
            out += s.push(msg(seq))
    clock.now += 1
    for channel, after, missing in s.due():
        out += s.fill(channel, [msg(q) for q in range(after + 1, after + 1 + missing)])
    if order[lost] == 29:  # nothing came after it: no gap to see until the next message
        out += s.push(msg(29))
    assert [e.seq for e in out] == list(range(30))


def test_the_republisher_asks_for_what_the_store_has_and_the_log_lacks():
    """The worker's core: a tail ahead of what the log carried, older than the grace,
    is to be published again; a channel first seen in the store counts as complete."""
    from parley.worker.republish import Carried

    c = Carried()
    c.saw("message", "C1", 5)
    c.saw("message_changed", "C1", 9)  # not a new message: does not advance
    tails = [("C1", 7, 1_000), ("C2", 3, 1_000), ("C3", 4, 5_000)]
    c.saw("message", "C3", 2)
    assert c.missing(tails, before_ts=2_000) == [("C1", 5, 2)]  # C3 is too recent yet
    assert c.missing(tails, before_ts=9_000) == [("C1", 5, 2), ("C3", 2, 2)]
    c.saw("message", "C1", 7)
    assert c.missing([("C2", 3, 1_000)], before_ts=9_000) == []


def test_a_gap_the_store_never_fills_holds_a_bounded_number_of_events():
    s = Sequencer(0.5, max_held=3, clock=Clock())
    s.push(msg(1))
    assert [s.push(msg(q)) for q in (3, 4, 5)] == [[], [], []]
    assert [e.seq for e in s.push(msg(6))] == [3, 4, 5, 6]  # 2 is given up on
    assert s.gaps() == 0
