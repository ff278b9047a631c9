"""SIGKILL during a burst of sends loses nothing that was acknowledged."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import aiohttp
from slack_sdk import WebClient

from parley import admin
from parley.config import Settings
from tests.helpers import TEST_RATE_LIMIT, server_process

CHANNELS = 6
SENDERS = 48


async def burst(
    url: str,
    token: str,
    channels: list[str],
    acked: list[tuple[str, str, str]],
    kill_after: int,
    proc,
) -> int:
    """Senders post until the server dies; the server is SIGKILLed after ``kill_after`` acks."""
    headers = {"Authorization": f"Bearer {token}"}
    attempts = 0

    async def sender(i: int, session: aiohttp.ClientSession) -> None:
        nonlocal attempts
        n = 0
        while True:
            channel = channels[(i + n) % len(channels)]
            text = f"sender {i} message {n}"
            n += 1
            attempts += 1
            try:
                async with session.post(
                    f"{url}/api/chat.postMessage",
                    headers=headers,
                    json={"channel": channel, "text": text},
                ) as resp:
                    body = await resp.json()
            except (TimeoutError, aiohttp.ClientError):
                return  # the server is gone; whatever was in flight was never acknowledged
            assert body["ok"], body
            acked.append((channel, body["ts"], text))
            if len(acked) == kill_after:
                proc.send_signal(signal.SIGKILL)

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(sender(i, session) for i in range(SENDERS)))
    return attempts


def test_sigkill_loses_no_acknowledged_message(tmp_path):
    settings = Settings.load({}, data_dir=tmp_path)
    creds = admin.create_user(settings, "crasher", rate_limit=TEST_RATE_LIMIT)
    acked: list[tuple[str, str, str]] = []
    with server_process(tmp_path) as (proc, url):
        client = WebClient(token=creds.token, base_url=f"{url}/api/")
        channels = [
            client.conversations_create(name=f"crash-{i}")["channel"]["id"] for i in range(CHANNELS)
        ]
        attempts = asyncio.run(burst(url, creds.token, channels, acked, 3000, proc))
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 3000 and attempts > len(acked)  # some sends were cut off mid-flight

    # the files open cleanly after the kill
    for path in sorted(tmp_path.glob("*.db")):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", path
        conn.close()

    with server_process(tmp_path) as (_proc, url):
        client = WebClient(token=creds.token, base_url=f"{url}/api/")
        stored: dict[str, dict[str, dict]] = {}
        for ch in channels:
            stored[ch] = {}
            for page in client.conversations_history(channel=ch, limit=999):
                for m in page["messages"]:
                    stored[ch][m["ts"]] = dict(m)
        missing = [
            a for a in acked if a[1] not in stored[a[0]] or stored[a[0]][a[1]]["text"] != a[2]
        ]
        assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
        for ch in channels:  # seq stays gap-free across the crash
            seqs = sorted(m["seq"] for m in stored[ch].values())
            assert seqs == list(range(1, len(seqs) + 1))
        # and the store keeps working after recovery
        after = client.chat_postMessage(channel=channels[0], text="after the crash")["message"]
        assert after["seq"] == len(stored[channels[0]]) + 1
