"""The storage contract (``parley.storage.interface``) on every backend: SQLite files and
MariaDB databases (fresh ones per test, dropped afterwards). What one backend promises,
the other keeps: numbering, group commit, refusals that fail alone, threads, edits,
deletions, reactions, reads, and the directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import msgspec
import pytest

from parley.config import Settings
from parley.errors import ApiError, Code
from parley.ids import wall_us
from parley.resilience.retries import DeadLetter, Retry
from parley.storage.models import Channel, PostRequest, Team, User
from parley.storage.sqlite.directory import SqliteDirectory
from parley.storage.sqlite.messages import SqliteMessageStore
from tests import mysql_support

END = 1 << 62


def post(i: int, channel: str = "CAAAA", **kw) -> PostRequest:
    kw.setdefault("user", "UAAAA")
    return PostRequest(id=i, channel=channel, team="TAAAA", bot_id=None, text=f"m{i}", **kw)


class Clock:
    """A clock that can be set, even backwards."""

    def __init__(self, now: int = 1_700_000_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class SqliteBackend:
    def __init__(self, path) -> None:
        self.settings = Settings.load({}, data_dir=path)

    def store(self, shards: int = 1, clock_us: Callable[[], int] = wall_us):
        return SqliteMessageStore(self.settings, shards=shards, clock_us=clock_us)

    def directory(self):
        return SqliteDirectory(self.settings)


class MysqlBackend:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    def _settings(self, shards: int) -> Settings:
        return Settings.load({}, shard_urls=tuple(self.urls[:shards]), mysql_timeout=5)

    def store(self, shards: int = 1, clock_us: Callable[[], int] = wall_us):
        from parley.storage.mysql.messages import MysqlMessageStore
        from parley.storage.mysql.open import settings_topology

        settings = self._settings(shards)
        return MysqlMessageStore(settings, settings_topology(settings), clock_us=clock_us)

    def directory(self):
        from parley.storage.mysql.directory import MysqlDirectory
        from parley.storage.mysql.open import settings_topology

        settings = self._settings(1)
        return MysqlDirectory(settings, settings_topology(settings).directory)


@pytest.fixture(params=["sqlite", "mysql"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        yield SqliteBackend(tmp_path)
        return
    mysql_support.require()
    with mysql_support.databases(2, "contract") as urls:
        yield MysqlBackend(urls)


def run_store(backend, body, *, shards: int = 1, clock_us: Callable[[], int] = wall_us):
    """Runs ``await body(store)`` on a started store, closed afterwards."""

    async def go():
        store = backend.store(shards, clock_us)
        await store.start()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_concurrent_posts_get_gap_free_seq_and_increasing_ts(backend):
    clock = Clock()

    async def body(store):
        order: list[int] = []
        results = await asyncio.gather(
            *(
                store.post(
                    post(i, channel=f"C{i % 3}"), after_commit=lambda r: order.append(r.message.id)
                )
                for i in range(600)
            )
        )
        clock.now -= 10_000_000  # the clock steps back 10 s
        late = await store.post(post(600, channel="C0"))
        return results, order, late

    results, order, late = run_store(backend, body, shards=2, clock_us=clock)
    for ch in ("C0", "C1", "C2"):
        msgs = sorted((r.message for r in results if r.message.channel == ch), key=lambda m: m.seq)
        assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1))
        assert all(a.ts < b.ts for a, b in zip(msgs, msgs[1:], strict=False))
        assert [m.id for m in msgs] == sorted(m.id for m in msgs)  # submit order kept
    assert sorted(order) == list(range(600))  # every commit announced once
    c0 = [r.message for r in results if r.message.channel == "C0"]
    assert late.message.seq == len(c0) + 1 and late.message.ts > max(m.ts for m in c0)


def test_posts_are_numbered_in_the_order_their_coroutines_start(backend):
    """A post is queued before its coroutine first suspends: tasks started in an order
    get ``seq`` in that order, whatever their ids (what lets one client have several
    sends in flight and keep their order, ``Sender.write_post``)."""

    async def body(store):
        tasks = [asyncio.create_task(store.post(post(i))) for i in reversed(range(50))]
        return [t.message for t in await asyncio.gather(*tasks)]

    messages = run_store(backend, body)
    assert [m.id for m in messages] == list(reversed(range(50)))
    assert [m.seq for m in messages] == list(range(1, 51))


def test_after_commit_runs_before_the_await_returns(backend):
    async def body(store):
        seen: list[int] = []
        result = await store.post(post(1), after_commit=lambda r: seen.append(r.message.seq))
        return seen, result

    seen, result = run_store(backend, body)
    assert seen == [result.message.seq] == [1]


def test_a_refused_op_does_not_fail_its_batch(backend):
    async def body(store):
        return await asyncio.gather(
            store.post(post(1)),
            store.post(post(2, thread_ts=42)),
            store.post(post(3)),
            return_exceptions=True,
        )

    first, refused, third = run_store(backend, body)
    assert isinstance(refused, ApiError) and refused.code == "thread_not_found"
    assert (first.message.seq, third.message.seq) == (1, 2)


def test_idempotent_client_msg_id_in_one_batch(backend):
    async def body(store):
        a, b = await asyncio.gather(
            store.post(post(1, client_msg_id="x")), store.post(post(2, client_msg_id="x"))
        )
        c = await store.post(post(3, client_msg_id="x"))  # a later batch
        d = await store.post(post(4, client_msg_id="x", user="UBBBB"))  # another user's
        page = await store.history("CAAAA", before=END, after=-1, limit=10)
        return a, b, c, d, page

    a, b, c, d, page = run_store(backend, body)
    assert not a.duplicate and b.duplicate and b.message.ts == a.message.ts
    assert c.duplicate and c.message.id == a.message.id
    assert not d.duplicate and d.message.seq == 2
    assert len(page.rows) == 2


def test_edits_deletes_and_reactions(backend):
    async def body(store):
        m = (await store.post(post(1))).message
        other = (await store.post(post(2, user="UBBBB"))).message
        errors = {}
        for name, call in {
            "not_yours": store.update("CAAAA", other.ts, "UAAAA", "x", None),
            "missing": store.update("CAAAA", 42, "UAAAA", "x", None),
            "delete_not_yours": store.delete("CAAAA", other.ts, "UAAAA"),
        }.items():
            try:
                await call
            except ApiError as exc:
                errors[name] = exc.code
        first = await store.update("CAAAA", m.ts, "UAAAA", "v1", 0)
        try:
            await store.update("CAAAA", m.ts, "UAAAA", "stale", 0)
        except ApiError as exc:
            errors["conflict"] = (exc.code, exc.data)
        r1 = await store.react("CAAAA", m.ts, "UBBBB", "tada", True)
        r2 = await store.react("CAAAA", m.ts, "UAAAA", "smile", True)
        r3 = await store.react("CAAAA", m.ts, "UAAAA", "tada", True)
        for name, call in {
            "again": store.react("CAAAA", m.ts, "UAAAA", "tada", True),
            "none": store.react("CAAAA", m.ts, "UAAAA", "heart", False),
            "gone": store.react("CAAAA", 42, "UAAAA", "heart", True),
        }.items():
            try:
                await call
            except ApiError as exc:
                errors[name] = exc.code
        removed = await store.react("CAAAA", m.ts, "UBBBB", "tada", False)
        edited = await store.message("CAAAA", m.ts)
        deleted = await store.delete("CAAAA", other.ts, "UBBBB")
        try:
            await store.delete("CAAAA", other.ts, "UBBBB")
        except ApiError as exc:
            errors["twice"] = exc.code
        page = await store.history("CAAAA", before=END, after=-1, limit=10)
        since = await store.since("CAAAA", 0, 10)
        return first, r1, r2, r3, removed, edited, deleted, page, since, errors

    first, r1, r2, r3, removed, edited, deleted, page, since, errors = run_store(backend, body)
    assert errors == {
        "not_yours": "cant_update_message",
        "missing": "message_not_found",
        "delete_not_yours": "cant_delete_message",
        "conflict": ("edit_conflict", {"version": 1}),
        "again": "already_reacted",
        "none": "no_reaction",
        "gone": "message_not_found",
        "twice": "message_not_found",
    }
    assert (first.text, first.version, first.edited_by) == ("v1", 1, "UAAAA")
    assert [(r.name, r.users) for r in r1.message.reactions] == [("tada", ("UBBBB",))]
    assert [(r.name, r.users) for r in r3.message.reactions] == [
        ("tada", ("UBBBB", "UAAAA")),
        ("smile", ("UAAAA",)),
    ]
    assert r2.added and not removed.added and removed.name == "tada"
    assert [(r.name, r.users) for r in removed.message.reactions] == [
        ("smile", ("UAAAA",)),  # in the order of first use
        ("tada", ("UAAAA",)),
    ]
    assert edited.text == "v1" and edited.reactions == removed.message.reactions
    assert deleted.text == "m2"  # the message as it was
    assert [m.text for m in page.rows] == ["v1"]
    assert [(m.seq, m.deleted, m.text) for m in since.rows] == [(1, False, "v1"), (2, True, "")]


def test_a_channel_notice_keeps_its_subtype_and_is_nobodys_to_change(backend):
    async def body(store):
        note = (await store.post(post(1, subtype="channel_topic"))).message
        errors = {}
        for name, call in {
            "update": store.update("CAAAA", note.ts, "UAAAA", "a lie", None),
            "delete": store.delete("CAAAA", note.ts, "UAAAA"),
        }.items():
            try:
                await call
            except ApiError as exc:
                errors[name] = exc.code
        return note, await store.message("CAAAA", note.ts), errors

    note, kept, errors = run_store(backend, body)
    assert note.subtype == kept.subtype == "channel_topic" and kept.text == "m1"
    assert errors == {"update": "cant_update_message", "delete": "cant_delete_message"}


def test_unread_counts_what_the_history_shows_from_others(backend):
    async def body(store):
        first = (await store.post(post(1))).message
        for i in range(2, 6):
            await store.post(post(i, user="UBBBB"))
        await store.post(post(6, user="UBBBB", thread_ts=first.ts))  # a reply: not counted
        gone = (await store.post(post(7, user="UBBBB"))).message
        await store.delete("CAAAA", gone.ts, "UBBBB")
        return (
            await store.unread("CAAAA", 0, "UAAAA", 100),
            await store.unread("CAAAA", first.ts, "UAAAA", 100),
            await store.unread("CAAAA", 0, "UAAAA", 2),
            await store.unread("CAAAA", 0, "UBBBB", 100),
            await store.unread("CNONE", 0, "UAAAA", 100),
        )

    assert run_store(backend, body) == (4, 4, 2, 1, 0)


def test_rich_content_is_patched(backend):
    async def body(store):
        rich = '{"blocks":[{"type":"divider"}]}'
        m = (await store.post(post(1, rich=rich))).message
        kept = await store.update("CAAAA", m.ts, "UAAAA", "t", None)
        patched = await store.update(
            "CAAAA", m.ts, "UAAAA", "t", None, rich_patch='{"attachments":[{"text":"a"}]}'
        )
        return m, kept, patched

    m, kept, patched = run_store(backend, body)
    assert m.rich == kept.rich == '{"blocks":[{"type":"divider"}]}'
    assert '"attachments"' in patched.rich and '"blocks"' in patched.rich


def test_the_messages_someone_reacted_to_newest_first_in_pages(backend):
    """``reacted``: each message once, at the person's newest reaction, across shards,
    paged by the last one listed; not others' reactions, not one taken back."""
    clock = Clock()

    async def body(store):
        ms = [(await store.post(post(i, channel=f"C{i % 3}AAA"))).message for i in range(1, 7)]
        for m, name in [(ms[0], "a"), (ms[3], "a"), (ms[1], "a"), (ms[0], "b"), (ms[4], "a")]:
            clock.now += 1_000
            await store.react(m.channel, m.ts, "UAAAA", name, True)
        clock.now += 1_000
        await store.react(ms[5].channel, ms[5].ts, "UBBBB", "a", True)  # someone else's
        await store.react(ms[4].channel, ms[4].ts, "UAAAA", "a", False)  # taken back
        first = await store.reacted("UAAAA", None, 2)
        second = await store.reacted("UAAAA", first[-1], 2)
        rest = await store.reacted("UAAAA", second[-1], 2)
        return ms, first, second, rest

    ms, first, second, rest = run_store(backend, body, shards=3, clock_us=clock)
    listed = [(c, ts) for _added, c, ts in first + second + rest]
    assert listed == [(m.channel, m.ts) for m in (ms[0], ms[1], ms[3])]
    assert len(first) == 2 and len(second) == 1 and rest == []
    assert first[0][0] > first[1][0] > second[0][0]


