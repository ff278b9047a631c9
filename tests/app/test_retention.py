"""Message retention (:mod:`parley.retention`): a workspace's span and a conversation's
own, set by an operator from the command line or with Slack's
``admin.conversations.*CustomRetention``; a sweep removes what is older, from history,
threads and search, on SQLite (and MariaDB: ``check_retention``). The sweep runs on the
server's loop with its clock moved ahead, as the worker's does when the days pass; and
``parley retention sweep`` on a data dir whose Slack import is years old."""

from __future__ import annotations

import asyncio

from parley import admin
from parley.config import Settings
from parley.ids import wall_us
from parley.retention import DAY_US, Retention, Swept
from tests.app.test_metrics import scrape, value
from tests.app.test_search import texts, wait_total
from tests.app.test_slack_import import export_zip, parley
from tests.helpers import RunningServer, WsClient, error_of, server_in_thread
from tests.subscriber import wait_for

ADMIN_SCOPES = "admin.conversations:read,admin.conversations:write"


def sweep(srv: RunningServer, days_ahead: float) -> Swept:
    """One sweep on the server's loop, its clock ``days_ahead`` days on."""
    svc = srv.services
    assert svc is not None and srv.loop is not None
    retention = Retention(
        svc.directory,
        svc.store,
        svc.search_index,
        svc.recent,
        svc.files.remove,
        clock_us=lambda: wall_us() + int(days_ahead * DAY_US),
        interval=60,
        batch=2,  # several batches a conversation
    )
    return asyncio.run_coroutine_threadsafe(retention.sweep(), srv.loop).result(60)


async def resumed(url: str, channel: str) -> list[dict]:
    """The frames a connection resuming at ``url`` replays of ``channel``."""
    client = await WsClient.open(url)
    try:
        frames = await client.until(type="resume_done")
    finally:
        client.close()
    return [f for f in frames if f.get("channel") == channel]


def test_retention_removes_what_is_past_its_span(server):
    check_retention(server, "emb")


