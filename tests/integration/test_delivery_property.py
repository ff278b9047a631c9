"""Property: whatever the interleaving of sends, disconnects, reconnects and server
restarts, every client ends with exactly the channel's messages, in order, none missing,
none doubled once deduplicated by (channel, seq)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley import admin
from parley.config import Settings
from tests.helpers import TEST_RATE_LIMIT, WsClient, server_in_thread

CLIENTS = 2

step = st.one_of(
    st.tuples(st.just("send"), st.integers(1, 6)),
    st.tuples(st.just("drop"), st.integers(0, CLIENTS - 1)),
    st.tuples(st.just("connect"), st.integers(0, CLIENTS - 1)),
    st.tuples(st.just("restart"), st.just(0)),
)


class Follower:
    """One client's view of the channel: what it has, by seq, in arrival order."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.ws: WsClient | None = None
        self.arrivals: list[int] = []

    @property
    def last(self) -> int:
        """The highest seq it holds with nothing missing below it."""
        have, n = set(self.arrivals), 0
        while n + 1 in have:
            n += 1
        return n

    def absorb(self, channel: str) -> None:
        if self.ws is None:
            return
        while not self.ws.frames.empty():
            frame = self.ws.frames.get_nowait()
            if frame.get("type") == "message" and frame.get("channel") == channel:
                self.arrivals.append(frame["seq"])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=1, max_size=10))
def test_every_client_converges_on_the_channel(steps):
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp), steps))


async def run(data_dir: Path, steps) -> None:
    base = Settings.load({}, data_dir=data_dir)
    poster = admin.create_user(base, "poster", rate_limit=TEST_RATE_LIMIT)
    followers = [Follower(admin.create_user(base, f"f{i}").token) for i in range(CLIENTS)]
    stack = contextlib.ExitStack()
    srv = stack.enter_context(server_in_thread(data_dir, drain_seconds=0))
    web = srv.client(poster.token)
    ch = web.conversations_create(name="prop")["channel"]["id"]
    web.conversations_invite(
        channel=ch, users=",".join(srv.client(f.token).auth_test()["user_id"] for f in followers)
    )
    sent = 0

    async def connect(f: Follower) -> None:
        if f.ws is not None:
            return
        url = srv.client(f.token).rtm_connect(resume={ch: f.last})["url"]
        f.ws = await WsClient.open(url)
        await asyncio.sleep(0)

    def drop(f: Follower) -> None:
        if f.ws is not None:
            f.absorb(ch)
            f.ws.close()
            f.ws = None

    try:
        for kind, arg in steps:
            if kind == "send":
                for _ in range(arg):
                    web.chat_postMessage(channel=ch, text=f"m{sent}")
                    sent += 1
            elif kind == "drop":
                drop(followers[arg])
            elif kind == "connect":
                await connect(followers[arg])
            else:  # restart the whole server: bus and buffer are gone, the store is not
                for f in followers:
                    drop(f)
                stack.close()
                stack = contextlib.ExitStack()
                srv = stack.enter_context(server_in_thread(data_dir, drain_seconds=0))
                web = srv.client(poster.token)
            await asyncio.sleep(0.01)
            for f in followers:
                f.absorb(ch)
        for f in followers:  # finally everyone reconnects and catches up
            drop(f)
            await connect(f)
            frames = await f.ws.until(type="resume_done")
            for frame in frames:
                if frame.get("type") == "message" and frame.get("channel") == ch:
                    f.arrivals.append(frame["seq"])
            drop(f)
    finally:
        stack.close()

    for f in followers:
        first_seen = list(dict.fromkeys(f.arrivals))
        assert first_seen == list(range(1, sent + 1)), (steps, f.arrivals)