def test_a_change_the_server_makes_counts_as_a_version_not_an_edit(backend):
    """``edited=False`` (link previews): the content and ``version`` change, ``edited``
    stays as the author left it, and the version is still checked."""
    previews = '{"attachments":[{"from_url":"https://x.test/","title":"X"}]}'

    async def body(store):
        m = (await store.post(post(1))).message
        shown = await store.update(
            "CAAAA", m.ts, "UAAAA", m.text, 0, rich_patch=previews, edited=False
        )
        edited = await store.update("CAAAA", m.ts, "UAAAA", "m1 !", 1)
        again = await store.update(
            "CAAAA", m.ts, "UAAAA", edited.text, 2, rich_patch=previews, edited=False
        )
        try:
            await store.update("CAAAA", m.ts, "UAAAA", m.text, 1, edited=False)
        except ApiError as exc:
            stale = exc.code
        return shown, edited, again, stale, await store.message("CAAAA", m.ts)

    shown, edited, again, stale, stored = run_store(backend, body)
    assert (shown.version, shown.edited_ts, shown.edited_by) == (1, None, None)
    assert '"title":"X"' in shown.rich
    assert again.version == 3 and again.edited_ts == edited.edited_ts is not None
    assert again.edited_by == "UAAAA" and stale == Code.EDIT_CONFLICT
    assert stored == again


