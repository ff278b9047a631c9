"""``parley shards list | add`` against the real MariaDB: adding a third shard moves every
channel whose shard changes, with nothing lost, doubled or altered, finishes a move that
crashed half-way, refuses while nodes are connected, and keeps nodes from starting
with the wrong map."""

from __future__ import annotations

import asyncio
import json

import pytest

from parley import cli
from parley.config import Settings
from parley.errors import ConfigError
from parley.storage.models import PostRequest
from parley.storage.mysql import db, reshard
from parley.storage.mysql.open import open_storage
from parley.storage.mysql.urls import parse
from parley.storage.router import shard_for
from tests import mysql_support

CHANNELS = [f"C{i:04d}X" for i in range(40)]


@pytest.fixture(scope="module", autouse=True)
def needs_mariadb():
    mysql_support.require()


def post(i: int, channel: str, **kw) -> PostRequest:
    kw.setdefault("user", "UAAAA")
    return PostRequest(id=i, channel=channel, team="TAAAA", bot_id=None, text=f"m{i}", **kw)


def settings(urls) -> Settings:
    return Settings.load({}, shard_urls=tuple(urls), mysql_timeout=5)


async def fill(urls) -> None:
    """Messages, a thread, an edit, a deletion and reactions in every channel."""
    d, store = await open_storage(settings(urls))
    try:
        for k, ch in enumerate(CHANNELS):
            msgs = [(await store.post(post(k * 100 + i, ch))).message for i in range(k % 5 + 2)]
            first = msgs[0]
            await store.post(post(k * 100 + 50, ch, thread_ts=first.ts, user="UBBBB"))
            await store.update(ch, first.ts, "UAAAA", f"edited {ch}", 0)
            await store.react(ch, first.ts, "UBBBB", "tada", True)
            await store.react(ch, first.ts, "UAAAA", "eyes", True)
            await store.delete(ch, msgs[-1].ts, "UAAAA")
    finally:
        await store.close()
        await d.close()


async def content(urls) -> dict:
    """Every channel's messages as stored, through a store on ``urls``."""
    d, store = await open_storage(settings(urls))
    try:
        return {ch: (await store.since(ch, 0, 1000)).rows for ch in CHANNELS}
    finally:
        await store.close()
        await d.close()


def rows_per_shard(urls, channel: str) -> list[int]:
    """``channel``'s message rows in each database (0 where there is none yet)."""
    names = {r[0] for r in mysql_support.sql("SHOW DATABASES")}
    return [
        mysql_support.sql(
            "SELECT COUNT(*) FROM messages WHERE channel = %s", (channel,), database=name
        )[0][0]
        if (name := parse(u, "t").database) in names
        else 0
        for u in urls
    ]


def shards_cli(capsys, *args) -> dict:
    assert cli.main(["shards", *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_adding_a_shard_moves_the_rehomed_channels_with_nothing_lost(monkeypatch, capsys):
    with mysql_support.databases(3, "reshard") as urls:
        old, new = urls[:2], urls[2]
        asyncio.run(fill(old))
        before = asyncio.run(content(old))
        total = sum(len(rows) for rows in before.values())
        moving = [ch for ch in CHANNELS if shard_for(ch, 2) != shard_for(ch, 3)]
        assert moving and len(moving) < len(CHANNELS)

        # a run that crashed half-way: the move is marked, one channel copied, not deleted
        crashed = moving[0]

        async def half_done():
            src = db.Pool(parse(old[shard_for(crashed, 2)], "t"), size=1, timeout=5)
            dst_url = parse(urls[shard_for(crashed, 3)], "t")
            await db.prepare(dst_url, "shard", reshard.migrations.SHARD, timeout=5)
            dst = db.Pool(dst_url, size=1, timeout=5)
            d, store = await open_storage(settings(old))
            await store.close()
            try:
                await reshard._copy(src, dst, crashed)
                marker = {"from": 2, "to": 3, "url": parse(new, "t").redacted()}
                await d.set_meta({"shard_move": json.dumps(marker)})
            finally:
                await src.close()
                await dst.close()
                await d.close()

        asyncio.run(half_done())
        assert sum(rows_per_shard(urls, crashed)) == 2 * len(before[crashed])
        with pytest.raises(ConfigError, match="did not finish"):
            asyncio.run(content(old))

        monkeypatch.setenv("PARLEY_SHARDS", ",".join(old))
        listed = shards_cli(capsys, "list")
        assert listed["moving"]["to"] == 3 and listed["recorded_shards"] == 2

        added = shards_cli(capsys, "add", new)
        assert added["shards"] == 3 and added["moved_channels"] == len(moving)
        assert added["moved_messages"] == sum(len(before[ch]) for ch in moving)

        monkeypatch.setenv("PARLEY_SHARDS", ",".join(urls))
        listed = shards_cli(capsys, "list")
        assert listed["recorded_shards"] == 3 and listed["moving"] is None
        assert [s["url"] for s in listed["shards"]] == [parse(u, "t").redacted() for u in urls]
        assert sum(s["messages"] for s in listed["shards"]) == total
        assert all(s["messages"] > 0 for s in listed["shards"])

        after = asyncio.run(content(urls))
        assert after == before  # every message, edit, deletion, reaction and thread
        for ch in CHANNELS:
            expected = [0, 0, 0]
            expected[shard_for(ch, 3)] = len(before[ch])
            assert rows_per_shard(urls, ch) == expected

        async def keep_posting():
            d, store = await open_storage(settings(urls))
            try:
                return (await store.post(post(9999, crashed))).message.seq
            finally:
                await store.close()
                await d.close()

        assert asyncio.run(keep_posting()) == before[crashed][-1].seq + 1
        with pytest.raises(ConfigError, match="records 3 shards; PARLEY_SHARDS names 2"):
            asyncio.run(content(old))
        assert cli.main(["shards", "add", new]) == 1
        assert "already shard 3" in capsys.readouterr().err


def test_adding_a_shard_refuses_while_a_node_is_connected(monkeypatch, capsys):
    with mysql_support.databases(3, "busy") as urls:

        async def go():
            d, store = await open_storage(settings(urls[:2]))
            try:
                await store.post(post(1, "CAAAA"))
                return cli.main(["shards", "add", urls[2]])
            finally:
                await store.close()
                await d.close()

        monkeypatch.setenv("PARLEY_SHARDS", ",".join(urls[:2]))
        assert asyncio.run(go()) == 1
        assert "stop every Parley node" in capsys.readouterr().err
        assert shards_cli(capsys, "list")["recorded_shards"] == 2


def test_shards_commands_need_mysql(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("PARLEY_SHARDS", raising=False)
    monkeypatch.delenv("PARLEY_SHARD_URLS", raising=False)
    assert cli.main(["shards", "list"]) == 1
    assert "PARLEY_SHARDS=mysql://" in capsys.readouterr().err
