"""A client that stops reading is cut off once its backlog passes the bound; it does not
stall delivery to anyone else, and its backlog does not grow without limit."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from tests.helpers import WsClient

MESSAGES = 1500
TEXT = "x" * 16_000  # 1500 x 16 KB = 24 MB, far past the 4 MiB per-connection bound


def test_a_stalled_reader_is_dropped_and_others_get_everything(server):
    poster = server.user("slow-poster")
    fast = server.user("slow-fast-reader")
    stalled = server.user("slow-stalled-reader")
    web = server.client(poster.token)
    ch = web.conversations_create(name="slow-consumer")["channel"]["id"]
    web.conversations_invite(channel=ch, users=f"{fast.user_id},{stalled.user_id}")

    async def scenario():
        reader = await WsClient.open(server.client(fast.token).rtm_connect()["url"])
        sleeper = await WsClient.open(server.client(stalled.token).rtm_connect()["url"])
        await reader.next(type="hello")
        await sleeper.next(type="hello")
        sleeper.transport.underlying_transport.pause_reading()

        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(4) as pool:
            posting = [
                loop.run_in_executor(
                    pool, lambda i=i: web.chat_postMessage(channel=ch, text=f"{i} {TEXT}")
                )
                for i in range(MESSAGES)
            ]
            got = [
                await reader.next(type="message", channel=ch, timeout=30) for _ in range(MESSAGES)
            ]
            await asyncio.gather(*posting)
        assert [m["seq"] for m in got] == list(range(1, MESSAGES + 1))

        sleeper.transport.underlying_transport.resume_reading()
        await asyncio.wait_for(sleeper.transport.wait_disconnected(), 10)
        delivered = 0
        while not sleeper.frames.empty():
            delivered += sleeper.frames.get_nowait().get("type") == "message"
        assert delivered < MESSAGES  # it was cut off, not fed 24 MB
        reader.close()

    asyncio.run(scenario())
