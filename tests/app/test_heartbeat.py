"""A connection that stops answering pings is closed and forgotten."""

from __future__ import annotations

import asyncio

from tests.helpers import WsClient, server_in_thread


def test_a_silent_client_is_dropped(tmp_path):
    with server_in_thread(tmp_path, heartbeat=1) as srv:
        user = srv.user("quiet")
        web = srv.client(user.token)

        async def scenario():
            alive = await WsClient.open(web.rtm_connect()["url"])  # answers pings itself
            silent = await WsClient.open(web.rtm_connect()["url"])
            await alive.next(type="hello")
            await silent.next(type="hello")
            silent.transport.underlying_transport.pause_reading()  # never sees the pings
            await asyncio.sleep(4)
            silent.transport.underlying_transport.resume_reading()
            await asyncio.wait_for(silent.transport.wait_disconnected(), 5)
            assert not alive.transport.is_disconnected  # the answering one stays
            alive.close()

        asyncio.run(scenario())