def test_threads(backend):
    async def body(store):
        parent = (await store.post(post(1))).message
        a = await store.post(post(2, thread_ts=parent.ts, user="UBBBB"))
        b = await store.post(post(3, thread_ts=a.message.ts))  # a reply to a reply
        c = await store.post(post(4, thread_ts=parent.ts, user="UBBBB", reply_broadcast=True))
        replies = await store.replies("CAAAA", parent.ts, after=-1, before=END, limit=10)
        top = await store.history("CAAAA", before=END, after=-1, limit=10)
        await store.delete("CAAAA", b.message.ts, "UAAAA")
        after_delete = await store.message("CAAAA", parent.ts)
        return parent, a, b, c, replies, top, after_delete

    parent, a, b, c, replies, top, after_delete = run_store(backend, body)
    assert b.message.thread_ts == parent.ts
    assert (c.parent.reply_count, c.parent.reply_users) == (3, ("UBBBB", "UAAAA"))
    assert c.parent.latest_reply == c.message.ts and c.message.subtype == "thread_broadcast"
    assert [m.id for m in replies.rows] == [2, 3, 4]
    assert [m.id for m in top.rows] == [4, 1]  # newest first; the broadcast shows
    assert after_delete.reply_count == 2


def test_pages_and_resume_reads(backend):
    async def body(store):
        msgs = [(await store.post(post(i))).message for i in range(1, 8)]
        newest = await store.history("CAAAA", before=END, after=-1, limit=3)
        older = await store.history("CAAAA", before=newest.rows[-1].ts, after=-1, limit=3)
        window = await store.history("CAAAA", before=msgs[5].ts, after=msgs[1].ts, limit=10)
        since = await store.since("CAAAA", 2, 3)
        rest = await store.since("CAAAA", 5, 10)
        return (
            msgs,
            newest,
            older,
            window,
            since,
            rest,
            await store.last_seq("CAAAA"),
            await store.last_seq("CNONE"),
            await store.message("CAAAA", 42),
        )

    msgs, newest, older, window, since, rest, last, none, missing = run_store(backend, body)
    assert [m.seq for m in newest.rows] == [7, 6, 5] and newest.has_more
    assert [m.seq for m in older.rows] == [4, 3, 2] and older.has_more
    assert [m.seq for m in window.rows] == [5, 4, 3] and not window.has_more
    assert [m.seq for m in since.rows] == [3, 4, 5] and since.has_more
    assert [m.seq for m in rest.rows] == [6, 7] and not rest.has_more
    assert (last, none, missing) == (7, 0, None)


def test_mixed_ops_in_one_batch(backend):
    async def body(store):
        m = (await store.post(post(1))).message
        results = await asyncio.gather(
            store.post(post(2)),
            store.update("CAAAA", m.ts, "UAAAA", "e1", 0),
            store.react("CAAAA", m.ts, "UBBBB", "ok", True),
            store.update("CAAAA", m.ts, "UAAAA", "e2", 0),  # stale: the first edit won
            store.react("CAAAA", m.ts, "UBBBB", "ok", False),
            store.post(post(3, thread_ts=m.ts)),
            return_exceptions=True,
        )
        return results, await store.message("CAAAA", m.ts)

    results, final = run_store(backend, body)
    p2, e1, add, stale, remove, reply = results
    assert p2.message.seq == 2 and reply.message.seq == 3
    assert e1.version == 1 and isinstance(stale, ApiError) and stale.code == "edit_conflict"
    assert add.added and not remove.added
    assert (final.text, final.version, final.reactions, final.reply_count) == ("e1", 1, (), 1)


def test_directory(backend):
    async def go():
        d = backend.directory()
        await d.start()
        try:
            team = await d.create_team(Team("TAAAA", "Acme", "acme", 1))
            users = [
                User(f"U{i:04d}", team.id, f"user{i}", f"User {i}", i == 3, None, None, i)
                for i in range(1, 5)
            ]
            for i, u in enumerate(users):
                await d.create_user(u, f"hash{i}".encode())
            errors = []
            for call in (
                d.create_team(Team("TBBBB", "Acme 2", "acme", 1)),
                d.create_user(users[0], b"other"),
            ):
                try:
                    await call
                except ApiError as exc:
                    errors.append(exc.code)
            caller = await d.caller_by_token(b"hash0")
            await d.add_token(users[1].id, b"scoped", "chat:write,channels:read")
            scoped = await d.caller_by_token(b"scoped")
            revoked = (await d.revoke_token(b"hash0"), await d.revoke_token(b"hash0"))
            caller_after = await d.caller_by_token(b"hash0")
            page1 = await d.users(team.id, "", 2)
            page2 = await d.users(team.id, page1.rows[-1].id, 2)
            pub = await d.create_channel(Channel("CPUB", team.id, "general", False, "U0001", 5))
            priv = await d.create_channel(Channel("CPRIV", team.id, "secret", True, "U0002", 6))
            try:
                await d.create_channel(Channel("COTHER", team.id, "general", False, "U0001", 7))
            except ApiError as exc:
                errors.append(exc.code)
            added = await d.add_members(pub.id, ["U0002", "U0003", "U0001"])
            removed = (await d.remove_member(pub.id, "U0003"), await d.remove_member(pub.id, "X"))
            await d.set_archived(priv.id, True)
            seen_by_1 = await d.channels(
                team.id,
                "U0001",
                public=True,
                private=True,
                exclude_archived=False,
                after="",
                limit=10,
            )
            seen_by_2 = await d.channels(
                team.id,
                "U0002",
                public=True,
                private=True,
                exclude_archived=False,
                after="",
                limit=10,
            )
            live_by_2 = await d.channels(
                team.id,
                "U0002",
                public=True,
                private=True,
                exclude_archived=True,
                after="",
                limit=10,
            )
            return {
                "team": await d.team(team.id),
                "errors": errors,
                "caller": caller,
                "scoped": scoped.scopes,
                "revoked": revoked,
                "caller_after": caller_after.revoked,
                "pages": ([u.id for u in page1.rows], page1.has_more, [u.id for u in page2.rows]),
                "added": added,
                "removed": removed,
                "members": await d.members(pub.id),
                "members_page": (await d.members_page(pub.id, "U0001", 10)).rows,
                "member_channels": await d.member_channels("U0002"),
                "seen_by_1": [(c.id, n, m) for c, n, m in seen_by_1.rows],
                "seen_by_2": [(c.id, c.is_archived, n, m) for c, n, m in seen_by_2.rows],
                "live_by_2": [c.id for c, _n, _m in live_by_2.rows],
                "user": await d.user("U0003"),
                "logins": [(u.id, t.id, p) for u, t, p in await d.logins("user2")],
                "unknown": (await d.caller_by_token(b"nope"), await d.channel("CNONE")),
            }
        finally:
            await d.close()

    got = asyncio.run(go())
    assert got["team"] == Team("TAAAA", "Acme", "acme", 1)
    assert got["errors"] == ["name_taken", "name_taken", "name_taken"]
    assert got["caller"].user.name == "user1" and got["caller"].scopes is None
    assert got["scoped"] == frozenset({"chat:write", "channels:read"})
    assert got["revoked"] == (True, False) and got["caller_after"] is True
    assert got["pages"] == (["U0001", "U0002"], True, ["U0003", "U0004"])
    assert got["added"] == ["U0002", "U0003"] and got["removed"] == (True, False)
    assert got["members"] == frozenset({"U0001", "U0002"})
    assert got["members_page"] == ("U0002",)
    assert got["member_channels"] == frozenset({"CPUB", "CPRIV"})
    assert got["seen_by_1"] == [("CPUB", 2, True)]
    assert got["seen_by_2"] == [("CPRIV", True, 1, True), ("CPUB", False, 2, True)]
    assert got["live_by_2"] == ["CPUB"]
    assert got["user"].is_bot and got["user"].real_name == "User 3"
    assert got["logins"] == [("U0002", "TAAAA", None)]
    assert got["unknown"] == (None, None)


