"""The bench's target server and the workspace it loads: sender users, channels and
subscriber users with their memberships. Set-up only; nothing here is measured."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from parley import admin
from parley.bench import procs
from parley.bench.http import Pool, decode
from parley.bench.presets import Preset
from parley.config import Settings
from parley.server import free_port, serve_command


@dataclass(frozen=True)
class Target:
    """A running server: its Web API URL, the data dir its users live in, and its pid
    (``None`` when it cannot be seen). ``fleet``: behind a load balancer, the Parley
    servers running on this machine, whose CPU and memory are reported summed; otherwise
    empty. With neither, server CPU and memory go unreported."""

    url: str
    settings: Settings
    pid: int | None
    fleet: tuple[int, ...] = ()

    @property
    def measured(self) -> tuple[int, ...]:
        """The processes whose CPU and memory are the server's."""
        return (self.pid,) if self.pid is not None else self.fleet

    def cpu_seconds(self) -> float:
        """Their CPU seconds so far (a process that has exited counts no more)."""
        return sum(procs.or_0(procs.cpu_seconds, pid) for pid in self.measured)

    def peak_rss_mib(self) -> float:
        """The sum of their peak resident memory (a process gone counts no more)."""
        return sum(procs.or_0(procs.peak_rss_mib, pid) for pid in self.measured)


@contextlib.contextmanager
def own_server(data_dir: Path, extra: dict[str, str] | None = None) -> Iterator[Target]:
    """A fresh embedded server on ``data_dir`` (with the settings ``extra``, by field
    name), stopped on exit."""
    extra = extra or {}
    settings = Settings.load({}, data_dir=data_dir, **extra)
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **{f"PARLEY_{k.upper()}": v for k, v in extra.items()}}
    server = subprocess.Popen(
        serve_command(data_dir, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_healthy(url)
        yield Target(url, settings, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def attach(url: str, data_dir: Path) -> Target:
    """A server someone else started on this machine, serving ``data_dir``, or a fleet
    whose shared store the ``PARLEY_*`` environment names (``PARLEY_SHARDS``): the bench
    creates its users where the server reads them. Its pid is that of the process
    listening on the URL's port when that is a Parley server; behind a load balancer
    (another process listens) the servers measured are every Parley server running on
    this machine, their CPU and memory summed."""
    url = url.rstrip("/")
    wait_healthy(url, timeout=5)
    pid = procs.pid_listening(urlsplit(url).port or 80)
    if pid is None or procs.is_parley_server(pid):
        return Target(url, Settings.load(data_dir=data_dir), pid)
    return Target(url, Settings.load(data_dir=data_dir), None, procs.parley_servers())


def wait_healthy(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def call(url: str, method: str, token: str, **args: Any) -> dict:
    """One Web API call (set-up, not measured); raises unless ``ok``."""

    async def go() -> dict:
        pool = Pool(url, 1)
        await pool.open()
        try:
            _, body = await pool.post(f"/api/{method}", orjson.dumps(args), token)
        finally:
            pool.close()
        return decode(body)

    reply = uvloop.run(go())
    if not reply.get("ok"):
        raise RuntimeError(f"{method}: {reply}")
    return reply


@dataclass
class World:
    """What a preset runs against.

    Sender ``j`` is a member of exactly the channels it posts to (``targets`` pairs), so on
    the WebSocket route each message echoes to one sender connection, as in Slack. Each
    subscriber connection ``k`` follows ``channel_of[k]`` and nothing else: its user (one
    of at most ``max_users``, several devices each beyond that) is a member of that
    channel only."""

    sender_tokens: list[str]
    targets: list[tuple[int, str]]
    channels: list[str]
    sub_tokens: list[str]
    channel_of: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def populate(target: Target, preset: Preset, say) -> World:
    run = secrets.token_hex(3)  # names stay unique on a reused data dir (--url)
    say(f"creating {preset.senders} senders, {preset.channels} channels and the subscribers")
    senders = [  # the load's own people: not announced to the team (team_join)
        admin.create_user(
            target.settings, f"bench{run}-sender-{j}", rate_limit=100_000, announce=False
        )
        for j in range(preset.senders)
    ]
    channels, owners = [], []
    for i in range(preset.channels):
        owner = i % preset.senders
        reply = call(
            target.url, "conversations.create", senders[owner].token, name=f"bench{run}-{i}"
        )
        channels.append(reply["channel"]["id"])
        owners.append(owner)
    if preset.channels >= preset.senders:
        targets = [(owners[i], channels[i]) for i in range(preset.channels)]
    else:  # fewer channels than senders: each sender joins one channel
        targets = [(j, channels[j % preset.channels]) for j in range(preset.senders)]
    members: dict[str, list[str]] = {ch: [] for ch in channels}
    for j, channel in targets:
        if j != owners[channels.index(channel)]:
            members[channel].append(senders[j].user_id)

    users = _user_count(preset.subscribers, preset.max_users, preset.channels)
    subs = [
        admin.create_user(target.settings, f"bench{run}-sub-{u}", bot=True, rate_limit=100)
        for u in range(users)
    ]
    for u, sub in enumerate(subs):
        members[channels[u % preset.channels]].append(sub.user_id)
    for channel, ids in members.items():
        for start in range(0, len(ids), 500):
            call(
                target.url,
                "conversations.invite",
                senders[owners[channels.index(channel)]].token,
                channel=channel,
                users=",".join(ids[start : start + 500]),
            )
    return World(
        sender_tokens=[s.token for s in senders],
        targets=targets,
        channels=channels,
        sub_tokens=[subs[k % users].token for k in range(preset.subscribers)],
        channel_of=[channels[k % users % preset.channels] for k in range(preset.subscribers)],
    )


def _user_count(subscribers: int, max_users: int, channels: int) -> int:
    """How many subscriber users: one per connection up to ``max_users``, then a multiple
    of ``channels`` so that connection ``k`` and user ``k mod users`` share a channel."""
    if subscribers <= max_users:
        return subscribers
    return max(channels, max_users // channels * channels)
