"""Who gets a push, and its preview (``parley.notify.policy``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.notify.policy import mentioned, preview, recipients

OFFLINE = frozenset({"U1", "U2", "U3"})


def test_mentions_and_broadcasts():
    assert mentioned("hi <@U1> and <@U2|bob>, not U3") == {"U1", "U2"}
    assert recipients("hi <@U1>", "U9", OFFLINE) == {"U1": "mention"}
    assert recipients("<!channel> deploy", "U9", OFFLINE) == dict.fromkeys(OFFLINE, "channel")
    assert recipients("<!everyone> and <@U2>", "U9", OFFLINE)["U2"] == "mention"
    assert recipients("<!here> anyone?", "U9", OFFLINE) == {}  # only the active
    assert recipients("<@U4> is online", "U9", OFFLINE) == {}  # not offline
    assert recipients("<!channel> me too <@U1>", "U1", OFFLINE).keys() == {"U2", "U3"}
    assert recipients("plain words", "U9", OFFLINE) == {}


def test_previews_are_readable_and_cut_safely():
    assert preview("hi <@U1|ana>, see <https://x.io|the doc> in <#C1|general> <!here>") == (
        "hi @ana, see the doc in #general @here"
    )
    assert preview("a  \n\n b") == "a b"
    long = "word " * 100
    cut = preview(long, 20)
    assert len(cut) <= 20 and cut.endswith("…")
    accents = "e\u0301" * 30  # e + combining acute
    kept = preview(accents, 11).rstrip("…")
    assert kept and len(kept) % 2 == 0  # whole letters: never an e without its accent


@given(st.text(max_size=400), st.integers(2, 200))
def test_a_preview_never_exceeds_its_limit(text, limit):
    assert len(preview(text, limit)) <= limit