def check_retention(srv: RunningServer, tag: str) -> None:
    """A workspace of its own keeps messages a day, one channel a month: two days on,
    the first channel's messages and thread are gone from history, replies and search,
    the other's are all there, and another workspace's are untouched; the channel goes
    on numbering after what was removed. The methods check their arguments and scope
    and see only the caller's workspace."""
    team = admin.create_workspace(srv.settings, f"retention-{tag}")
    ann_u = srv.user(f"ret-ann-{tag}", team_id=team.id)
    ops_u = srv.user(f"ret-ops-{tag}", team_id=team.id, scopes=ADMIN_SCOPES)
    other = admin.create_workspace(srv.settings, f"elsewhere-{tag}")
    stranger_u = srv.user(f"ret-stranger-{tag}", team_id=other.id)
    ann, ops, stranger = (srv.client(u.token) for u in (ann_u, ops_u, stranger_u))
    brief = ann.conversations_create(name=f"brief-{tag}")["channel"]["id"]
    kept = ann.conversations_create(name=f"kept-{tag}", is_private=True)["channel"]["id"]
    elsewhere = stranger.conversations_create(name=f"elsewhere-{tag}")["channel"]["id"]
    word = f"ephemera{tag}"
    parent = ann.chat_postMessage(channel=brief, text=f"{word} thread")["ts"]
    ann.chat_postMessage(channel=brief, text=f"{word} reply", thread_ts=parent)
    for n in range(4):
        ann.chat_postMessage(channel=brief, text=f"{word} brief {n}")
        ann.chat_postMessage(channel=kept, text=f"{word} kept {n}")
    stranger.chat_postMessage(channel=elsewhere, text=f"{word} elsewhere")
    files = {
        where: ann.files_upload_v2(content=where.encode(), filename=f"{where}.txt", **to)["file"][
            "id"
        ]
        for where, to in (
            ("brief", {"channel": brief}),
            ("kept", {"channel": kept}),
            ("nowhere", {}),
        )
    }
    ann.pins_add(channel=brief, timestamp=parent)
    ann.stars_add(channel=brief, timestamp=parent)
    wait_total(ann, word, 10)
    messages_before = len(ann.conversations_history(channel=brief)["messages"])

    admin.set_retention(srv.settings, 1, team_id=team.id)
    assert ops.admin_conversations_setCustomRetention(channel_id=kept, duration_days=30)["ok"]
    got = ops.admin_conversations_getCustomRetention(channel_id=kept)
    assert (got["is_policy_enabled"], got["duration_days"]) == (True, 30)
    got = ops.admin_conversations_getCustomRetention(channel_id=brief)
    assert (got["is_policy_enabled"], got["duration_days"]) == (False, 0)
    set_kept = ops.admin_conversations_setCustomRetention
    assert error_of(set_kept, channel_id=kept, duration_days=0) == "invalid_arguments"
    assert error_of(set_kept, channel_id=kept, duration_days=36_501) == "invalid_arguments"
    method = "admin.conversations.setCustomRetention"
    assert error_of(ops.api_call, method, params={"channel_id": kept}) == "invalid_arguments"
    assert error_of(set_kept, channel_id=elsewhere, duration_days=1) == "channel_not_found"
    assert error_of(set_kept, channel_id="CNOPE", duration_days=1) == "channel_not_found"
    no_scope = ann.admin_conversations_setCustomRetention
    assert error_of(no_scope, channel_id=kept, duration_days=1) == "missing_scope"

    assert sweep(srv, 0.5) == Swept()  # nothing is a day old yet
    # brief's thread and posts (and the message sharing its file), its file and the file
    # shared nowhere; kept's file stays while kept keeps its messages
    assert sweep(srv, 2) == Swept(channels=1, messages=messages_before + 1, files=2)
    assert sweep(srv, 2) == Swept()  # what was removed stays removed, nothing twice
    for where in ("brief", "nowhere"):
        assert error_of(ann.files_info, file=files[where]) == "file_not_found"
    assert ann.files_info(file=files["kept"])["file"]["name"] == "kept.txt"

    assert ann.conversations_history(channel=brief)["messages"] == []
    assert error_of(ann.conversations_replies, channel=brief, ts=parent) == "thread_not_found"
    assert ann.pins_list(channel=brief)["items"] == [] and ann.stars_list()["items"] == []
    # a client resuming from before hears only that the newest (the file's share) was
    # deleted, though the recent buffer held all seven
    replay = asyncio.run(resumed(ann.rtm_connect(resume={brief: 0})["url"], brief))
    assert [(f["seq"], f.get("subtype")) for f in replay] == [(7, "message_deleted")]
    kept_texts = [m["text"] for m in ann.conversations_history(channel=kept)["messages"]]
    assert kept_texts == ["", *(f"{word} kept {n}" for n in reversed(range(4)))]  # a file's
    assert len(stranger.conversations_history(channel=elsewhere)["messages"]) == 1
    found = wait_total(ann, word, 4)
    assert sorted(texts(found)) == [f"{word} kept {n}" for n in range(4)]
    # the channel goes on after what it lost
    ts = ann.chat_postMessage(channel=brief, text="a new day")["ts"]
    assert [m["ts"] for m in ann.conversations_history(channel=brief)["messages"]] == [ts]

    assert ops.admin_conversations_removeCustomRetention(channel_id=kept)["ok"]
    got = ops.admin_conversations_getCustomRetention(channel_id=kept)
    assert (got["is_policy_enabled"], got["duration_days"]) == (False, 0)
    # kept now follows the workspace; brief's emptied message is no longer its newest
    assert sweep(srv, 40) == Swept(channels=2, messages=7, files=1)
    assert error_of(ann.files_info, file=files["kept"]) == "file_not_found"
    assert admin.remove_retention(srv.settings, team_id=team.id)["removed"]
    assert all(p["team_id"] != team.id for p in admin.list_retention(srv.settings))
    assert len(stranger.conversations_history(channel=elsewhere)["messages"]) == 1


