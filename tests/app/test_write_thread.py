"""WebSocket frames written by the C writer threads (the default; one or several) or by
the event loop (``ws_write_thread=False``): the same frames, whole and in order, either
way, and a reader whose socket fills while a write is with a thread still gets every
frame intact after it."""

from __future__ import annotations

import asyncio
import os
import socket
from functools import partial

import pytest

from tests.helpers import WsClient, server_in_thread

TEXT = "y" * 16_000


@pytest.mark.parametrize(
    ("threaded", "threads"), [(True, 1), (True, 2), (False, 0)], ids=["thread", "threads", "loop"]
)
def test_frames_go_out_whole_and_in_order_from_the_threads_or_the_loop(tmp_path, threaded, threads):
    with server_in_thread(tmp_path, ws_write_thread=threaded, ws_write_threads=threads) as srv:
        # CI builds the extension: a missing one fails here instead of hiding
        writes = srv.on_loop(lambda svc: svc.gateway.writes)
        assert (writes is not None) is threaded
        assert writes is None or writes.threads == threads
        poster, reader = srv.user("wt-poster"), srv.user("wt-reader")
        web = srv.client(poster.token)
        ch = web.conversations_create(name="write-thread")["channel"]["id"]
        web.conversations_invite(channel=ch, users=reader.user_id)

        async def scenario():
            clients = [
                await WsClient.open(srv.client(token).rtm_connect()["url"])
                for token in (poster.token, reader.token, reader.token, reader.token)
            ]  # four connections a message: enough for a turn's writes to go to the thread
            for client in clients:
                await client.next(type="hello")
            loop = asyncio.get_running_loop()
            for i in range(50):
                await loop.run_in_executor(
                    None, partial(web.chat_postMessage, channel=ch, text=f"m{i}")
                )
            for client in clients:
                got = [(await client.next(type="message", channel=ch))["text"] for _ in range(50)]
                assert got == [f"m{i}" for i in range(50)]
            clients[0].send({"id": 7, "type": "message", "channel": ch, "text": "over the socket"})
            ack = await clients[0].next(reply_to=7)
            assert ack["ok"] is True
            for client in clients[1:]:
                event = await client.next(type="message", channel=ch)
                assert event["text"] == "over the socket"
            for client in clients:
                client.close()

        asyncio.run(scenario())


def small_window(url) -> socket.socket:
    """A socket whose receive buffer is set before it connects, so the window it offers
    the server stays small and the server's socket fills after a few frames."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((url.host, url.port))
    sock.setblocking(False)
    return sock


def small_send_buffers(svc) -> None:
    """Fixes the server sockets' send buffers small (the kernel stops growing them)."""
    for conn in svc.gateway.connections:
        with socket.socket(fileno=os.dup(conn.fd)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def test_a_reader_whose_socket_fills_gets_every_frame_intact_and_in_order(tmp_path):
    """Small socket buffers and a pause fill the socket, so writes with the thread
    come back partial and the rest goes through the transport, behind which the next
    frames queue: the reader must still read every frame whole, in order."""
    with server_in_thread(tmp_path) as srv:
        poster, reader = srv.user("full-poster"), srv.user("full-reader")
        web = srv.client(poster.token)
        ch = web.conversations_create(name="full-socket")["channel"]["id"]
        web.conversations_invite(channel=ch, users=reader.user_id)
        count = 120  # ~1.9 MB, under the 4 MiB bound past which a reader is dropped

        async def scenario():
            reader_web = srv.client(reader.token)
            client = await WsClient.open(
                reader_web.rtm_connect()["url"], socket_factory=small_window
            )
            # three more that read along, so a turn's writes go to the thread
            others = [await WsClient.open(reader_web.rtm_connect()["url"]) for _ in range(3)]
            for c in (client, *others):
                await c.next(type="hello")
            srv.on_loop(small_send_buffers)
            client.transport.underlying_transport.pause_reading()
            loop = asyncio.get_running_loop()
            for i in range(count):
                post = partial(web.chat_postMessage, channel=ch, text=f"{i} {TEXT}")
                await loop.run_in_executor(None, post)
            client.transport.underlying_transport.resume_reading()
            got = [
                (await client.next(type="message", channel=ch, timeout=30))["text"]
                for _ in range(count)
            ]
            assert got == [f"{i} {TEXT}" for i in range(count)]
            assert not client.transport.is_disconnected
            for other in others:
                texts = [
                    (await other.next(type="message", channel=ch))["text"] for _ in range(count)
                ]
                assert texts == got
            for c in (client, *others):
                c.close()

        asyncio.run(scenario())


def test_connections_past_the_bound_on_writes_out_wait_their_turn_in_order(tmp_path):
    """With room for two writes out at a time, a message to six connections sends two
    with the thread and leaves four waiting for their results: every connection still
    gets every frame, once, in order."""
    with server_in_thread(tmp_path) as srv:

        def bound(svc) -> None:
            svc.gateway.writes.max_in_flight = 2

        srv.on_loop(bound)
        poster, reader = srv.user("bound-poster"), srv.user("bound-reader")
        web = srv.client(poster.token)
        ch = web.conversations_create(name="bounded-writes")["channel"]["id"]
        web.conversations_invite(channel=ch, users=reader.user_id)

        async def scenario():
            reader_web = srv.client(reader.token)
            clients = [await WsClient.open(reader_web.rtm_connect()["url"]) for _ in range(6)]
            for client in clients:
                await client.next(type="hello")
            loop = asyncio.get_running_loop()
            for i in range(40):
                post = partial(web.chat_postMessage, channel=ch, text=f"b{i}")
                await loop.run_in_executor(None, post)
            for client in clients:
                got = [(await client.next(type="message", channel=ch))["text"] for _ in range(40)]
                assert got == [f"b{i}" for i in range(40)]
            for client in clients:
                client.close()

        asyncio.run(scenario())
        assert srv.on_loop(lambda svc: svc.gateway.writes.in_flight) == 0
