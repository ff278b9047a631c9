"""The messages someone reacted to (``reactions.list``): the SQL each shard runs and the
merge of the shards' answers. Pure: builds text and sorts, runs nothing.

A message is listed once, at its newest reaction by the person; a page goes on from
the :data:`Mark` of the last one listed, so pages neither skip nor repeat one while
reactions are added.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from itertools import islice

#: ``(added, channel, ts)``: a listed message and when the person's newest reaction to
#: it was added (Unix microseconds); pages go from newest to oldest by this.
Mark = tuple[int, str, int]


def query(mark: str) -> str:
    """One shard's page: ``mark`` is the backend's parameter mark (``?``, ``%s``); the
    parameters are the user, the page's start (three times its parts, see
    :func:`params`) and the limit."""
    return (
        "SELECT added, channel, ts FROM (SELECT MAX(added) AS added, channel, ts "
        f"FROM reactions WHERE user = {mark} GROUP BY channel, ts) r "
        f"WHERE added < {mark} OR (added = {mark} AND (channel < {mark} "
        f"OR (channel = {mark} AND ts < {mark}))) "
        f"ORDER BY added DESC, channel DESC, ts DESC LIMIT {mark}"
    )


def params(user: str, before: Mark | None, limit: int) -> tuple:
    """:func:`query`'s parameters: from the newest when ``before`` is ``None``."""
    added, channel, ts = before or (1 << 62, "", 0)
    return (user, added, added, channel, channel, ts, limit)


def merged(pages: Iterable[list[Mark]], limit: int) -> list[Mark]:
    """The newest ``limit`` of the shards' pages (each newest first)."""
    return list(islice(heapq.merge(*pages, reverse=True), limit))