def test_directory_lists_a_users_conversations(backend):
    """``channels`` with ``member_only`` and a ``viewer`` (``users.conversations``): the
    channels a user is in, and for another viewer no private channel or direct message
    the viewer is not in too."""

    async def go():
        d = backend.directory()
        await d.start()
        try:
            team = await d.create_team(Team("TLIST", "Listing", "listing", 1))
            for i in range(1, 4):
                u = User(f"UL{i:03d}", team.id, f"lister{i}", "", False, None, None, i)
                await d.create_user(u, f"list{i}".encode())
            chans = [
                Channel("CLPUB1", team.id, "pub-in", False, "UL001", 1),
                Channel("CLPUB2", team.id, "pub-out", False, "UL002", 2),
                Channel("CLPRIV1", team.id, "priv-both", True, "UL001", 3),
                Channel("CLPRIV2", team.id, "priv-alone", True, "UL001", 4),
                Channel("DLIM1", team.id, "dm", True, "UL001", 5, is_im=True),
            ]
            for c in chans:
                await d.create_channel(c)
            await d.add_members("CLPUB1", ["UL001"])
            await d.add_members("CLPUB2", ["UL002"])
            await d.add_members("CLPRIV1", ["UL001", "UL002"])
            await d.add_members("CLPRIV2", ["UL001"])
            await d.add_members("DLIM1", ["UL001", "UL003"])

            async def listed(user: str, viewer: str | None, **kinds) -> list[str]:
                page = await d.channels(
                    team.id,
                    user,
                    exclude_archived=False,
                    after="",
                    limit=10,
                    member_only=True,
                    viewer=viewer,
                    **kinds,
                )
                return [(c.id, m) for c, _n, m in page.rows]

            every = {"public": True, "private": True, "ims": True}
            return {
                "own": await listed("UL001", "UL001", **every),
                "own_public": await listed("UL001", None, public=True, private=False),
                "seen_by_2": await listed("UL001", "UL002", **every),
                "seen_by_3": await listed("UL001", "UL003", **every),
            }
        finally:
            await d.close()

    got = asyncio.run(go())
    assert got["own"] == [("CLPRIV1", True), ("CLPRIV2", True), ("CLPUB1", True), ("DLIM1", True)]
    assert got["own_public"] == [("CLPUB1", True)]
    # not the private one alone, nor the DM; is_member says the viewer's
    assert got["seen_by_2"] == [("CLPRIV1", True), ("CLPUB1", False)]
    assert got["seen_by_3"] == [("CLPUB1", False), ("DLIM1", True)]


def test_directory_keeps_read_marks_for_members(backend):
    async def go():
        d = backend.directory()
        await d.start()
        try:
            team = await d.create_team(Team("TMRK", "Marks", "marks", 1))
            await d.create_user(User("UM001", team.id, "marker", "", False, None, None, 1), b"m")
            await d.create_channel(Channel("CMRK", team.id, "marked", False, "UM001", 1))
            fresh = await d.last_read("CMRK", "UM001")
            set_ = await d.mark_read("CMRK", "UM001", 1_700_000_000_000_123)
            same = await d.mark_read("CMRK", "UM001", 1_700_000_000_000_123)
            outsider = await d.mark_read("CMRK", "UNOBODY", 5)
            return (
                fresh,
                set_,
                same,
                outsider,
                await d.last_read("CMRK", "UM001"),
                (await d.last_read("CMRK", "UNOBODY")),
            )
        finally:
            await d.close()

    assert asyncio.run(go()) == (0, True, True, False, 1_700_000_000_000_123, None)


def test_directory_updates_a_channels_name_topic_and_purpose(backend):
    async def go():
        d = backend.directory()
        await d.start()
        try:
            team = await d.create_team(Team("TUPD", "Updates", "updates", 1))
            await d.create_user(User("UU001", team.id, "updater", "", False, None, None, 1), b"u")
            await d.create_channel(Channel("CUPD1", team.id, "first", False, "UU001", 1))
            await d.create_channel(Channel("CUPD2", team.id, "second", False, "UU001", 2))
            topic = await d.update_channel("CUPD1", topic="the topic")
            both = await d.update_channel("CUPD1", name="renamed", purpose="the purpose")
            try:
                await d.update_channel("CUPD2", name="renamed", topic="never written")
                clash = None
            except ApiError as exc:
                clash = exc.code
            return {
                "topic": topic,
                "both": both,
                "clash": clash,
                "second": await d.channel("CUPD2"),
                "missing": await d.update_channel("CNONE", topic="x"),
            }
        finally:
            await d.close()

    got = asyncio.run(go())
    assert (got["topic"].name, got["topic"].topic, got["topic"].purpose) == (
        "first",
        "the topic",
        "",
    )
    both = got["both"]
    assert (both.name, both.topic, both.purpose) == ("renamed", "the topic", "the purpose")
    assert got["clash"] == "name_taken"
    assert (got["second"].name, got["second"].topic) == ("second", "")  # nothing half-written
    assert got["missing"] is None


def test_waiting_retries_are_listed_by_item_prefix(backend):
    async def go():
        d = backend.directory()
        await d.start()
        try:
            for item in ("UA/Q1", "UA/Q2", "UA/Q3", "UAB/Q1", "UB/Q1"):
                await d.retry_later(Retry("schedule", item, item.encode(), 0, 10**18, (), 1))
            await d.retry_later(Retry("push", "UA/Q9", b"other step", 0, 1, (), 1))
            return (
                [r.item for r in await d.waiting("schedule", "UA/", "", 10)],
                [r.item for r in await d.waiting("schedule", "UA/", "UA/Q1", 1)],
                [r.item for r in await d.waiting("schedule", "UA/Q2", "", 10)],
                await d.waiting("schedule", "UC/", "", 10),
            )
        finally:
            await d.close()

    assert asyncio.run(go()) == (["UA/Q1", "UA/Q2", "UA/Q3"], ["UA/Q2"], ["UA/Q2"], [])


