"""What message retention removes from a shard (``MessageStore.expire``): the rule, and
the SQL both backends run for it. Pure: builds text, runs nothing; ``{p}`` is the
backend's placeholder.

The rule, for a channel and a cutoff ``before`` (Unix microseconds):

- A top-level message written before the cutoff goes once its thread, if it has one,
  has had no reply since the cutoff either; its replies go with it. A thread is kept or
  removed whole, so no reply outlives its parent and a thread someone still answers
  keeps its beginning.
- The channel's newest message (its highest ``seq``) is never removed, only emptied
  (deleted, no text, no blocks): a store numbers the channel's next message from it and
  a reader resuming from a ``seq`` compares with it, so removing it could hand a
  ``seq`` out twice. An emptied message shows nowhere, as a deleted one.
- Reactions go with their message.
"""

from __future__ import annotations

import msgspec

#: Threads (and messages without one) wholly before the cutoff, oldest first: ``seq,
#: ts, id, latest_reply``; arguments ``channel, before, before, tail seq, limit``.
THREADS = (
    "SELECT seq, ts, id, latest_reply FROM messages WHERE channel = {p} AND ts < {p} "
    "AND thread_ts IS NULL AND COALESCE(latest_reply, 0) < {p} AND seq < {p} "
    "ORDER BY ts LIMIT {p}"
)
#: A thread's replies but the channel's newest: ``seq, ts, id``; ``channel, thread ts,
#: tail seq``.
REPLIES = "SELECT seq, ts, id FROM messages WHERE channel = {p} AND thread_ts = {p} AND seq < {p}"
#: The channel's newest message if it was written before the cutoff and is not already
#: emptied: ``ts, id``; ``channel, tail seq, before``.
TAIL = "SELECT ts, id FROM messages WHERE channel = {p} AND seq = {p} AND ts < {p} AND deleted = 0"
#: Empties the newest message; ``channel, ts``.
EMPTY = (
    "UPDATE messages SET deleted = 1, text = '', rich = NULL, version = version + 1 "
    "WHERE channel = {p} AND ts = {p}"
)


def delete_messages(n: int, p: str) -> str:
    """Deletes ``n`` messages of a channel by ``ts``; ``channel, ts...``."""
    return f"DELETE FROM messages WHERE channel = {p} AND ts IN ({', '.join([p] * n)})"


def delete_reactions(n: int, p: str) -> str:
    """Deletes the reactions to ``n`` messages of a channel; ``channel, ts...``."""
    return f"DELETE FROM reactions WHERE channel = {p} AND ts IN ({', '.join([p] * n)})"


#: Statements' ``IN`` lists are cut to this many messages.
CHUNK = 500


class Expired(msgspec.Struct, frozen=True):
    """What one :meth:`~parley.storage.interface.MessageStore.expire` call took from a
    channel: ``(ts, id)`` of every message removed or emptied (for the search index),
    and ``more`` when the limit stopped it before the cutoff."""

    messages: tuple[tuple[int, int], ...] = ()
    more: bool = False


def chunks(items: list, size: int = CHUNK) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
