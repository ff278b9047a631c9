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
