"""The presence registry in the real Redis: connections counted per gateway node, users
online anywhere, ``active``/``away`` announced once for the whole fleet, and a node that
stops beating (as after SIGKILL) counted out by the others. Heartbeats of 50 ms here."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import msgspec
import pytest

from parley.cache.redis_client import connect
from parley.cache.redis_presence import RedisPresence, node_id
from parley.storage.models import User
from tests.redis_support import URL

pytestmark = pytest.mark.usefixtures("needs_redis")

BEAT = 0.05
ROOT = Path(__file__).resolve().parents[2]
ALICE = User("U1A", "T1", "alice", "", False, None, None, 0)
BOB = User("U1B", "T1", "bob", "", False, None, None, 0)
STRANGER = User("U1A", "T2", "alice elsewhere", "", False, None, None, 0)  # same id, other team


class Heard:
    """The ``presence_change`` events a fleet announced, in order (the order matters per
    user; changes of different users written in one batch come in any order)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def __call__(self, team: str, user: str, state: str) -> None:
        self.events.append((team, user, state))

    @staticmethod
    def per_user(events) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        for team, user, state in events:
            out.setdefault((team, user), []).append(state)
        return out

    async def until(self, *expected: tuple[str, str, str], timeout: float = 3.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.per_user(self.events) != self.per_user(expected):
            assert loop.time() < deadline, f"heard {self.events}, expected {list(expected)}"
            await asyncio.sleep(0.01)


async def fleet(prefix: str, heard: Heard, n: int):
    client = await connect(URL)
    nodes = [
        RedisPresence(client, heard, node=node_id(i), heartbeat=BEAT, prefix=prefix)
        for i in range(n)
    ]
    for node in nodes:
        await node.start()
    return client, nodes


async def close(client, nodes) -> None:
    for node in nodes:
        await node.close()
    await client.aclose()


def test_online_anywhere_and_one_announcement_per_change(prefix):
    async def go():
        heard = Heard()
        client, (a, b) = await fleet(prefix, heard, 2)
        try:
            assert await b.online("T1", [ALICE.id, BOB.id]) == set()
            await a.connected(ALICE)
            await heard.until(("T1", ALICE.id, "active"))
            await b.connected(ALICE)  # a second device, on another gateway: nothing to announce
            await b.connected(ALICE)
            assert await a.online("T1", [ALICE.id, BOB.id]) == {ALICE.id}
            assert await b.online("T2", [ALICE.id]) == set()  # never across workspaces
            a.disconnected(ALICE)
            b.disconnected(ALICE)
            await asyncio.sleep(0.1)
            assert await a.online("T1", [ALICE.id]) == {ALICE.id}  # one left, on b
            b.disconnected(ALICE)
            await heard.until(("T1", ALICE.id, "active"), ("T1", ALICE.id, "away"))
            assert await a.online("T1", [ALICE.id]) == set()
        finally:
            await close(client, [a, b])

    asyncio.run(go())


def test_someone_set_away_is_online_but_never_announced_active(prefix):
    """A user who set themselves away: their connection counts (push and apps go by it),
    but opening it announces nothing; closing it announces ``away``, as for anyone."""
    away_bob = msgspec.structs.replace(BOB, away=True)

    async def go():
        heard = Heard()
        client, (a,) = await fleet(prefix, heard, 1)
        try:
            await a.connected(away_bob)
            assert await a.online("T1", [BOB.id]) == {BOB.id}
            a.disconnected(away_bob)
            await heard.until(("T1", BOB.id, "away"))
            await a.connected(BOB)  # set auto since: active again
            await heard.until(("T1", BOB.id, "away"), ("T1", BOB.id, "active"))
        finally:
            await close(client, [a])

    asyncio.run(go())


class NodeProcess:
    """``tests/presence_node.py`` in a child process: a node with connections of
    ``users``, which the test can SIGKILL or SIGSTOP; what it announces is read back."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.heard: list[tuple[str, str, str]] = []

    @classmethod
    async def start(cls, prefix: str, *users: User) -> NodeProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.presence_node",
            URL,
            prefix,
            str(BEAT),
            *(f"{u.team_id}:{u.id}" for u in users),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        node = cls(proc)
        while (line := await asyncio.wait_for(proc.stdout.readline(), 30)) != b"ready\n":
            assert line, "the node process exited"
            node.heard.append(tuple(line.decode().split()))
        return node

    async def announces(self, expected: tuple[str, str, str], timeout: float = 3.0) -> None:
        """Waits for the node to announce ``expected`` (from now on)."""
        self.heard.clear()
        while expected not in self.heard:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            assert line, "the node process exited"
            self.heard.append(tuple(line.decode().split()))

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


def test_a_node_killed_with_sigkill_drops_out(prefix):
    """Within three heartbeats of its last, a killed node's connections stop counting,
    and a live node announces ``away`` for its users connected nowhere else."""

    async def go():
        heard = Heard()
        client, (a,) = await fleet(prefix, heard, 1)
        await a.connected(BOB)
        await heard.until(("T1", BOB.id, "active"))
        node = await NodeProcess.start(prefix, ALICE, BOB)
        try:
            assert await a.online("T1", [ALICE.id, BOB.id]) == {ALICE.id, BOB.id}
            node.signal(signal.SIGKILL)
            loop = asyncio.get_running_loop()
            began = loop.time()
            await heard.until(("T1", BOB.id, "active"), ("T1", ALICE.id, "away"))
            assert loop.time() - began < 3 * BEAT + 2  # 3 beats, plus a child's exit
            assert await a.online("T1", [ALICE.id, BOB.id]) == {BOB.id}  # bob is on a
        finally:
            await node.kill()
            await close(client, [a])

    asyncio.run(go())


def test_a_stalled_node_presumed_dead_counts_itself_in_again(prefix):
    """A node stopped (SIGSTOP: its event loop stalls) past three heartbeats is counted
    out; when it runs again its next heartbeat writes its counts back."""

    async def go():
        heard = Heard()
        client, (a,) = await fleet(prefix, heard, 1)
        node = await NodeProcess.start(prefix, ALICE)
        try:
            assert await a.online("T1", [ALICE.id]) == {ALICE.id}
            node.signal(signal.SIGSTOP)
            await heard.until(("T1", ALICE.id, "away"))
            assert await a.online("T1", [ALICE.id]) == set()
            node.signal(signal.SIGCONT)
            await node.announces(("T1", ALICE.id, "active"))
            assert await a.online("T1", [ALICE.id]) == {ALICE.id}
        finally:
            await node.kill()
            await close(client, [a])

    asyncio.run(go())


def test_a_node_that_stops_cleanly_counts_its_connections_out(prefix):
    async def go():
        heard = Heard()
        client, (a, b) = await fleet(prefix, heard, 2)
        try:
            await b.connected(ALICE)
            await b.connected(STRANGER)
            await heard.until(("T1", ALICE.id, "active"), ("T2", STRANGER.id, "active"))
            await b.close()
            assert sorted(heard.events[2:]) == [
                ("T1", ALICE.id, "away"),
                ("T2", STRANGER.id, "away"),
            ]
            assert await a.online("T1", [ALICE.id]) == set()
        finally:
            await close(client, [a])

    asyncio.run(go())


def test_redis_down_answers_from_this_node(prefix):
    async def go():
        import redis.asyncio as aredis

        dead = aredis.Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2
        )
        node = RedisPresence(dead, Heard(), node="x", heartbeat=BEAT, prefix=prefix, settle=0.1)
        await node.connected(ALICE)
        try:
            assert await node.online("T1", [ALICE.id, BOB.id]) == {ALICE.id}
        finally:
            await dead.aclose()

    asyncio.run(go())
