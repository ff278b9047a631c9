"""``parley backup`` of a data dir while its server takes posts, and ``parley restore``
into another that a second server then serves: everything acknowledged before the
backup began is there, each channel's history a gap-free prefix of what was sent, with
its users, tokens, threads, reactions, files and search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from parley import admin
from parley.config import Settings
from tests.helpers import fetch, server_in_thread


def parley(*args: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=120
    )
    out = proc.stdout if proc.returncode == 0 else proc.stderr
    return proc.returncode, json.loads(out.strip().splitlines()[-1])


def history(client, channel: str) -> list[dict]:
    found = []
    for page in client.conversations_history(channel=channel, limit=200):
        found += page["messages"]
    return sorted(found, key=lambda m: m["seq"])


def eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def test_a_backup_taken_under_load_restores_to_a_server_with_everything_acknowledged(tmp_path):
    with server_in_thread(tmp_path / "live") as live:
        alice = live.user("alice")
        client = live.client(alice.token)
        quiet = client.conversations_create(name="quiet")["channel"]["id"]
        busy = client.conversations_create(name="busy")["channel"]["id"]
        parent = client.chat_postMessage(channel=quiet, text="a thread starts")["ts"]
        client.chat_postMessage(channel=quiet, text="a reply to it", thread_ts=parent)
        client.reactions_add(channel=quiet, timestamp=parent, name="tada")
        upload = client.files_upload_v2(channel=quiet, content=b"kept bytes", filename="k.txt")
        file_id = upload["file"]["id"]

        acked: list[str] = []
        stop = threading.Event()

        def post_until_stopped() -> None:
            i = 0
            while not stop.is_set():
                acked.append(client.chat_postMessage(channel=busy, text=f"busy {i}")["ts"])
                i += 1

        sender = threading.Thread(target=post_until_stopped)
        sender.start()
        while len(acked) < 50:
            time.sleep(0.01)
        before = list(acked)  # acknowledged before the backup began
        code, made = parley("backup", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "live"))
        time.sleep(0.2)  # posts go on after it too
        stop.set()
        sender.join()
        assert code == 0, made
        assert made["files"][-1] == "meta.db" and made["files"][0].startswith("search-")
        assert len(acked) > len(before)

    code, restored = parley("restore", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "new"))
    assert code == 0, restored and restored["files"] == made["files"]
    with server_in_thread(tmp_path / "new") as again:
        client = again.client(alice.token)  # the token: the directory came back
        assert client.auth_test()["user_id"] == alice.user_id
        kept = history(client, busy)
        seqs = [m["seq"] for m in kept]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap
        kept_ts = [m["ts"] for m in kept]
        assert set(before) <= set(kept_ts) <= set(acked)  # a prefix of what was sent
        assert kept_ts == acked[: len(kept_ts)]
        quiet_history = history(client, quiet)
        top = next(m for m in quiet_history if m["ts"] == parent)
        assert top["reply_count"] == 1 and top["reactions"][0]["name"] == "tada"
        replies = client.conversations_replies(channel=quiet, ts=parent)["messages"]
        assert [m["text"] for m in replies] == ["a thread starts", "a reply to it"]
        url = client.files_info(file=file_id)["file"]["url_private"]
        status, _, body = fetch(url, alice.token)
        assert (status, body) == (200, b"kept bytes")
        # the index came back behind the shards and catches up from them
        assert eventually(
            lambda: client.search_messages(query="busy")["messages"]["total"] >= len(before)
        )
        # and it serves on: the next post follows the restored history
        nxt = client.chat_postMessage(channel=busy, text="after the restore")["ts"]
        assert [(m["ts"], m["seq"]) for m in history(client, busy)][-1] == (nxt, seqs[-1] + 1)


def test_a_damaged_or_partial_backup_is_refused_and_the_data_dir_left_empty(tmp_path):
    with server_in_thread(tmp_path / "live") as live:
        live.user("someone")
    code, _ = parley("backup", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "live"))
    assert code == 0
    shard = next((tmp_path / "bk").glob("shard-*.db"))

    def flip() -> None:  # one byte changed, past the header
        with shard.open("r+b") as f:
            f.seek(shard.stat().st_size - 100)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))

    flip()
    code, err = parley("restore", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "new"))
    assert code == 1 and shard.name in err["error"] and "checksum" in err["error"]
    assert not list((tmp_path / "new").glob("*.db"))
    flip()  # mended; now a file goes missing
    (tmp_path / "bk" / "meta.db").unlink()
    code, err = parley("restore", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "new"))
    assert code == 1 and "meta.db is missing" in err["error"]
    code, err = parley("backup", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "live"))
    assert code == 1 and "not empty" in err["error"]
    code, err = parley("backup", str(tmp_path / "b2"), "--data-dir", str(tmp_path / "nothing"))
    assert code == 1 and "no meta.db" in err["error"]


def test_restoring_into_a_data_dir_a_server_has_open_is_refused(tmp_path):
    with server_in_thread(tmp_path / "live") as live:
        live.user("someone")
        code, _ = parley("backup", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "live"))
        assert code == 0
        os.makedirs(tmp_path / "busy")
        with server_in_thread(tmp_path / "busy"):
            for target in ("live", "busy"):
                code, err = parley(
                    "restore", str(tmp_path / "bk"), "--data-dir", str(tmp_path / target)
                )
                assert code == 1 and "already served by another process" in err["error"], err


def test_a_mariadb_installation_is_pointed_to_mariadbs_own_tools(tmp_path):
    settings = Settings.load({}, data_dir=tmp_path, shard_urls=("mysql://root@127.0.0.1/x",))
    with pytest.raises(admin.AdminError, match="mariadb-dump"):
        admin.backup(settings, str(Path(tmp_path) / "bk"))