def _admin_ops(backend):
    """The backend's directory module (what ``parley`` admin commands run) and its
    settings."""
    if isinstance(backend, SqliteBackend):
        from parley.storage.sqlite import directory as ops

        return ops, backend.settings
    from parley.storage.mysql import directory as ops

    return ops, backend._settings(1)


def test_event_apps_are_registered_once_each(backend):
    from parley.storage.models import EventApp

    d = backend.directory()
    first = EventApp("UAPP1", "TAPP", "http://a.example/events", "s1")
    moved = EventApp("UAPP1", "TAPP", "http://b.example/events", "s1")
    other = EventApp("UAPP2", "TAPP", "http://c.example/events", "s2")
    ops, settings = _admin_ops(backend)
    for app in (first, other, moved):  # as `parley app events` writes them
        ops.admin(settings, ops.op_set_event_app, app, 1)

    async def go():
        await d.start()
        try:
            return await d.event_apps()
        finally:
            await d.close()

    assert asyncio.run(go()) == [moved, other]


def test_a_closed_conversation_is_kept_per_person_until_opened(backend):
    async def go():
        d = backend.directory()
        await d.start()
        try:
            await d.close_conversation("UCL1", "DCL1", 100)
            await d.close_conversation("UCL1", "GCL2", 200)
            await d.close_conversation("UCL2", "DCL1", 300)
            await d.close_conversation("UCL1", "DCL1", 400)  # closed again: the later
            first = await d.closed_conversations("UCL1")
            reopened = await d.reopen_conversation("UCL1", "DCL1")
            again = await d.reopen_conversation("UCL1", "DCL1")
            return (
                first,
                reopened,
                again,
                await d.closed_conversations("UCL1"),
                (await d.closed_conversations("UCL2")),
            )
        finally:
            await d.close()

    assert asyncio.run(go()) == (
        {"DCL1": 400, "GCL2": 200},
        True,
        False,
        {"GCL2": 200},
        {"DCL1": 300},
    )


def test_an_apps_registrations_are_listed_and_removed_by_part(backend):
    from parley.storage.models import EventApp

    ops, settings = _admin_ops(backend)
    ops.admin(settings, ops.op_set_event_app, EventApp("UREG1", "TR", "http://e/", "s"), 1)
    ops.admin(settings, ops.op_set_event_app, EventApp("UREG2", "TR", "http://f/", "t"), 1)
    ops.admin(settings, ops.op_set_unfurl_domains, "UREG1", "TR", ["a.example", "b.example"], 1)
    parts = ops.admin_read(settings, ops.q_app_parts)
    assert [r for r in parts["events"] if r[0].startswith("UREG")] == [
        ("UREG1", "http://e/"),
        ("UREG2", "http://f/"),
    ]
    assert [r for r in parts["unfurl"] if r[0] == "UREG1"] == [
        ("UREG1", "a.example"),
        ("UREG1", "b.example"),
    ]
    assert ops.admin(settings, ops.op_remove_app_parts, "UREG1", ["events", "unfurl"]) == 3
    assert ops.admin(settings, ops.op_remove_app_parts, "UREG1", ["events", "unfurl"]) == 0
    parts = ops.admin_read(settings, ops.q_app_parts)
    assert [r[0] for r in parts["events"] if r[0].startswith("UREG")] == ["UREG2"]
    assert not [r for r in parts["unfurl"] if r[0] == "UREG1"]


def test_an_apps_unfurl_domains_are_replaced_as_a_whole(backend):
    from parley.storage.models import AppDomain

    d = backend.directory()
    ops, settings = _admin_ops(backend)
    # as `parley app unfurl` writes them: each time the app's whole list
    ops.admin(settings, ops.op_set_unfurl_domains, "UUF1", "TUF", ["a.example", "b.example"], 1)
    ops.admin(settings, ops.op_set_unfurl_domains, "UUF2", "TUF", ["c.example"], 1)
    ops.admin(settings, ops.op_set_unfurl_domains, "UUF1", "TUF", ["b.example", "d.example"], 2)
    ops.admin(settings, ops.op_set_unfurl_domains, "UUF3", "TUF", ["e.example"], 2)
    ops.admin(settings, ops.op_set_unfurl_domains, "UUF3", "TUF", [], 3)  # none: no more

    async def go():
        await d.start()
        try:
            return await d.unfurl_domains()
        finally:
            await d.close()

    assert asyncio.run(go()) == [
        AppDomain("UUF1", "TUF", "b.example"),
        AppDomain("UUF1", "TUF", "d.example"),
        AppDomain("UUF2", "TUF", "c.example"),
    ]


def test_retries_and_dead_letters(backend):
    """The retry table and the dead letters (``parley.resilience``): due items are
    claimed once (leased), done ones forgotten, buried ones listed with their history,
    replayed once however often replay runs, purged."""

    async def go():
        d = backend.directory()
        await d.start()
        try:
            for i in range(3):
                await d.retry_later(
                    Retry("push", f"item-{i}", b"p%d" % i, 1, 100 + i, ("t0 503",), 50)
                )
            await d.retry_later(Retry("index", "other", b"x", 1, 0, (), 0))
            first = await d.claim_due("push", 101, 10, lease_until=1_000)
            again = await d.claim_due("push", 500, 10, lease_until=1_000)
            later = await d.claim_due("push", 1_000, 10, lease_until=2_000)
            await d.retry_done("push", "item-0")
            await d.bury(DeadLetter("push", "item-1", b"p1", 5, ("t0 503", "t1 503"), 50, 999))
            letters = await d.dead_letters("push", "", 10)
            everything = await d.dead_letters(None, "", 10)
            replayed = [await d.replay("push", ["item-1"], 3_000) for _ in range(2)]
            due = await d.claim_due("push", 3_000, 10, lease_until=4_000)
            await d.bury(DeadLetter("push", "item-2", b"p2", 5, (), 50, 999))
            await d.bury(DeadLetter("push", "item-3", b"p3", 5, (), 50, 999))
            shown = await d.dead_letter("push", "item-3"), await d.dead_letter("push", "nope")
            purged = await d.purge("push", ["item-2"])
            left = await d.dead_letters(None, "push/item-2", 10)
            purged_all = await d.purge("push", None)
            assert shown[0] is not None and shown[0].payload == b"p3" and shown[1] is None
            return first, again, later, letters, everything, replayed, due, purged, left, purged_all
        finally:
            await d.close()

    first, again, later, letters, everything, replayed, due, purged, left, purged_all = asyncio.run(
        go()
    )
    assert [r.item for r in first] == ["item-0", "item-1"]  # item-2 is due at 102
    assert [r.item for r in again] == ["item-2"]  # the others are leased
    assert first[0].payload == b"p0" and first[0].errors == ("t0 503",)
    assert sorted(r.item for r in later) == ["item-0", "item-1", "item-2"]  # leases ran out
    assert [(x.item, x.attempts, x.errors) for x in letters] == [
        ("item-1", 5, ("t0 503", "t1 503"))
    ]
    assert [x.item for x in everything] == ["item-1"]
    assert replayed == [1, 0]  # twice: moved once
    assert sorted((r.item, r.attempts, r.errors) for r in due) == [
        ("item-1", 0, ("t0 503", "t1 503")),  # replayed: a fresh start, its history kept
        ("item-2", 1, ("t0 503",)),  # its lease ran out
    ]
    assert purged == 1 and [x.item for x in left] == ["item-3"] and purged_all == 1