def test_an_operator_applies_retention_to_an_imported_history(tmp_path):
    """``parley import slack`` of a 2021 export, then ``parley retention``: a year's
    span for the workspace and ten years' for #general; ``sweep`` removes every other
    conversation's history (threads, direct and group messages, private channels) and
    keeps #general's; the server then shows that, and search finds only #general's."""
    data = tmp_path / "data"
    settings = Settings.load({}, data_dir=data)
    ann = admin.create_user(settings, "ann", password="ann's passphrase")
    code, report = parley(
        "import", "slack", str(export_zip(tmp_path / "x.zip")), "--data-dir", str(data)
    )
    assert code == 0 and report["messages"] == 13, report
    code, out = parley("retention", "set", "--days", "365", "--data-dir", str(data))
    assert code == 0 and out == {"team_id": ann.team_id, "channel_id": None, "days": 365}
    code, out = parley(
        "retention", "set", "--days", "3650", "--channel", "#general", "--data-dir", str(data)
    )
    assert code == 0 and out["days"] == 3650 and out["channel_id"]
    code, err = parley("retention", "set", "--days", "0", "--data-dir", str(data))
    assert code == 1 and "1 to 36500" in err["error"]
    code, err = parley(
        "retention", "set", "--days", "9", "--channel", "nope", "--data-dir", str(data)
    )
    assert code == 1 and "no conversation nope" in err["error"]
    code, swept = parley("retention", "sweep", "--data-dir", str(data))
    assert code == 0 and swept == {"channels": 4, "messages": 4, "files": 0}, swept
    with server_in_thread(data, shards=1, retention_interval=0.2) as srv:
        a = srv.client(ann.token)
        kinds = "public_channel,private_channel,mpim,im"
        conversations = a.conversations_list(types=kinds)["channels"]
        history = {
            c.get("name", c["id"]): a.conversations_history(channel=c["id"])["messages"]
            for c in conversations
        }
        assert len(history) == 5
        assert len(history.pop("general")) == 8  # 9 imported, one of them a thread's reply
        assert all(messages == [] for messages in history.values()), history
        assert texts(wait_total(a, "psst", 0)) == []
        assert len(texts(wait_total(a, "deployed", 1))) == 1
        code, err = parley("retention", "sweep", "--data-dir", str(data))
        assert code == 1 and "already served" in err["error"]
        # while it serves: #general follows the workspace again, and the server's own
        # sweep removes its history within moments
        code, out = parley("retention", "remove", "--channel", "general", "--data-dir", str(data))
        assert code == 0 and out["removed"]
        general = next(c["id"] for c in conversations if c.get("name") == "general")
        wait_for(
            lambda: a.conversations_history(channel=general)["messages"] == [],
            10,
            "the server's sweep",
        )
        assert texts(wait_total(a, "deployed", 0)) == []
        figures = scrape(srv.url)
        # #general's 9: 8 removed, its newest emptied
        assert value(figures, "parley_retention_removed_total") == 9
        assert value(figures, "parley_retention_sweeps_total", outcome="ok") >= 1
        assert value(figures, "parley_retention_sweeps_total", outcome="failed") == 0
    code, listed = parley("retention", "list", "--data-dir", str(data))
    assert code == 0 and listed == {"team_id": ann.team_id, "channel_id": None, "days": 365}


def test_a_sweep_beside_a_fleet_has_its_recent_buffer_forget(tmp_path):
    """``parley retention sweep`` with ``PARLEY_REDIS_URL``: the conversations it took
    messages from are dropped from the fleet's recent buffer in Redis, so no node
    replays them from there; a conversation it left alone keeps its buffer."""
    import dataclasses

    import redis

    from tests import redis_support

    redis_support.require_redis()
    prefix = redis_support.fresh_prefix()
    data = tmp_path / "data"
    settings = Settings.load({}, data_dir=data)
    admin.create_user(settings, "ann", password="ann's passphrase")
    code, report = parley(
        "import", "slack", str(export_zip(tmp_path / "x.zip")), "--data-dir", str(data)
    )
    assert code == 0, report
    admin.set_retention(settings, 365)
    admin.set_retention(settings, 3650, channel="general")
    d = admin._directory(settings)
    team = admin.resolve_workspace(settings, None)
    channels = {
        c.name: c.id for c in d.admin_read(settings, d.q_all_channels, team.id, "", 100).rows
    }
    client = redis.Redis.from_url(redis_support.URL)
    try:
        for channel_id in channels.values():
            client.zadd(f"{prefix}recent:{channel_id}", {b"1:x": 1})
        fleet = dataclasses.replace(settings, redis_url=redis_support.URL, redis_prefix=prefix)
        assert admin.sweep_retention(fleet) == {"channels": 4, "messages": 4, "files": 0}
        kept = [n for n, c in channels.items() if client.exists(f"{prefix}recent:{c}")]
        assert kept == ["general"]
    finally:
        client.close()
        redis_support.drop_prefix(prefix)
