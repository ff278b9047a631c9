"""``parley import slack``: a Slack workspace export (a ZIP in Slack's format, built
here) imported into a data dir, then served: people, channels public and private, direct
and group messages, each message at its Slack ``ts`` with its thread, reactions and
mentions, and the private boundary kept."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from parley import admin
from parley.config import Settings
from parley.slackexport import read as slack_export
from parley.slackexport.load import channel_name, rewrite, user_name
from tests.helpers import error_of, server_in_thread

DAY1, DAY2 = "1609459200", "1609545600"  # 2021-01-01 and 02, UTC

USERS = [
    {"id": "U01ANN", "name": "ann", "real_name": "Ann A", "profile": {"email": "ann@x.io"}},
    {"id": "U01BEN", "name": "Ben.B", "profile": {"real_name": "Ben B"}},
    {"id": "U01GONE", "name": "gone", "deleted": True, "profile": {}},
    {"id": "U01BOT", "name": "deploybot", "is_bot": True, "profile": {"bot_id": "B01BOT"}},
]
CHANNELS = [
    {
        "id": "C01GEN",
        "name": "general",
        "created": 1609000000,
        "creator": "U01ANN",
        "members": ["U01ANN", "U01BEN", "U01GONE", "U01BOT"],
        "topic": {"value": "Company-wide"},
        "purpose": {"value": ""},
    },
    {
        "id": "C01OLD",
        "name": "old-stuff",
        "created": 1609000000,
        "creator": "U01ANN",
        "is_archived": True,
        "members": ["U01ANN", "U01BEN"],
    },
]
GROUPS = [
    {
        "id": "G01SEC",
        "name": "secret",
        "created": 1609000000,
        "creator": "U01ANN",
        "members": ["U01ANN"],
    },
]
DMS = [{"id": "D01AB", "created": 1609000000, "members": ["U01ANN", "U01BEN"]}]
MPIMS = [
    {
        "id": "G01MP",
        "name": "mpdm-ann--ben.b--gone-1",
        "created": 1609000000,
        "creator": "U01ANN",
        "members": ["U01ANN", "U01BEN", "U01GONE"],
    },
]
GENERAL_DAY1 = [
    {
        "type": "message",
        "subtype": "channel_join",
        "user": "U01BEN",
        "text": "joined",
        "ts": f"{DAY1}.000050",
    },
    {
        "type": "message",
        "user": "U01ANN",
        "text": "hello <@U01BEN>",
        "ts": f"{DAY1}.000100",
        "thread_ts": f"{DAY1}.000100",
        "reply_count": 2,
        "reactions": [{"name": "tada", "users": ["U01BEN", "U01GONE"], "count": 2}],
    },
    {
        "type": "message",
        "user": "U01BEN",
        "text": "hi ann",
        "ts": f"{DAY1}.000200",
        "thread_ts": f"{DAY1}.000100",
    },
    {"type": "message", "user": "U01GONE", "text": "bye all", "ts": f"{DAY1}.000300"},
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B01BOT",
        "text": "deployed v2",
        "ts": f"{DAY1}.000400",
    },
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0ZAPIER",
        "username": "zapier",
        "text": "zap",
        "ts": f"{DAY1}.000500",
    },
    {
        "type": "message",
        "subtype": "file_share",
        "user": "U01ANN",
        "text": "",
        "files": [{"name": "plan.pdf"}],
        "ts": f"{DAY1}.000600",
    },
]
GENERAL_DAY2 = [
    {
        "type": "message",
        "user": "U01ANN",
        "text": "see <#C01OLD|old-stuff>",
        "ts": f"{DAY2}.000001",
    },
    {
        "type": "message",
        "subtype": "thread_broadcast",
        "user": "U01BEN",
        "text": "also here",
        "ts": f"{DAY2}.000002",
        "thread_ts": f"{DAY1}.000100",
    },
    {
        "type": "message",
        "subtype": "me_message",
        "user": "U01BEN",
        "text": "waves",
        "ts": f"{DAY2}.000003",
    },
]


def export_zip(path: Path) -> Path:
    """A Slack export as Slack makes one, in a folder inside the ZIP."""
    files = {
        "users.json": USERS,
        "channels.json": CHANNELS,
        "groups.json": GROUPS,
        "dms.json": DMS,
        "mpims.json": MPIMS,
        "general/2021-01-01.json": GENERAL_DAY1,
        "general/2021-01-02.json": GENERAL_DAY2,
        "old-stuff/2021-01-01.json": [
            {"type": "message", "user": "U01ANN", "text": "archived talk", "ts": f"{DAY1}.000001"}
        ],
        "secret/2021-01-01.json": [
            {"type": "message", "user": "U01ANN", "text": "private words", "ts": f"{DAY1}.000001"}
        ],
        "D01AB/2021-01-01.json": [
            {"type": "message", "user": "U01BEN", "text": "psst", "ts": f"{DAY1}.000001"}
        ],
        "mpdm-ann--ben.b--gone-1/2021-01-01.json": [
            {"type": "message", "user": "U01ANN", "text": "group hi", "ts": f"{DAY1}.000001"}
        ],
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, body in files.items():
            z.writestr(f"Acme Slack export/{name}", json.dumps(body))
    return path


def parley(*args: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=120
    )
    out = proc.stdout if proc.returncode == 0 else proc.stderr
    return proc.returncode, json.loads(out.strip().splitlines()[-1])


def texts(client, channel: str) -> list[tuple[str, str]]:
    history = client.conversations_history(channel=channel, limit=100)["messages"]
    return [(m["ts"], m["text"]) for m in reversed(history)]


def assert_imported(a, b, ann_id: str, ben_id: str) -> dict[str, str]:
    """What the export of :func:`export_zip` must be once imported, seen by ann (``a``)
    and ben (``b``); the conversations by name."""
    by_name = {
        c["name"]: c["id"]
        for c in a.conversations_list(types="public_channel,private_channel,mpim")["channels"]
    }
    general = by_name["general"]
    info = a.conversations_info(channel=general)["channel"]
    assert info["topic"]["value"] == "Company-wide"
    shown = texts(a, general)
    assert shown == [
        (f"{DAY1}.000100", f"hello <@{ben_id}>"),
        (f"{DAY1}.000300", "bye all"),
        (f"{DAY1}.000400", "deployed v2"),
        (f"{DAY1}.000500", "zap"),
        (f"{DAY1}.000600", "(files: plan.pdf)"),
        (f"{DAY2}.000001", f"see <#{by_name['old-stuff']}|old-stuff>"),
        (f"{DAY2}.000002", "also here"),
        (f"{DAY2}.000003", "waves"),
    ]
    top = a.conversations_replies(channel=general, ts=f"{DAY1}.000100")["messages"]
    assert [m["text"] for m in top] == [f"hello <@{ben_id}>", "hi ann", "also here"]
    history = {m["text"]: m for m in a.conversations_history(channel=general)["messages"]}
    gone_id = history["bye all"]["user"]
    (tada,) = top[0]["reactions"]
    assert (tada["name"], tada["count"], set(tada["users"])) == (
        "tada",
        2,
        {ben_id, gone_id},
    )
    assert history["waves"]["subtype"] == "me_message"
    bot = a.users_info(user=history["deployed v2"]["user"])["user"]
    assert bot["name"] == "deploybot" and bot["is_bot"] and history["deployed v2"]["bot_id"]
    zapier = a.users_info(user=history["zap"]["user"])["user"]
    assert zapier["name"] == "zapier" and zapier["deleted"] is True
    gone = a.users_info(user=history["bye all"]["user"])["user"]
    assert gone["deleted"] is True
    assert a.conversations_info(channel=by_name["old-stuff"])["channel"]["is_archived"]
    # the private boundary: ben is not in #secret
    secret = by_name["secret"]
    assert texts(a, secret) == [(f"{DAY1}.000001", "private words")]
    assert error_of(b.conversations_history, channel=secret) == "channel_not_found"
    assert "secret" not in {
        c["name"] for c in b.conversations_list(types="public_channel,private_channel")["channels"]
    }
    assert a.search_messages(query="private")["messages"]["total"] == 1
    assert b.search_messages(query="private")["messages"]["total"] == 0
    # the direct message is the one conversations.open finds
    dm = b.conversations_open(users=ann_id)["channel"]["id"]
    assert texts(b, dm) == [(f"{DAY1}.000001", "psst")]
    assert texts(a, by_name["mpdm-ann--ben-b--gone-1"]) == [(f"{DAY1}.000001", "group hi")]
    return by_name


def test_a_slack_export_is_imported_and_served(tmp_path):
    data = tmp_path / "data"
    settings = Settings.load({}, data_dir=data)
    # ann was made first, with a password: the import's ann is her
    ann = admin.create_user(settings, "ann", password="ann's passphrase")
    code, report = parley(
        "import", "slack", str(export_zip(tmp_path / "x.zip")), "--data-dir", str(data)
    )
    assert code == 0, report
    assert report["users"] == 4 and report["users_existing"] == 1  # ben, gone, bot, zapier
    assert report["channels"] == 5 and report["messages"] == 13 and report["reactions"] == 2
    assert report["skipped"] == {"channel_join": 1}
    ben = admin.issue_token(settings, ann.team_id, "ben.b")
    with server_in_thread(data, shards=1) as srv:
        a, b = srv.client(ann.token), srv.client(ben.token)
        by_name = assert_imported(a, b, ann.user_id, ben.user_id)
        general = by_name["general"]
        # and the channel goes on from its history
        now_ts = a.chat_postMessage(channel=general, text="back on Parley")["ts"]
        assert texts(a, general)[-1] == (now_ts, "back on Parley") and float(now_ts) > float(DAY2)
        # while it serves, an import is refused: it would write beside the server
        code, err = parley("import", "slack", str(tmp_path / "x.zip"), "--data-dir", str(data))
        assert code == 1 and "already served" in err["error"]
    # imported again: nothing twice
    code, again = parley("import", "slack", str(tmp_path / "x.zip"), "--data-dir", str(data))
    assert code == 0 and again["messages"] == 0 and again["messages_existing"] == 13
    assert again["users"] == 0 and again["channels"] == 0 and again["reactions"] == 0


def test_what_is_not_a_slack_export_is_refused(tmp_path):
    (tmp_path / "not.zip").write_bytes(b"nope")
    code, err = parley("import", "slack", str(tmp_path / "not.zip"), "--data-dir", str(tmp_path))
    assert code == 1 and "not a ZIP" in err["error"]
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("readme.txt", "hi")
    code, err = parley("import", "slack", str(tmp_path / "empty.zip"), "--data-dir", str(tmp_path))
    assert code == 1 and "not a Slack export" in err["error"]
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        z.writestr("users.json", "{not json")
        z.writestr("channels.json", "[]")
    code, err = parley("import", "slack", str(tmp_path / "bad.zip"), "--data-dir", str(tmp_path))
    assert code == 1 and "users.json is not JSON" in err["error"]


@pytest.mark.parametrize(
    ("slack", "parley_name"),
    [("Ben.B", "ben.b"), ("_x", "x"), ("Émile Zola", "mile-zola"), ("", "user")],
)
def test_names_become_parleys(slack, parley_name):
    assert user_name(slack) == parley_name


def test_mentions_are_rewritten_and_strangers_left_alone():
    out = rewrite("<@U1> <@U1|ann> <#C1|gen> <#C1> <@U9> <!here>", {"U1": "UNEW"}, {"C1": "CNEW"})
    assert out == "<@UNEW> <@UNEW|ann> <#CNEW|gen> <#CNEW> <@U9> <!here>"
    assert channel_name("Big News!") == "big-news-"


def test_an_export_read_keeps_ts_order_and_drops_the_channels_own_messages(tmp_path):
    export = slack_export.read(str(export_zip(tmp_path / "x.zip")))
    ts = [m.ts for m in export.messages["C01GEN"]]
    assert ts == sorted(ts) and len(ts) == 9 and export.skipped == {"channel_join": 1}
    assert {c.kind for c in export.channels} == {"channel", "private", "im", "mpim"}


def test_a_workspace_exported_as_slack_exports_imports_as_it_was(tmp_path):
    """Imported, exported (``parley export slack``), imported into another data dir:
    the same conversations, messages, ``ts``, threads, reactions and people."""
    first, second = tmp_path / "first", tmp_path / "second"
    code, _ = parley(
        "import", "slack", str(export_zip(tmp_path / "x.zip")), "--data-dir", str(first)
    )
    assert code == 0
    code, wrote = parley("export", "slack", str(tmp_path / "out.zip"), "--data-dir", str(first))
    assert code == 0 and (wrote["users"], wrote["channels"], wrote["messages"]) == (5, 5, 13)
    read_back = slack_export.read(str(tmp_path / "out.zip"))
    assert sorted(c.kind for c in read_back.channels) == [
        "channel",
        "channel",
        "im",
        "mpim",
        "private",
    ]
    code, report = parley("import", "slack", str(tmp_path / "out.zip"), "--data-dir", str(second))
    assert code == 0 and report["messages"] == 13 and report["reactions"] == 2, report
    assert report["skipped"] == {}
    settings = Settings.load({}, data_dir=second)
    team = admin.resolve_workspace(settings, None).id
    ann, ben = (admin.issue_token(settings, team, n) for n in ("ann", "ben.b"))
    with server_in_thread(second, shards=1) as srv:
        assert_imported(srv.client(ann.token), srv.client(ben.token), ann.user_id, ben.user_id)