def test_commands_and_their_response_urls(backend):
    """A team's commands, a command registered again moved to its new app; a response
    URL answers its uses (with the message it may change) until it expires, then never."""
    from parley.storage.models import AppCommand, CommandResponse

    deploy = AppCommand("TCMD", "/deploy", "UBOT1", "", "s1", "ship it", "[env]")
    moved = AppCommand("TCMD", "/deploy", "UBOT2", "http://a.example/c", "s2", "", "")
    other = AppCommand("TCMD", "/ask", "UBOT1", "", "s1", "", "")
    elsewhere = AppCommand("TOTHER", "/ask", "UBOT9", "", "s9", "", "")
    ops, settings = _admin_ops(backend)
    for cmd in (deploy, other, elsewhere, moved):  # as `parley app command` writes them
        ops.admin(settings, ops.op_set_command, cmd, 1)
    assert ops.admin_read(settings, ops.q_app_secret, "UBOT1") == "s1"
    assert ops.admin_read(settings, ops.q_app_secret, "UNOBODY") is None
    granted = CommandResponse("TCMD", "C1", "U1", "UBOT2", expires=1_000, message_ts=77)

    async def go():
        d = backend.directory()
        await d.start()
        try:
            listed = await d.commands("TCMD")
            await d.add_command_response("h1", granted, now=10)
            uses = [await d.use_command_response("h1", 500, 3) for _ in range(4)]
            await d.add_command_response("h2", granted, now=10)
            late = await d.use_command_response("h2", 1_000, 3)
            unknown = await d.use_command_response("nope", 10, 3)
            await d.add_command_response("h3", granted, now=2_000)  # forgets h1, h2
            gone = await d.use_command_response("h1", 10, 9)
            return listed, uses, late, unknown, gone
        finally:
            await d.close()

    listed, uses, late, unknown, gone = asyncio.run(go())
    assert listed == [other, moved]
    assert uses == [granted, granted, granted, None]
    assert (late, unknown, gone) == (None, None, None)


def test_apps_shortcuts_are_listed_by_team_and_replaced_by_callback_id(backend):
    from parley.storage.models import AppShortcut

    first = AppShortcut("TSC", "UBOT1", "new", "global", "New ticket", "")
    again = AppShortcut("TSC", "UBOT1", "new", "message", "File it", "files it")
    other = AppShortcut("TSC", "UBOT2", "new", "global", "Another", "")
    elsewhere = AppShortcut("TOTHER", "UBOT9", "x", "global", "X", "")
    ops, settings = _admin_ops(backend)
    for s in (first, other, elsewhere, again):  # as `parley app shortcut` writes them
        ops.admin(settings, ops.op_set_shortcut, s, 1)

    async def go():
        d = backend.directory()
        await d.start()
        try:
            return await d.shortcuts("TSC"), await d.shortcuts("TNONE")
        finally:
            await d.close()

    assert asyncio.run(go()) == ([again, other], [])


def test_bookmarks_are_kept_per_channel_oldest_first_up_to_a_limit(backend):
    from parley.storage.models import Bookmark

    def mark(i: str, channel: str, created: int) -> Bookmark:
        return Bookmark(
            f"Bk{i}", channel, f"t{i}", f"https://{i}.example", "", "U1", "U1", created, created
        )

    async def go():
        d = backend.directory()
        await d.start()
        try:
            added = [
                await d.add_bookmark(mark("2", "CBM", 20), 2),
                await d.add_bookmark(mark("1", "CBM", 10), 2),
                await d.add_bookmark(mark("3", "CBM", 30), 2),  # the channel has 2
                await d.add_bookmark(mark("9", "COTHER", 5), 2),
            ]
            changed = msgspec.structs.replace(mark("2", "CBM", 20), title="new", updated=40)
            await d.put_bookmark(changed)
            listed = await d.bookmarks("CBM")
            removed = [
                await d.remove_bookmark("COTHER", "Bk1"),  # not that channel's
                await d.remove_bookmark("CBM", "Bk1"),
                await d.remove_bookmark("CBM", "Bk1"),
            ]
            return added, listed, removed, await d.bookmarks("CBM"), changed
        finally:
            await d.close()

    added, listed, removed, after, changed = asyncio.run(go())
    assert added == [True, True, False, True]
    assert [b.id for b in listed] == ["Bk1", "Bk2"] and listed[1] == changed
    assert removed == [False, True, False] and after == [changed]


def test_pins_are_kept_once_each_up_to_a_limit(backend):
    from parley.storage.models import Pin

    async def go():
        d = backend.directory()
        await d.start()
        try:
            refusals = [
                await d.add_pin(Pin("CPIN", 10, "U1", 100), 2),
                await d.add_pin(Pin("CPIN", 10, "U2", 200), 2),
                await d.add_pin(Pin("CPIN", 20, "U2", 300), 2),
                await d.add_pin(Pin("CPIN", 30, "U2", 400), 2),
                await d.add_pin(Pin("COTHER", 30, "U2", 400), 2),
            ]
            listed = await d.pins("CPIN")
            removed = [await d.remove_pin("CPIN", 10), await d.remove_pin("CPIN", 10)]
            return refusals, listed, removed, await d.pins("CPIN")
        finally:
            await d.close()

    refusals, listed, removed, after = asyncio.run(go())
    assert refusals == [None, "already_pinned", None, "too_many_pins", None]
    assert listed == [Pin("CPIN", 20, "U2", 300), Pin("CPIN", 10, "U1", 100)]
    assert removed == [True, False]
    assert after == [Pin("CPIN", 20, "U2", 300)]


def test_a_users_email_and_profile(backend):
    """A user's email, found within their team only, and the profile they set, kept and
    read back with the rest of the user (by id, by token, in the list)."""

    async def go():
        d = backend.directory()
        await d.start()
        try:
            await d.create_team(Team("TMAIL", "Mail", "mail", 1))
            pat = User("UMAIL1", "TMAIL", "pat", "Pat", False, None, None, 1, email="p@x.io")
            await d.create_user(pat, b"mailhash")
            set_ = await d.edit_profile("UMAIL1", {"real_name": "Pat Doe", "title": "SRE"})
            by_token = (await d.caller_by_token(b"mailhash")).user
            await asyncio.gather(  # at once: both edits count
                d.edit_profile("UMAIL1", {"phone": "1"}),
                d.edit_profile("UMAIL1", {"status_text": "here"}),
            )
            both = await d.user("UMAIL1")
            try:
                await d.edit_profile("UMAIL1", {"is_admin": True})
                refused = None
            except ApiError as exc:
                refused = exc.code
            return (
                await d.user_by_email("TMAIL", "p@x.io"),
                await d.user_by_email("TOTHER", "p@x.io"),
                await d.user_by_email("TMAIL", ""),
                set_,
                by_token,
                await d.edit_profile("UNOBODY", {"title": "x"}),
                both,
                refused,
            )
        finally:
            await d.close()

    found, elsewhere, empty, after, by_token, nobody, both, refused = asyncio.run(go())
    assert found is not None and found.id == "UMAIL1" and found.email == "p@x.io"
    assert (elsewhere, empty, nobody) == (None, None, None)
    assert (after.real_name, after.profile, after.email) == ("Pat Doe", '{"title":"SRE"}', "p@x.io")
    assert by_token == after
    assert json.loads(both.profile) == {"title": "SRE", "phone": "1", "status_text": "here"}
    assert refused == "invalid_profile"


