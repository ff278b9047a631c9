"""Two terminals chatting through `python -m parley.chat` (the make-run demo flow)."""

from __future__ import annotations

import subprocess
import sys
import time

from parley import admin
from parley.config import Settings
from tests.helpers import server_process


def test_two_terminals_chat(tmp_path):
    demo = admin.demo(Settings.load({}, data_dir=tmp_path))
    with server_process(tmp_path) as (_proc, url):

        def chat(token: str) -> subprocess.Popen:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parley.chat",
                    "--url",
                    url,
                    "--channel",
                    demo.general.id,
                    "--token",
                    token,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )

        alice, bob = chat(demo.alice_bot.token), chat(demo.bob_bot.token)
        try:
            for term in (alice, bob):
                assert term.stdout.readline().startswith("* connected as")
            alice.stdin.write("hello from the first terminal\n")
            alice.stdin.flush()
            deadline = time.monotonic() + 15
            line = ""
            while "hello from the first terminal" not in line and time.monotonic() < deadline:
                line = bob.stdout.readline()
            assert line.strip() == "[1] alice-bot: hello from the first terminal"
        finally:
            for term in (alice, bob):
                term.stdin.close()
                term.wait(15)


def test_make_run_prints_a_demo_sign_in_that_works(tmp_path):
    """`parley serve --demo` (what `make run` runs) prints the URL and a password with
    which alice and bob can sign in to the web client."""
    import json
    import re
    import urllib.request

    from slack_sdk import WebClient

    from parley.server import free_port

    port = free_port("127.0.0.1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--demo", "--port", str(port)]
        + ["--gateway-port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline, found = time.monotonic() + 30, None
        while found is None and time.monotonic() < deadline:
            found = re.search(
                r"Open (\S+)/ and sign in as alice or bob .* password (\S+)", proc.stdout.readline()
            )
        assert found, "no sign-in line"
        url, password = found.group(1), found.group(2)
        app_token = None
        while app_token is None and time.monotonic() < deadline:
            token = re.search(r"^\s+(xapp-\S+)$", proc.stdout.readline())
            app_token = token.group(1) if token else None
        assert app_token, "no app token"  # and it opens a Socket Mode connection:
        opened = WebClient(base_url=f"{url}/api/").apps_connections_open(app_token=app_token)
        assert "socket=1" in opened["url"]
        for name in ("alice", "bob"):
            req = urllib.request.Request(
                f"{url}/auth/signin",
                data=json.dumps({"username": name, "password": password}).encode(),
                headers={"Content-Type": "application/json", "X-Parley-Client": "web"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert json.loads(resp.read())["user"]["name"] == name
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_second_server_on_a_served_data_dir_refuses_to_start(tmp_path):
    """One data dir, one `parley serve`: a second one exits at once naming the holder,
    and the data dir serves again as soon as the first one is gone (even SIGKILLed)."""
    from tests.helpers import server_process

    with server_process(tmp_path) as (first, _url):
        second = subprocess.run(
            [sys.executable, "-m", "parley", "serve", "--port", "0", "--gateway-port", "0"]
            + ["--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"already served by another process (pid {first.pid})" in second.stderr
    with server_process(tmp_path):  # the first was SIGKILLed on the way out
        pass


def test_a_second_server_on_a_port_in_use_refuses_to_start(tmp_path):
    """A second server on a port already serving must refuse (had it shared the port with
    SO_REUSEPORT, it would take half of the first one's connections)."""
    from tests.helpers import server_process

    with server_process(tmp_path / "a") as (_first, url):
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "parley", "serve", "--port", port, "--gateway-port", "0"]
            + ["--data-dir", str(tmp_path / "b")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"127.0.0.1:{port} is in use by another server" in second.stderr
