"""The admin commands print one JSON object and work with or without a running server."""

from __future__ import annotations

import json
import subprocess
import sys

from slack_sdk import WebClient

from tests.helpers import server_process


def parley(*args: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=60
    )
    out = proc.stdout if proc.returncode == 0 else proc.stderr
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return proc.returncode, json.loads(lines[0])


def test_user_create_makes_a_default_workspace(tmp_path):
    code, alice = parley("user", "create", "alice", "--data-dir", str(tmp_path))
    assert code == 0 and set(alice) == {"team_id", "user_id", "token"}
    assert alice["token"].startswith("xoxp-") and alice["user_id"].startswith("U")
    code, bot = parley(
        "user", "create", "helper", "--bot", "--rate-limit", "50", "--data-dir", str(tmp_path)
    )
    assert code == 0 and bot["team_id"] == alice["team_id"] and bot["token"].startswith("xoxb-")
    code, err = parley("user", "create", "alice", "--data-dir", str(tmp_path))
    assert code == 1 and "already exists" in err["error"]


def test_team_is_required_once_there_are_several(tmp_path):
    code, first = parley("workspace", "create", "Acme", "--data-dir", str(tmp_path))
    assert code == 0 and first["team_id"].startswith("T")
    code, _ = parley("workspace", "create", "Globex", "--data-dir", str(tmp_path))
    code, err = parley("user", "create", "carol", "--data-dir", str(tmp_path))
    assert code == 1 and "--team" in err["error"]
    code, carol = parley(
        "user", "create", "carol", "--team", first["team_id"], "--data-dir", str(tmp_path)
    )
    assert code == 0 and carol["team_id"] == first["team_id"]
    code, err = parley("user", "create", "dave", "--team", "TNOPE", "--data-dir", str(tmp_path))
    assert code == 1


def test_users_created_while_the_server_runs_can_post(tmp_path):
    with server_process(tmp_path) as (_proc, url):
        code, creds = parley("user", "create", "late", "--data-dir", str(tmp_path))
        assert code == 0
        client = WebClient(token=creds["token"], base_url=f"{url}/api/")
        ch = client.conversations_create(name="late-room")["channel"]["id"]
        assert client.chat_postMessage(channel=ch, text="made it")["ok"]


def test_app_command_registers_a_slash_command(tmp_path):
    data = ("--data-dir", str(tmp_path))
    _code, bot = parley("user", "create", "deployer", "--bot", *data)
    code, cmd = parley("app", "command", bot["user_id"], "/Deploy", "--description", "ship", *data)
    assert code == 0 and (cmd["command"], cmd["socket_mode"]) == ("/deploy", True)
    code, moved = parley(
        "app", "command", bot["user_id"], "/deploy", "--url", "http://127.0.0.1:9/c", *data
    )
    assert code == 0 and moved["request_url"] == "http://127.0.0.1:9/c"
    assert moved["signing_secret"] == cmd["signing_secret"]
    code, error = parley("app", "command", bot["user_id"], "deploy", *data)
    assert code != 0 and "slash" in error["error"]


def test_app_shortcut_registers_a_global_or_message_shortcut(tmp_path):
    data = ("--data-dir", str(tmp_path))
    _code, bot = parley("user", "create", "shortcutter", "--bot", *data)
    code, made = parley("app", "shortcut", bot["user_id"], "new_ticket", "New ticket", *data)
    assert code == 0 and (made["kind"], made["name"]) == ("global", "New ticket")
    code, made = parley("app", "shortcut", bot["user_id"], "file_it", "File it", "--message", *data)
    assert code == 0 and made["kind"] == "message"
    code, error = parley("app", "shortcut", bot["user_id"], "x", " ", *data)
    assert code != 0 and "name" in error["error"]
    _code, person = parley("user", "create", "someone", *data)
    code, error = parley("app", "shortcut", person["user_id"], "x", "X", *data)
    assert code != 0