def test_apps_views_and_the_installations_secrets(backend):
    """A modal kept and replaced, found by id or by the app's external id; those not
    written for a while forgotten, but not a home tab; a secret set once, whoever asks
    first."""
    from parley.storage.models import AppView

    async def go():
        d = backend.directory()
        await d.start()
        try:
            v = AppView("V1", "T1", "U1", "UBOT", "C1", '{"type": "modal"}', "h1", "ext-1")
            await d.put_view(v, 100, 0)
            await d.put_view(AppView("V2", "T1", "U2", "UBOT", "C1", "{}", "h2", ""), 100, 0)
            home = AppView("VH", "T1", "U2", "UBOT", "D1", "{}", "h5", "", home=True)
            await d.put_view(home, 100, 0)
            changed = AppView("V1", "T1", "U1", "UBOT", "C1", '{"type": "x"}', "h3", "ext-1", True)
            await d.put_view(changed, 200, 0)
            found = [await d.view("V1"), await d.view_by_external("T1", "ext-1")]
            missing = [await d.view_by_external("T2", "ext-1"), await d.view("VNONE")]
            await d.put_view(AppView("V3", "T1", "U3", "UBOT", "C1", "{}", "h4", ""), 300, 150)
            gone = await d.view("V2")  # written at 100, before 150
            secrets = [await d.meta_default("k", "first"), await d.meta_default("k", "second")]
            return found, missing, gone, await d.view("V1"), secrets, await d.view("VH")
        finally:
            await d.close()

    found, missing, gone, kept, secrets, home = asyncio.run(go())
    assert home is not None and home.home and home.channel_id == "D1"
    assert found[0] == found[1] and found[0].body == '{"type": "x"}' and found[0].closed
    assert missing == [None, None] and gone is None and kept is not None
    assert secrets == ["first", "first"]


def test_deactivating_a_user_ends_their_sessions_and_phones_and_records_a_notice(backend):
    from parley.notify.devices import Device
    from parley.pipeline.accounts import ACTIVE, SESSIONS, STEP, notice

    async def go():
        d = backend.directory()
        await d.start()
        try:
            team = await d.create_team(Team("TACC", "Acme", "acme", 1))
            user = User("UACC1", team.id, "leaver", "Leaver", False, None, None, 1)
            other = User("UACC2", team.id, "stayer", "Stayer", False, None, None, 1)
            await d.create_user(user, b"api")
            await d.create_user(other, b"other-api")
            await d.add_token(user.id, b"web1", None, session=True)
            await d.add_token(user.id, b"web2", None, session=True)
            await d.add_token(other.id, b"other-web", None, session=True)
            await d.add_device(Device("apns", "phone", user.id, 1), 10)
            await d.add_device(Device("apns", "other-phone", other.id, 1), 10)
            keys = (
                sorted(await d.token_keys(user.id)),
                sorted(await d.token_keys(user.id, sessions=True)),
            )
            await d.set_deleted(user.id, True, notice(user.id, ACTIVE, 5))
            gone = await d.user(user.id)
            callers = [await d.caller_by_token(k) for k in (b"api", b"web1", b"other-web")]
            devices = await d.devices([user.id, other.id])
            await d.set_deleted(user.id, False, notice(user.id, ACTIVE, 6))
            back = await d.user(user.id)
            ended = await d.end_sessions(other.id, notice(other.id, SESSIONS, 7))
            ended_again = await d.end_sessions(other.id, notice(other.id, SESSIONS, 8))
            waiting = await d.waiting(STEP, "", "", 10)
            return keys, gone, callers, devices, back, ended, ended_again, waiting
        finally:
            await d.close()

    keys, gone, callers, devices, back, ended, ended_again, waiting = asyncio.run(go())
    assert keys == ([b"api", b"web1", b"web2"], [b"web1", b"web2"])
    assert gone.deleted and not back.deleted
    api, web, other_web = callers
    # the API token is kept (refused while deactivated: the user is), the sessions are not
    assert not api.revoked and api.user.deleted and web.revoked and not other_web.revoked
    assert [x.token for x in devices] == ["other-phone"]
    assert (ended, ended_again) == (1, 0)
    assert [r.item for r in waiting] == [
        "UACC1/active/5",
        "UACC1/active/6",
        "UACC2/sessions/7",
        "UACC2/sessions/8",
    ]
    assert all(r.next_at == int(r.item.rsplit("/", 1)[1]) for r in waiting)


def test_users_and_channels_are_found_by_name_and_listed_in_their_workspace(backend):
    async def go():
        d = backend.directory()
        await d.start()
        try:
            for team in ("TN1", "TN2"):
                await d.create_team(Team(team, team, team.lower(), 1))
            await d.create_user(User("UN1", "TN1", "sam", "Sam", False, None, None, 1), b"n1")
            await d.create_channel(Channel("CN1", "TN1", "plans", False, "UN1", 1))
            await d.create_channel(Channel("CN0", "TN1", "hush", True, "UN1", 1))
            await d.create_channel(Channel("DN2", "TN1", "DN2", True, "UN1", 1, is_im=True))
            await d.create_channel(Channel("CN9", "TN2", "plans", False, "UN1", 1))
            first = await d.all_channels("TN1", "", 2)
            rest = await d.all_channels("TN1", first.rows[-1].id, 2)
            return [
                await d.user_by_name("TN1", "sam"),
                await d.user_by_name("TN2", "sam"),
                await d.channel_by_name("TN1", "plans"),
                await d.channel_by_name("TN2", "nope"),
                first,
                rest,
            ]
        finally:
            await d.close()

    sam, elsewhere, plans, other, first, rest = asyncio.run(go())
    assert sam.id == "UN1" and plans.id == "CN1" and elsewhere is None and other is None
    # every conversation of the workspace, private ones and direct messages too, by id
    assert [c.id for c in first.rows] == ["CN0", "CN1"] and first.has_more
    assert [c.id for c in rest.rows] == ["DN2"] and not rest.has_more


