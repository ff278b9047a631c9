"""The C writer thread (``parley.gateway._sender``) on real sockets: what it writes, in
what order, what it reports for a full or a broken socket, and that a descriptor closed
and reused while a write is queued never receives it."""

from __future__ import annotations

import asyncio
import errno
import os
import select
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from parley.gateway._sender import Sender

from parley.gateway.outbound import ThreadedWrites


def results(sender: Sender, expected: int, timeout: float = 5.0) -> list[tuple]:
    """Waits on the sender's eventfd until ``expected`` results are collected."""
    got: list[tuple] = []
    while len(got) < expected:
        ready, _, _ = select.select([sender.fileno()], [], [], timeout)
        assert ready, f"only {len(got)} of {expected} results came back"
        got += sender.collect()
    return got


def read_all(sock: socket.socket, size: int) -> bytes:
    data = b""
    sock.settimeout(5)
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the peer closed early"
        data += chunk
    return data


def test_writes_arrive_whole_and_in_order_and_come_back_in_the_order_added():
    sender = Sender()
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for i in range(5):  # five batches of a frame to each socket
            for n, (a, _) in enumerate(pairs):
                assert sender.add(a.fileno(), b"frame %d.%d;" % (n, i), (n, i))
            sender.kick()
        got = results(sender, 15)
        assert [token for token, _, _ in got] == [(n, i) for i in range(5) for n in range(3)]
        assert all(result == len(data) for _, data, result in got)
        for n, (_, b) in enumerate(pairs):
            want = b"".join(b"frame %d.%d;" % (n, i) for i in range(5))
            assert read_all(b, len(want)) == want
    finally:
        sender.close()
        for a, b in pairs:
            a.close()
            b.close()


def test_a_full_socket_takes_part_and_the_rest_is_left_to_the_caller():
    sender = Sender()
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = os.urandom(4 << 20)
    try:
        assert sender.add(a.fileno(), big, "big")
        sender.kick()
        [(token, data, result)] = results(sender, 1)
        assert token == "big" and data is big
        assert 0 < result < len(big)  # never blocks on a reader that does not read
        with ThreadPoolExecutor(1) as pool:
            received = pool.submit(read_all, b, len(big))
            a.setblocking(True)
            a.sendall(big[result:])  # the caller writes the rest, after it
            assert received.result(10) == big
    finally:
        sender.close()
        a.close()
        b.close()


def test_a_broken_socket_reports_its_errno():
    sender = Sender()
    a, b = socket.socketpair()
    b.close()
    try:
        assert sender.add(a.fileno(), b"nobody reads this", "gone")
        sender.kick()
        [(_, _, result)] = results(sender, 1)
        assert result in (-errno.EPIPE, -errno.ECONNRESET)  # and no SIGPIPE
    finally:
        sender.close()
        a.close()


def test_a_descriptor_closed_and_reused_before_the_write_does_not_get_it():
    """The thread writes to a duplicate taken at add(): a connection closed meanwhile
    keeps its socket until then, and a new one given the same number gets nothing."""
    sender = Sender()
    old, old_peer = socket.socketpair()
    new, new_peer = socket.socketpair()
    fd = old.fileno()
    try:
        assert sender.add(fd, b"for the old connection", "old")
        old.close()
        os.dup2(new.fileno(), fd)  # the number now names the new connection's socket
        sender.kick()
        [(_, _, result)] = results(sender, 1)
        assert result == len(b"for the old connection")
        assert read_all(old_peer, result) == b"for the old connection"
        new_peer.setblocking(False)
        with pytest.raises(BlockingIOError):
            new_peer.recv(100)
    finally:
        sender.close()
        os.close(fd)
        for s in (old_peer, new, new_peer):
            s.close()


def test_close_writes_what_was_kicked_and_refuses_more():
    sender = Sender()
    a, b = socket.socketpair()
    try:
        for i in range(100):
            assert sender.add(a.fileno(), b"x" * 100, i)
            sender.kick()
        sender.close()
        sender.close()  # idempotent
        got = sender.collect()  # the last results are still handed back
        assert [token for token, _, _ in got] == list(range(100))
        assert read_all(b, 10_000) == b"x" * 10_000
        with pytest.raises(RuntimeError):
            sender.add(a.fileno(), b"late", "late")
    finally:
        a.close()
        b.close()


def test_what_cannot_be_pinned_is_refused_and_bad_arguments_raise():
    sender = Sender()
    a, b = socket.socketpair()
    spare = os.dup(a.fileno())
    os.close(spare)  # a number that names nothing now
    try:
        assert sender.add(spare, b"data", "closed") is False
        with pytest.raises(ValueError):
            sender.add(-1, b"data", "negative")
        with pytest.raises(TypeError):
            sender.add(a.fileno(), bytearray(b"data"), "not bytes")
        sender.kick()  # nothing added: nothing to do
        assert sender.collect() == []
    finally:
        sender.close()
        a.close()
        b.close()


def test_writes_past_the_in_flight_bound_are_left_to_the_caller():
    """Each write out holds a duplicated descriptor: past ``max_in_flight`` the gateway
    writes on the loop instead, so a broadcast cannot use up the process's files."""

    class Conn:
        def __init__(self, sock: socket.socket) -> None:
            self.fd = sock.fileno()
            self.results: list[tuple[bytes, int]] = []
            self.back = asyncio.Event()

        def written(self, data: bytes, result: int) -> None:
            self.results.append((data, result))
            self.back.set()

    async def scenario(pairs) -> None:
        writes = ThreadedWrites(Sender(), asyncio.get_running_loop(), max_in_flight=2)
        rooms: list[int] = []
        writes.on_room = lambda: rooms.append(writes.in_flight)
        conns = [Conn(a) for a, _ in pairs]
        try:
            assert writes.write(conns[0], b"one") and writes.write(conns[1], b"two")
            assert not writes.write(conns[2], b"three")  # the bound: the caller writes it
            assert writes.in_flight == 2 and writes.full
            writes.kick()
            for conn in conns[:2]:
                await asyncio.wait_for(conn.back.wait(), 5)
            assert writes.in_flight == 0 and not writes.full
            assert rooms and rooms[-1] == 0  # told once the results were in
            assert writes.write(conns[2], b"three")  # room again
            writes.kick()
        finally:
            writes.close()  # hands back what it wrote
        assert [c.results for c in conns] == [[(b"one", 3)], [(b"two", 3)], [(b"three", 5)]]
        assert writes.in_flight == 0

    pairs = [socket.socketpair() for _ in range(3)]
    try:
        asyncio.run(scenario(pairs))
        expected = (b"one", b"two", b"three")
        for (_, b), data in zip(pairs, expected, strict=True):
            assert read_all(b, len(data)) == data
    finally:
        for a, b in pairs:
            a.close()
            b.close()
