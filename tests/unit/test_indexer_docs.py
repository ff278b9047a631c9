"""The indexer's documents (``parley.search.indexer``): a ``message`` event's document,
built from the event, is the one the store's copy of the message gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from parley.pipeline import events
from parley.search.indexer import documents, posted
from parley.storage.models import Message

ids = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=11)
messages = st.builds(
    Message,
    id=st.integers(1, (1 << 63) - 1),
    channel=ids.map("C".__add__),
    team=ids.map("T".__add__),
    seq=st.integers(1, 1 << 40),
    ts=st.integers(1, 1 << 55),
    user=ids.map("U".__add__),
    bot_id=st.none() | ids.map("B".__add__),
    text=st.text(max_size=200),  # any text: NULs, emoji, "https://" links
    thread_ts=st.none() | st.integers(1, 1 << 55),
    subtype=st.sampled_from([None, "bot_message", "thread_broadcast", "me_message"]),
    edited_ts=st.none() | st.integers(1, 1 << 55),
    deleted=st.booleans(),
    reply_count=st.integers(0, 3),
    rich=st.none() | st.just('{"blocks": [{"type": "divider"}]}'),
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_a_posted_message_is_indexed_from_its_event_as_from_the_store(m):
    docs, removed = documents([m])
    doc = posted(events.message_posted(m))
    if m.deleted:  # its event is a tombstone: the store is asked
        assert doc is None and removed == [(m.channel, m.id)]
    else:
        assert [doc] == docs


@given(messages)
def test_other_events_are_read_back(m):
    live = replace(m, deleted=False)
    assert posted(events.message_changed(live)) is None
    assert posted(events.message_deleted(live, live.ts)) is None
    assert posted(replace(events.message_posted(live), message_id=0)) is None
