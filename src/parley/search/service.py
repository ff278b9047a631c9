"""``search.messages``: a query, the caller's readable channels, the engine's candidates,
and the store's truth; ``search.files``: the same query over the files the caller may
read, their names and titles, in the directory.

Every hit the engine returns is checked before it is shown: the message is read from
the store as it is now (a deleted one is dropped, an edited one must still match the
query in its current text), and the search only ever looks in channels the caller can
read now (the team's public channels and the private ones they are a member of, read
from the directory at each call). So neither an index that lags an edit or a deletion,
nor one that still holds a channel the caller left, can show what they may not read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from parley.errors import ApiError, Code
from parley.ids import format_ts
from parley.search.interface import COUNT_CAP, Scope, SearchIndex
from parley.search.query import Query, has_link, highlight, matches, parse
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import Channel, FileSearch, Message, StoredFile, User

#: ``count`` per page, as Slack bounds it, and the deepest result reachable by paging.
MAX_COUNT = 100
MAX_DEPTH = COUNT_CAP


class Searcher:
    def __init__(
        self,
        index: SearchIndex,
        store: MessageStore,
        directory: Directory,
        *,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
    ) -> None:
        self._index = index
        self._store = store
        self._directory = directory
        self._today = today

    async def readable(self, user: User) -> dict[str, Channel]:
        """The channels, direct messages and group ones ``user`` may read now, by id."""
        out: dict[str, Channel] = {}
        after = ""
        while True:
            page = await self._directory.channels(
                user.team_id,
                user.id,
                public=True,
                private=True,
                exclude_archived=False,
                after=after,
                limit=1000,
                ims=True,
                mpims=True,
            )
            for channel, _members, is_member in page.rows:
                if is_member or not channel.is_private:
                    out[channel.id] = channel
            if not page.has_more or not page.rows:
                return out
            after = page.rows[-1][0].id

    async def _user_ids(self, user: User, refs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
        """``from:`` references as user ids (a name nobody has matches nobody)."""
        ids = [user.id if kind == "me" else value for kind, value in refs if kind != "name"]
        names = {value for kind, value in refs if kind == "name"}
        after = ""
        while names:
            page = await self._directory.users(user.team_id, after, 1000)
            ids += [u.id for u in page.rows if u.name.lower() in names]
            if not page.has_more or not page.rows:
                break
            after = page.rows[-1].id
        return tuple(dict.fromkeys(ids)) or ("",)  # ("",): nobody

    async def search(
        self,
        user: User,
        text: str,
        *,
        by_time: bool,
        ascending: bool,
        offset: int,
        count: int,
    ) -> tuple[Query, int, list[tuple[Message, Channel]]]:
        """The query, the total number of matches, and the page ``[offset, offset+count)``
        of readable, current messages that match, with their channels."""
        query = parse(text, self._today())
        if query.blank:
            raise ApiError(Code.NO_QUERY)
        channels = await self.readable(user)
        if query.channels:
            wanted = {v for k, v in query.channels if k == "id"}
            names = {v for k, v in query.channels if k == "name"}
            channels = {
                cid: c for cid, c in channels.items() if cid in wanted or c.name.lower() in names
            }
        if not channels:
            return query, 0, []
        users = await self._user_ids(user, query.users) if query.users else ()
        scope = Scope(tuple(sorted(channels)), users)
        found = await self._index.search(
            query, scope, by_time=by_time, ascending=ascending, limit=offset + count
        )
        page = found.hits[offset : offset + count]
        current = {
            (m.channel, m.ts): m
            for m in await self._store.messages_at([(h.channel, h.ts) for h in page])
        }
        out = []
        for hit in page:
            m = current.get((hit.channel, hit.ts))
            if m is None or m.deleted or hit.channel not in channels:
                continue
            if (query.terms or query.excluded) and not matches(query, m.text):
                continue  # edited away since it was indexed
            if query.has_link and not has_link(m.text):
                continue
            out.append((m, channels[hit.channel]))
        return query, found.total, out

    async def files(
        self, user: User, text: str, *, ascending: bool, offset: int, count: int
    ) -> tuple[Query, int, list[StoredFile]]:
        """``search.files``: the query, how many of the files ``user`` may read match it,
        and the page ``[offset, offset+count)`` of them, newest first. A file matches
        when each word (or phrase, its words in order) is in its name or title and no
        excluded one is; ``from:`` picks uploaders, ``in:`` the channels it is shared
        in (ones ``user`` may read), the dates when it was uploaded."""
        query = parse(text, self._today())
        if query.blank:
            raise ApiError(Code.NO_QUERY)
        channels = None
        if query.channels:
            wanted = {v for k, v in query.channels if k == "id"}
            names = {v for k, v in query.channels if k == "name"}
            readable = await self.readable(user)
            channels = tuple(
                sorted(c for c, ch in readable.items() if c in wanted or ch.name.lower() in names)
            )
            if not channels:
                return query, 0, []
        search = FileSearch(
            words=tuple(" ".join(term) for term in query.terms),
            excluded=tuple(" ".join(term) for term in query.excluded),
            users=await self._user_ids(user, query.users) if query.users else (),
            channels=channels,
            after_us=query.after_us,
            before_us=query.before_us,
            ascending=ascending,
        )
        total, found = await self._directory.search_files(
            user.team_id, user.id, search, offset, count
        )
        return query, total, found


def match(
    m: Message,
    channel: Channel,
    usernames: dict[str, str],
    query: Query,
    *,
    base_url: str,
    team_id: str,
    mark: bool,
) -> dict[str, Any]:
    """One entry of ``messages.matches``, Slack-shaped."""
    ts = format_ts(m.ts)
    return {
        "iid": f"{m.channel}-{ts}",
        "team": team_id,
        "type": "message",
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "is_private": channel.is_private,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private and not channel.is_im,
            "is_im": channel.is_im,
            "is_mpim": channel.is_mpim,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "pending_shared": [],
            "is_pending_ext_shared": False,
        },
        "user": m.user,
        "username": usernames.get(m.user, ""),
        "ts": ts,
        "text": highlight(query, m.text) if mark else m.text,
        "permalink": f"{base_url.rstrip('/')}/archives/{m.channel}/p{ts.replace('.', '')}",
        **({"thread_ts": format_ts(m.thread_ts)} if m.thread_ts else {}),
    }