def test_a_workspaces_emoji_are_added_aliased_served_and_removed_with_their_aliases(backend):
    from parley.storage.models import CustomEmoji

    def emoji(name: str, alias_for: str = "", team: str = "TE1") -> CustomEmoji:
        return CustomEmoji(team, name, alias_for, "" if alias_for else "image/png", "U1", 1)

    async def go():
        d = backend.directory()
        await d.start()
        try:
            await d.add_emoji(emoji("cat"), b"\x89PNG cat")
            await d.add_emoji(emoji("kitty", "cat"), b"")
            await d.add_emoji(emoji("yay", "tada"), b"")  # a standard one's alias
            await d.add_emoji(emoji("cat", team="TE2"), b"\x89PNG other")
            try:
                await d.add_emoji(emoji("cat"), b"again")
                taken = None
            except ApiError as exc:
                taken = exc.code
            listed = [e.name for e in await d.emoji("TE1")]
            images = [await d.emoji_image("TE1", n) for n in ("cat", "kitty", "yay", "nope")]
            gone = await d.remove_emoji("TE1", "cat")
            after = [e.name for e in await d.emoji("TE1")], await d.emoji("TE2")
            return taken, listed, images, gone, after, await d.remove_emoji("TE1", "cat")
        finally:
            await d.close()

    taken, listed, images, gone, after, again = asyncio.run(go())
    assert taken == "error_name_taken" and listed == ["cat", "kitty", "yay"]
    assert images == [("image/png", b"\x89PNG cat")] * 2 + [None, None]
    assert (
        gone == ["cat", "kitty"] and after[0] == ["yay"] and [e.name for e in after[1]] == ["cat"]
    )
    assert again == []


def test_retention_removes_whole_threads_before_the_cutoff_and_empties_the_newest(backend):
    """``expire``: a thread goes whole once its last reply is older than the cutoff (one
    still answered keeps its parent); reactions go with their message; the channel's
    newest message is emptied, never removed, so the next post is numbered after it;
    another channel is untouched; a second call finds nothing."""
    clock = Clock(0)

    async def at(store, t: int, i: int, **kw):
        clock.now = t
        return (await store.post(post(i, **kw))).message

    async def body(store):
        m1 = await at(store, 100, 1)
        m2 = await at(store, 200, 2)
        r1 = await at(store, 300, 3, thread_ts=m2.ts)
        m3 = await at(store, 400, 4)
        m4 = await at(store, 500, 5)
        other = await at(store, 550, 6, channel="CBBBB")
        r2 = await at(store, 1000, 7, thread_ts=m3.ts)
        m5 = await at(store, 1100, 8)
        await store.react("CAAAA", m1.ts, "UBBBB", "tada", True)
        first = await store.expire("CAAAA", 800, 2)  # two threads: m1, then m2 with r1
        second = await store.expire("CAAAA", 800, 2)
        top = await store.history("CAAAA", before=END, after=-1, limit=10)
        thread = await store.replies("CAAAA", m3.ts, after=-1, before=END, limit=10)
        resumed = await store.since("CAAAA", 0, 10)
        reacted = await store.reacted("UBBBB", None, 10)
        everything = await store.expire("CAAAA", 10_000, 10)
        again = await store.expire("CAAAA", 10_000, 10)
        left = await store.since("CAAAA", 0, 10)
        untouched = await store.message("CBBBB", other.ts)
        clock.now = 20_000
        after = (await store.post(post(9))).message
        return locals()

    got = run_store(backend, body, clock_us=clock)
    m1, m2, r1, m3, m4, m5, r2 = (got[k] for k in ("m1", "m2", "r1", "m3", "m4", "m5", "r2"))
    assert sorted(got["first"].messages) == sorted([(m.ts, m.id) for m in (m1, m2, r1)])
    assert got["first"].more
    assert got["second"].messages == ((m4.ts, m4.id),) and not got["second"].more
    assert [m.id for m in got["top"].rows] == [8, 4]  # m3 stays: its thread is answered
    assert [m.id for m in got["thread"].rows] == [7]
    assert [m.seq for m in got["resumed"].rows] == [4, 6, 7]
    assert got["reacted"] == []
    assert sorted(got["everything"].messages) == sorted([(m.ts, m.id) for m in (m3, r2, m5)])
    assert got["again"].messages == () and not got["again"].more
    [tail] = got["left"].rows
    assert (tail.seq, tail.deleted, tail.text, tail.rich) == (m5.seq, True, "", None)
    assert got["after"].seq == m5.seq + 1
    assert got["untouched"] == got["other"]


def test_retention_policies_are_kept_per_workspace_and_conversation(backend):
    from parley.storage.models import RetentionPolicy

    async def go():
        d = backend.directory()
        await d.start()
        try:
            await d.set_retention(RetentionPolicy("TAAAA", "", 30))
            await d.set_retention(RetentionPolicy("TAAAA", "CKEEP", 365))
            await d.set_retention(RetentionPolicy("TBBBB", "COTHER", 7))
            await d.set_retention(RetentionPolicy("TAAAA", "", 90))  # replaced
            listed = await d.retention()
            removed = [
                await d.remove_retention("TAAAA", "CKEEP"),
                await d.remove_retention("TAAAA", "CKEEP"),
            ]
            return listed, removed, await d.retention()
        finally:
            await d.close()

    listed, removed, after = asyncio.run(go())
    assert listed == [
        RetentionPolicy("TAAAA", "", 90),
        RetentionPolicy("TAAAA", "CKEEP", 365),
        RetentionPolicy("TBBBB", "COTHER", 7),
    ]
    assert removed == [True, False]
    assert after == [RetentionPolicy("TAAAA", "", 90), RetentionPolicy("TBBBB", "COTHER", 7)]


def test_a_workspaces_older_files_are_listed_oldest_first_a_page_at_a_time(backend):
    """``files_older``, what retention reads: the workspace's files created before a
    moment, completed or not, each with its channels, oldest first, paged by
    ``(created, id)`` so files created at the same moment are neither lost nor repeated."""
    from parley.storage.models import StoredFile

    def file(i: int, created: int, team: str = "TAAAA") -> StoredFile:
        return StoredFile(
            f"F{i:03d}", team, "UAAAA", f"f{i}.txt", "", "text/plain", 1, created, "h"
        )

    async def go():
        d = backend.directory()
        await d.start()
        try:
            for i, created in enumerate([30, 10, 20, 20, 20, 50, 40]):
                await d.create_file(file(i, created), 0, 100)
            await d.create_file(file(9, 5, team="TBBBB"), 0, 100)
            await d.put_file("F002", "h", b"x")
            await d.complete_file("F002", "UAAAA", "two", ("CSHARE",))
            pages, after = [], (-1, "")
            while True:
                page = await d.files_older("TAAAA", 45, after, 2)
                pages.append([(f.id, f.created, f.channels) for f in page])
                if len(page) < 2:
                    return pages
                after = (page[-1].created, page[-1].id)
        finally:
            await d.close()

    pages = asyncio.run(go())
    assert pages == [
        [("F001", 10, ()), ("F002", 20, ("CSHARE",))],
        [("F003", 20, ()), ("F004", 20, ())],
        [("F000", 30, ()), ("F006", 40, ())],
        [],
    ]
