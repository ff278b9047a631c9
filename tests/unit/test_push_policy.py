"""Who gets a push, and its preview (``parley.notify.policy``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.notify.policy import mentioned, preview, recipients, subteams
from parley.notify.prefs import Prefs, Snapshot, keywords, muted

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


def test_a_user_group_mentioned_mentions_its_members():
    text = "paging <!subteam^S1|@oncall> and <!subteam^S2>"
    assert subteams(text) == {"S1", "S2"}
    grouped = frozenset({"U1", "U3", "U9"})  # the groups' members, the sender among them
    assert recipients(text, "U9", OFFLINE, grouped=grouped) == {"U1": "mention", "U3": "mention"}
    quiet = {"U1": Prefs(level="nothing")}
    assert recipients(text, "U9", OFFLINE, quiet, grouped=grouped) == {"U3": "mention"}
    assert preview(text) == "paging @oncall and @group"


def test_preferences_decide_who_is_pushed():
    prefs = {
        "U1": Prefs("nothing"),
        "U2": Prefs("all", muted=("C2",)),
        "U3": Prefs("mentions", keywords=keywords(["Release Train", "Über"])),
    }

    def who(text, channel="C1", sender="U9"):
        return recipients(text, sender, OFFLINE, prefs, channel)

    assert "U1" not in who("<@U1> urgent")  # nothing silences even a mention
    assert who("lunch?") == {"U2": "message"}  # all: every message
    assert who("lunch?", channel="C2") == {}  # but not in a muted channel
    assert who("<@U2> here", channel="C2") == {"U2": "mention"}  # a mention still is
    assert who("<!channel> standup", channel="C2") == {"U3": "channel"}
    assert who("the RELEASE\n train leaves") == {"U2": "message", "U3": "keyword"}
    assert who("the release trains leave")["U2"] == "message"
    assert "U3" not in who("the release trains leave")  # whole words only
    assert who("UBER alles").get("U3") == "keyword"  # folded: case and accents
    assert who("Über alles").get("U3") == "keyword"
    assert who("über", sender="U3").get("U3") is None  # never the sender


def test_a_direct_message_pushes_like_a_mention_unless_muted():
    prefs = {"U2": Prefs(muted=("D1",)), "U3": Prefs("nothing")}
    assert recipients("hi", "U9", {"U1"}, {}, "D1", direct=True) == {"U1": "dm"}
    assert recipients("hi", "U1", {"U1"}, {}, "D1", direct=True) == {}  # a note to self
    assert recipients("hi", "U9", {"U2", "U3"}, prefs, "D1", direct=True) == {}


def test_preference_arguments_and_the_snapshot():
    assert keywords([" Release  Train ", "release train", "Über"]) == ("release train", "uber")
    assert keywords(["!!!"]) is None and keywords(["x" * 65]) is None
    assert keywords([str(i) for i in range(51)]) is None
    assert muted(["C123", "G456", "C123"]) == ("C123", "G456")
    assert muted(["general"]) is None
    snap = Snapshot(
        {
            "U1": Prefs("all"),
            "U2": Prefs(keywords=("deploy", "on call")),
            "U3": Prefs("nothing", keywords=("deploy",)),
        }
    )
    assert snap.interested("nothing to see") == {"U1"}
    assert snap.interested("Deploy now, who is on  call?") == {"U1", "U2"}
    assert snap.of(["U2", "U7"]) == {"U2": Prefs(keywords=("deploy", "on call"))}


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
