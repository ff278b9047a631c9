"""The C writer threads (``parley.gateway._sender``) on real sockets: what it writes, in
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

from parley.gateway.outbound import MAX_THREADS, ThreadedWrites, thread_count


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


class Conn:
    """A connection as the outboxes see it: told of the writes it must finish."""

    def __init__(self) -> None:
        self.results: list[tuple[bytes, int]] = []

    def written(self, data: bytes, result: int) -> None:
        self.results.append((data, result))


def pairs_of(n: int) -> list[tuple[socket.socket, socket.socket]]:
    return [socket.socketpair() for _ in range(n)]


def closing(pairs) -> None:
    for a, b in pairs:
        a.close()
        b.close()


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_outboxes_write_their_frames_whole_in_order_one_write_a_flush():
    """Frames appended to an outbox go out in one write a flush, in order; a write that
    went out whole comes back to nobody (no ``written``), and frames appended while it
    was out wait for it, then go with the next flush."""

    async def scenario(pairs) -> list[Conn]:
        writes = ThreadedWrites([Sender()], asyncio.get_running_loop(), max_in_flight=64)
        rooms: list[int] = []
        writes.on_room = lambda: rooms.append(writes.dirty)
        conns = [Conn() for _ in pairs]
        boxes = [writes.outbox(a.fileno(), c) for (a, _), c in zip(pairs, conns, strict=True)]
        try:
            firsts = [box.append(b"%d.a;" % n) for n, box in enumerate(boxes)]
            assert firsts == [True] + [False] * (len(boxes) - 1)  # one flush to schedule
            for n, box in enumerate(boxes):
                assert box.append(b"%d.b;" % n) is False
            assert writes.dirty == len(boxes) and len(boxes[0]) == 2
            assert writes.flush() == []  # all with the thread
            assert all(box.writing for box in boxes) and writes.dirty == 0
            for n, box in enumerate(boxes):
                box.append(b"%d.c;" % n)  # while the write is out: waits for it
            assert writes.dirty == 0
            await until(lambda: writes.in_flight == 0)
            assert rooms == [len(boxes)]  # back, and the waiting outboxes want a flush
            assert writes.flush() == []
            await until(lambda: writes.in_flight == 0)
        finally:
            writes.close()
        return conns

    pairs = pairs_of(5)
    try:
        conns = asyncio.run(scenario(pairs))
        assert [c.results for c in conns] == [[]] * 5  # whole: nobody was told
        for n, (_, b) in enumerate(pairs):
            want = b"%d.a;%d.b;%d.c;" % (n, n, n)
            assert read_all(b, len(want)) == want
    finally:
        closing(pairs)


def test_several_threads_each_write_their_share_of_the_connections_in_order():
    """Outboxes are dealt to the threads in turn, and a connection's frames go out on its
    own thread only, whole and in order; the handful a turn leaves to the caller
    (``MIN_BATCH``) is counted over every thread, and the bound on writes out is
    shared between them."""

    async def scenario(pairs) -> None:
        senders = [Sender(), Sender()]
        writes = ThreadedWrites(senders, asyncio.get_running_loop(), max_in_flight=64)
        assert writes.threads == 2 and writes.max_in_flight == 64
        assert [s.max_in_flight for s in senders] == [32, 32]
        conns = [Conn() for _ in pairs]
        boxes = [writes.outbox(a.fileno(), c) for (a, _), c in zip(pairs, conns, strict=True)]
        try:
            for n in range(3):  # three in all, two on one thread and one on the other
                boxes[n].append(b"%d.a;" % n)
            mine = writes.flush()  # too few to wake a thread for, thread by thread
            assert sorted(mine, key=conns.index) == conns[:3]
            for n in range(3):
                os.write(pairs[n][0].fileno(), b"".join(boxes[n].take()))
            for n, box in enumerate(boxes):  # six: three on each thread
                box.append(b"%d.b;" % n)
            assert writes.flush() == []
            assert [s.in_flight for s in senders] == [3, 3]
            for n, box in enumerate(boxes):
                box.append(b"%d.c;" % n)  # waits for its own thread's write
            await until(lambda: writes.in_flight == 0)
            assert writes.flush() == []
            await until(lambda: writes.in_flight == 0)
            writes.max_in_flight = 5
            assert [s.max_in_flight for s in senders] == [2, 2]
        finally:
            writes.close()

    pairs = pairs_of(6)
    try:
        asyncio.run(scenario(pairs))
        for n, (_, b) in enumerate(pairs):
            want = (b"%d.a;" % n if n < 3 else b"") + b"%d.b;%d.c;" % (n, n)
            assert read_all(b, len(want)) == want
            b.setblocking(False)
            with pytest.raises(BlockingIOError):
                b.recv(100)  # nothing more, nothing twice
    finally:
        closing(pairs)


def test_one_writer_thread_for_each_cpu_unless_the_setting_says_how_many():
    assert thread_count(3) == 3
    assert thread_count(0) == min(MAX_THREADS, len(os.sched_getaffinity(0)))


def test_a_few_outboxes_slow_ones_and_closed_ones_are_the_callers():
    """Fewer than ``MIN_BATCH`` outboxes with frames are handed back for the caller to
    write (waking the thread costs more); so is a ``slow`` one (its socket has a
    backlog in the caller's transport); a closed one drops its frames and takes none."""

    async def scenario(pairs) -> None:
        writes = ThreadedWrites([Sender()], asyncio.get_running_loop(), max_in_flight=64)
        conns = [Conn() for _ in pairs]
        boxes = [writes.outbox(a.fileno(), c) for (a, _), c in zip(pairs, conns, strict=True)]
        try:
            boxes[0].append(b"few")
            assert writes.flush() == [conns[0]]
            assert boxes[0].take() == [b"few"] and len(boxes[0]) == 0
            boxes[1].slow = True
            boxes[4].close()
            assert boxes[4].append(b"gone") is False and len(boxes[4]) == 0
            for box in boxes:
                box.append(b"frame")
            assert writes.flush() == [conns[1]]  # the others went to the thread
            assert not boxes[1].writing and boxes[0].writing and not boxes[4].writing
            await until(lambda: writes.in_flight == 0)
        finally:
            writes.close()

    pairs = pairs_of(5)
    try:
        asyncio.run(scenario(pairs))
        for n in (0, 2, 3):
            assert read_all(pairs[n][1], 5) == b"frame"
        for n in (1, 4):
            pairs[n][1].setblocking(False)
            with pytest.raises(BlockingIOError):
                pairs[n][1].recv(100)
    finally:
        closing(pairs)


def test_a_write_comes_back_when_the_socket_took_part_or_the_outbox_asked():
    """A full socket takes part of a write: its outbox hears how much (the rest is its
    to write); an outbox that set ``notify`` hears of a whole write too, once."""

    async def scenario(pairs) -> tuple[Conn, Conn, bytes]:
        writes = ThreadedWrites([Sender()], asyncio.get_running_loop(), max_in_flight=64)
        full = pairs[0][0]
        full.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        big = os.urandom(4 << 20)
        conns = [Conn() for _ in pairs]
        boxes = [writes.outbox(a.fileno(), c) for (a, _), c in zip(pairs, conns, strict=True)]
        try:
            boxes[0].append(big)
            for box in boxes[1:]:
                box.append(b"small")
            boxes[1].notify = True
            writes.flush()
            await until(lambda: writes.in_flight == 0)
            assert not boxes[1].notify  # once
            boxes[1].append(b"again")
            for box in boxes[2:]:
                box.append(b"again")
            boxes[0].slow = True
            writes.flush()
            await until(lambda: writes.in_flight == 0)
        finally:
            writes.close()
        return conns[0], conns[1], big

    pairs = pairs_of(4)
    try:
        full, asked, big = asyncio.run(scenario(pairs))
        [(data, result)] = full.results
        assert data == big and 0 < result < len(big)
        assert asked.results == [(b"small", 5)]
    finally:
        closing(pairs)


def test_outboxes_past_the_in_flight_bound_wait_for_room():
    """Each write out holds a duplicated descriptor: past ``max_in_flight`` outboxes
    wait, still queued for a flush, so a broadcast cannot use up the process's files;
    once results come back the caller hears there is room, and everything goes out
    once, in order."""

    async def scenario(pairs) -> list[int]:
        writes = ThreadedWrites([Sender()], asyncio.get_running_loop(), max_in_flight=4)
        rooms: list[tuple[int, int]] = []
        conns = [Conn() for _ in pairs]
        boxes = [writes.outbox(a.fileno(), c) for (a, _), c in zip(pairs, conns, strict=True)]
        seen: list[int] = []

        def room() -> None:
            rooms.append((writes.in_flight, writes.dirty))
            for conn in writes.flush():  # what the thread will not take, the caller writes
                box = boxes[conns.index(conn)]
                os.write(pairs[conns.index(conn)][0].fileno(), b"".join(box.take()))
            seen.append(writes.in_flight)

        writes.on_room = room
        try:
            for n, box in enumerate(boxes):
                box.append(b"frame %d;" % n)
            assert writes.flush() == []
            assert writes.in_flight == 4 and writes.dirty == 5
            await until(lambda: writes.in_flight == 0 and writes.dirty == 0)
        finally:
            writes.close()
        assert rooms[0] == (0, 5)
        return seen

    pairs = pairs_of(9)
    try:
        seen = asyncio.run(scenario(pairs))
        assert max(seen) <= 4
        for n, (_, b) in enumerate(pairs):
            want = b"frame %d;" % n
            assert read_all(b, len(want)) == want
    finally:
        closing(pairs)
