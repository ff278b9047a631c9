"""The MariaDB backend against the real server on 127.0.0.1:3306, as a fleet uses it:
two store instances ("nodes", each with its own connections and event loop) writing to
one channel at once, client_msg_id retries across nodes, replicas that fail or lag,
failing ops and servers, the recorded shard map, and a whole server on MariaDB.

Every test creates databases with unique names and drops them (``tests.mysql_support``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import pytest

from parley.config import Settings
from parley.errors import ApiError, ConfigError, StorageError, StorageUnavailable
from parley.storage.models import PostRequest
from parley.storage.mysql import db, migrations
from parley.storage.mysql.messages import MysqlMessageStore
from parley.storage.mysql.open import open_storage, settings_topology
from parley.storage.mysql.urls import parse
from tests import mysql_support
from tests.helpers import server_in_thread

END = 1 << 62


@pytest.fixture(scope="module", autouse=True)
def needs_mariadb():
    mysql_support.require()


def post(i: int, channel: str = "CAAAA", **kw) -> PostRequest:
    kw.setdefault("user", "UAAAA")
    return PostRequest(id=i, channel=channel, team="TAAAA", bot_id=None, text=f"m{i}", **kw)


def settings(urls, **kw) -> Settings:
    kw.setdefault("mysql_timeout", 5)
    return Settings.load({}, shard_urls=tuple(urls), **kw)


def store_of(s: Settings) -> MysqlMessageStore:
    return MysqlMessageStore(s, settings_topology(s))


async def started(s: Settings) -> MysqlMessageStore:
    store = store_of(s)
    await store.start()
    return store


def on_nodes(s: Settings, *bodies: Callable[[MysqlMessageStore], Awaitable]) -> list:
    """Runs each ``body(store)`` on its own node: a thread, an event loop and a store of
    its own, all started together; returns their results in order."""
    results: list = [None] * len(bodies)
    gate = threading.Barrier(len(bodies))

    def node(i: int) -> None:
        async def go():
            store = await started(s)
            try:
                gate.wait(30)
                return await bodies[i](store)
            finally:
                await store.close()

        try:
            results[i] = asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=node, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def test_two_nodes_posting_to_one_channel_number_it_without_gaps():
    per_node, channels = 300, ("CAAAA", "CBBBB")

    def sender(node: int):
        async def body(store):
            order: list[int] = []
            results = await asyncio.gather(
                *(
                    store.post(
                        post(node * 10_000 + i, channel=channels[i % 2]),
                        after_commit=lambda r: (
                            order.append(r.message.seq) if r.message.channel == "CAAAA" else None
                        ),
                    )
                    for i in range(per_node)
                )
            )
            return [r.message for r in results], order

        return body

    with mysql_support.databases(2, "nodes") as urls:
        s = settings(urls)
        (a, a_order), (b, b_order) = on_nodes(s, sender(1), sender(2))

        async def read():
            store = await started(s)
            try:
                return [(await store.since(ch, 0, 10_000)).rows for ch in channels]
            finally:
                await store.close()

        stored = asyncio.run(read())
    for ch, rows in zip(channels, stored, strict=True):
        mine = sorted((m for m in a + b if m.channel == ch), key=lambda m: m.seq)
        assert [m.seq for m in mine] == list(range(1, per_node + 1))  # no gap, no duplicate
        assert [(m.seq, m.ts, m.id) for m in rows] == [(m.seq, m.ts, m.id) for m in mine]
        assert all(x.ts < y.ts for x, y in zip(rows, rows[1:], strict=False))
        assert {m.id // 10_000 for m in mine} == {1, 2}  # both nodes wrote
    assert a_order == sorted(a_order) and b_order == sorted(b_order)  # each in commit order


def test_a_client_msg_id_retried_on_another_node_returns_the_original():
    with mysql_support.databases(1, "retry") as urls:
        s = settings(urls)
        first, retry = on_nodes(
            s,
            lambda store: store.post(post(1, client_msg_id="cm-1")),
            lambda store: asyncio.sleep(0.5, None),
        )

        async def again():
            store = await started(s)  # another node, later
            try:
                return await store.post(post(2, client_msg_id="cm-1"))
            finally:
                await store.close()

        later = asyncio.run(again())
        # both nodes send the same client_msg_id at the same moment
        both = on_nodes(
            s,
            lambda store: store.post(post(3, client_msg_id="cm-2")),
            lambda store: store.post(post(4, client_msg_id="cm-2")),
        )
    assert later.duplicate and later.message.id == 1 and later.message.ts == first.message.ts
    assert sorted(r.duplicate for r in both) == [False, True]
    assert both[0].message.id == both[1].message.id and both[0].message.seq == 2


def test_edits_and_reactions_race_safely_across_nodes():
    with mysql_support.databases(1, "race") as urls:
        s = settings(urls)

        async def setup():
            store = await started(s)
            try:
                return (await store.post(post(1))).message
            finally:
                await store.close()

        m = asyncio.run(setup())

        async def contend(store):
            outcomes = []
            for call in (
                store.update("CAAAA", m.ts, "UAAAA", "edit", 0),
                store.react("CAAAA", m.ts, "UBBBB", "tada", True),
            ):
                try:
                    outcomes.append(await call)
                except ApiError as exc:
                    outcomes.append(exc.code)
            return outcomes

        one, two = on_nodes(s, contend, contend)

        async def final():
            store = await started(s)
            try:
                return await store.message("CAAAA", m.ts)
            finally:
                await store.close()

        after = asyncio.run(final())
    edits = [one[0], two[0]]
    reacts = [one[1], two[1]]
    assert sum(1 for e in edits if e == "edit_conflict") == 1  # one edit won, one lost
    assert sum(1 for r in reacts if r == "already_reacted") == 1
    assert after.version == 1 and [(r.name, r.users) for r in after.reactions] == [
        ("tada", ("UBBBB",))
    ]


def test_a_failing_op_fails_alone_and_the_batch_commits():
    async def go(s):
        store = await started(s)
        try:
            outcomes = await asyncio.gather(
                store.post(post(1)),
                store.post(post(2, channel="C" * 100)),  # longer than the column: refused
                store.post(post(3)),
                return_exceptions=True,
            )
            after = await store.post(post(4))
            return outcomes, after
        finally:
            await store.close()

    with mysql_support.databases(1, "fail") as urls:
        (first, failed, third), after = asyncio.run(go(settings(urls)))
    assert isinstance(failed, StorageError) and "too long" in str(failed).lower()
    assert (first.message.seq, third.message.seq, after.message.seq) == (1, 2, 3)


def test_a_killed_connection_is_replaced():
    with mysql_support.databases(1, "kill") as urls:
        s = settings(urls)
        name = parse(urls[0], "test").database

        async def go():
            store = await started(s)
            try:
                await store.post(post(1))
                await store.history("CAAAA", before=END, after=-1, limit=10)
                for (pid,) in mysql_support.sql(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (name,)
                ):
                    with contextlib.suppress(Exception):
                        mysql_support.sql(f"KILL {int(pid)}")
                second = await store.post(post(2))
                page = await store.history("CAAAA", before=END, after=-1, limit=10)
                return second, page
            finally:
                await store.close()

        second, page = asyncio.run(go())
    assert second.message.seq == 2 and [m.seq for m in page.rows] == [2, 1]


@contextlib.contextmanager
def silent_server():
    """A TCP port that accepts connections and never says a word (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_a_dead_or_hung_server_fails_start_up_within_the_timeout():
    with silent_server() as hung:
        for port in (closed_port(), hung):
            s = settings([f"mysql://root@127.0.0.1:{port}/parley_nowhere"], mysql_timeout=0.5)
            began = time.monotonic()
            with pytest.raises(StorageUnavailable, match=f"127.0.0.1:{port}"):
                asyncio.run(open_storage(s))
            assert time.monotonic() - began < 3


def test_reads_fall_back_to_the_primary_when_the_replica_is_unreachable_or_hung():
    with mysql_support.databases(1, "replica") as urls, silent_server() as hung:
        for replica in (
            f"mysql://root@127.0.0.1:{closed_port()}/x",
            f"mysql://root@127.0.0.1:{hung}/x",
        ):
            s = settings(urls, shard_replicas=(replica,), mysql_timeout=0.5)
            ch = f"C{replica.rsplit(':', 1)[1].split('/')[0]}"

            async def go(s=s, ch=ch):
                store = await started(s)
                try:
                    msgs = [(await store.post(post(i, channel=ch))).message for i in range(1, 4)]
                    parent = msgs[0]
                    await store.post(post(9, channel=ch, thread_ts=parent.ts))
                    began = time.monotonic()
                    history = await store.history(ch, before=END, after=-1, limit=10)
                    first = time.monotonic() - began
                    began = time.monotonic()
                    replies = await store.replies(ch, parent.ts, after=-1, before=END, limit=10)
                    since = await store.since(ch, 1, 10)
                    resting = time.monotonic() - began  # the replica is not retried yet
                    return history, replies, since, first, resting
                finally:
                    await store.close()

            history, replies, since, first, resting = asyncio.run(go())
            assert [m.seq for m in history.rows] == [3, 2, 1]
            assert [m.id for m in replies.rows] == [9]
            assert [m.seq for m in since.rows] == [2, 3, 4]
            assert first < 3 and resting < 0.4


def test_reads_prefer_the_replica_and_resume_never_misses_what_it_lags_behind():
    with mysql_support.databases(2, "lag") as (primary, replica):
        s = settings([primary], shard_replicas=(replica,))

        async def go():
            # the "replica" has the schema and one old row; the primary has three messages
            await db.prepare(parse(replica, "r"), "shard", migrations.SHARD, timeout=5)
            store = await started(s)
            try:
                msgs = [(await store.post(post(i))).message for i in range(1, 4)]
                m = msgs[0]
                mysql_support.sql(
                    "INSERT INTO messages (id, channel, team, seq, ts, user, text, reply_users) "
                    "VALUES (1, 'CAAAA', 'TAAAA', 1, %s, 'UAAAA', 'm1', '')",
                    (m.ts,),
                    database=parse(replica, "r").database,
                )
                history = await store.history("CAAAA", before=END, after=-1, limit=10)
                since = await store.since("CAAAA", 0, 10)
                return history, since
            finally:
                await store.close()

        history, since = asyncio.run(go())
    assert [m.seq for m in history.rows] == [1]  # served by the (lagging) replica
    assert [m.seq for m in since.rows] == [1, 2, 3]  # resume checked the primary


def test_the_shard_map_is_recorded_and_kept():
    with mysql_support.databases(3, "map") as urls:

        async def start(shard_urls):
            d, st = await open_storage(settings(shard_urls))
            await st.close()
            await d.close()

        asyncio.run(start(urls[:2]))
        asyncio.run(start(urls[:2]))  # same map: fine
        with pytest.raises(ConfigError, match="records 2 shards; PARLEY_SHARDS names 3"):
            asyncio.run(start(urls))
        with pytest.raises(ConfigError, match="holds shard 2: the shard URLs must keep"):
            asyncio.run(start([urls[1], urls[0]]))
        with pytest.raises(ConfigError, match="holds no Parley shard"):
            asyncio.run(start([urls[0], urls[2]]))


def test_migrations_are_idempotent_and_refuse_a_newer_schema():
    with mysql_support.databases(1, "migr") as urls:
        url = parse(urls[0], "t")

        async def prepare():
            return await db.prepare(url, "shard", migrations.SHARD, timeout=5)

        assert asyncio.run(prepare()) == len(migrations.SHARD)
        # a crash after step 2's DDL, before it was recorded: the step runs again
        mysql_support.sql(
            "DELETE FROM parley_migrations WHERE component = 'shard' AND version = 2",
            database=url.database,
        )
        assert asyncio.run(prepare()) == len(migrations.SHARD)
        mysql_support.sql(
            "INSERT INTO parley_migrations VALUES ('shard', %s, 0)",
            (len(migrations.SHARD) + 1,),
            database=url.database,
        )
        with pytest.raises(StorageError, match="newer"):
            asyncio.run(prepare())


def test_settings_refuse_bad_urls():
    for env, why in (
        ({"PARLEY_SHARDS": "mysql://root@h/a,postgres://root@h/b"}, "entry 2"),
        ({"PARLEY_SHARDS": "mysql://root:secret@h/a-b"}, "database name"),
        ({"PARLEY_SHARDS": "mysql://h/a"}, "names no user"),
        ({"PARLEY_SHARDS": "mysql://root@h:99999/a"}, "not a URL"),
        ({"PARLEY_SHARDS": "mysql://root@h/a,mysql://root@h:3306/a"}, "same database"),
        ({"PARLEY_SHARDS": "mysql://root@h/a", "PARLEY_SHARD_REPLICAS": ",,"}, "3 entries"),
        ({"PARLEY_DIRECTORY_URL": "mysql://root@h/d"}, "names no MySQL shard"),
    ):
        with pytest.raises(ConfigError, match=why) as info:
            Settings.load(env)
        assert "secret" not in str(info.value)
    s = Settings.load(
        {
            "PARLEY_SHARDS": "mysql://root:pw@db1:3307/s0, mysql://root@db2/s1",
            "PARLEY_SHARD_REPLICAS": ",mysql://ro@db2r/s1",
        }
    )
    topo = settings_topology(s)
    assert [u.redacted() for u in topo.shards] == [
        "mysql://root@db1:3307/s0",
        "mysql://root@db2:3306/s1",
    ]
    assert topo.directory == topo.shards[0] and topo.shards[0].password == "pw"
    assert [r and r.redacted() for r in topo.replicas] == [None, "mysql://ro@db2r:3306/s1"]
    assert Settings.load({"PARLEY_SHARDS": "3"}).shards == 3  # a number: SQLite's count


def test_a_server_on_mariadb_posts_and_reads(tmp_path):
    with mysql_support.databases(3, "server") as urls:
        with server_in_thread(tmp_path, shard_urls=tuple(urls[:2]), directory_url=urls[2]) as srv:
            alice = srv.user("db-alice")  # made in the MySQL directory (parley.admin)
            bob = srv.user("db-bob")
            client = srv.client(alice.token)
            ch = client.conversations_create(name="on-mariadb")["channel"]["id"]
            client.conversations_invite(channel=ch, users=bob.user_id)
            ts = client.chat_postMessage(channel=ch, text="hello from mariadb")["ts"]
            reply = client.chat_postMessage(channel=ch, text="re", thread_ts=ts)["ts"]
            srv.client(bob.token).reactions_add(channel=ch, timestamp=ts, name="tada")
            client.chat_update(channel=ch, ts=ts, text="hello from mariadb, edited")
            history = srv.client(bob.token).conversations_history(channel=ch)["messages"]
            replies = client.conversations_replies(channel=ch, ts=ts)["messages"]
        assert not list(tmp_path.glob("*.db"))  # nothing went to SQLite
        tables = mysql_support.sql(
            "SELECT COUNT(*) FROM messages", database=parse(urls[0], "t").database
        ) + mysql_support.sql(
            "SELECT COUNT(*) FROM messages", database=parse(urls[1], "t").database
        )
        assert sum(n for (n,) in tables) == 2
    assert [m["ts"] for m in history] == [ts]
    assert history[0]["text"] == "hello from mariadb, edited"
    assert history[0]["reactions"][0]["name"] == "tada"
    assert [m["ts"] for m in replies] == [ts, reply]
