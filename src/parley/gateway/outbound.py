"""The gateway's socket writes on threads of their own, without the GIL.

A TCP ``send()`` costs several microseconds of kernel time (on loopback and in VMs the
kernel also runs the receiver's side of the stack and wakes it), and uvloop makes it on
the event loop's thread, holding the GIL: at ten deliveries a message it was a third of
that thread's time. The C extension :mod:`parley.gateway._sender` keeps each
connection's outbox (:meth:`ThreadedWrites.outbox`); :meth:`ThreadedWrites.flush` hands
a turn's outboxes to its pthreads, which write them while the loop goes on with the next
messages. So a delivery costs the loop one C call (``Outbox.append``), and a write that
went out whole comes back to no Python at all: a connection hears of one
(``Connection.written``) only when the socket took part of it, failed, or the
connection asked (``Outbox.notify``: something waits for the write).

Several such threads (:func:`thread_count`: one for each CPU the process may run on, at
most :data:`MAX_THREADS`), each with the outboxes of its share of the connections
(dealt in turn as they open): what one sync of the store settles goes out as one run of
sends, one after another on a thread, and a message to ten connections is ten of them.
At 5,000 msg/s to 1,000 subscribers on two cores, two threads instead of one took the
send-to-delivery p50 from 4.3-10.0 ms to 3.6-6.4, lower in nine pairs of runs of ten
(``docs/benchmarks.md``, "2026-12-06, 21:00 UTC"): the same kernel work, the same CPU,
in half the time where a second core is free. What it costs: a broadcast to one channel
whose 1,000 connections one process reads went 14-18% slower, the same sends costing
the kernel more CPU from two cores at once (``ws_write_threads`` 1 gives such a node
one thread).

The contract with a connection: while one write of its is with a thread, nothing else
is written to its socket (its outbox waits, and so do pongs and closes), and only its
own thread writes it, so its frames stay in order; what a full socket did not take is
written through its transport, after which the connection's outbox is ``slow`` (its
frames go through the transport, behind what it buffers) until that backlog is gone.
The extension is optional: :func:`start` returns ``None`` where it is not built (or
``PARLEY_WS_WRITE_THREAD`` is off), and the gateway then writes from the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
from collections.abc import Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

#: Fewer connections to write in a loop turn than this (on all the threads) are written
#: by the loop itself: handing them over costs a thread wake-up and an eventfd round trip
#: (some 10-20 us of CPU in all, and the wake-up's latency), more than the few sends it
#: would spare.
MIN_BATCH = 4
#: Writer threads at most: past a few, the event loop that feeds them sets the pace.
MAX_THREADS = 4
#: At most this share of the process's open-files limit is spent on the duplicated
#: descriptors of writes in flight (and never more than :data:`MAX_IN_FLIGHT`): a
#: broadcast to 10,000 connections must not take the descriptors that accepting
#: connections and opening the store's files need. The writes past it wait, their
#: outboxes kept, until results come back (:attr:`ThreadedWrites.on_room`).
IN_FLIGHT_SHARE = 8
MAX_IN_FLIGHT = 4096


class Writable(Protocol):
    """A connection, as the writer thread sees it."""

    def written(self, data: bytes, result: int) -> None:
        """The thread wrote ``result`` bytes of ``data``: less than all of it (the socket
        was full; a negative ``result`` is ``-errno`` of a failed socket), or all of it
        when the outbox asked to hear (``notify``)."""


class ThreadedWrites:
    """The C sender threads (``_sender.Sender``, one thread each) and the outboxes they
    write: :meth:`flush` at the end of a loop turn; each sender's results come back
    through the loop's reader on its eventfd."""

    def __init__(
        self, senders: Sequence, loop: asyncio.AbstractEventLoop, max_in_flight: int
    ) -> None:
        assert senders, "at least one sender"
        self._senders = tuple(senders)
        self._loop = loop
        #: The sender the next outbox goes to (in turn).
        self._next = 0
        self.max_in_flight = max_in_flight
        #: Called after each collection of results when outboxes wait for a flush.
        self.on_room: Callable[[], None] | None = None
        for sender in self._senders:
            loop.add_reader(sender.fileno(), self._collect, sender)

    @property
    def threads(self) -> int:
        return len(self._senders)

    @property
    def max_in_flight(self) -> int:
        """Writes out at most, on all the threads (each holds a duplicated descriptor);
        past its share of it, a thread's outboxes wait for results to come back."""
        return sum(sender.max_in_flight for sender in self._senders)

    @max_in_flight.setter
    def max_in_flight(self, value: int) -> None:
        for sender in self._senders:
            sender.max_in_flight = max(1, value // len(self._senders))

    @property
    def in_flight(self) -> int:
        return sum(sender.in_flight for sender in self._senders)

    @property
    def dirty(self) -> int:
        """Outboxes with frames waiting for a flush."""
        return sum(sender.dirty for sender in self._senders)

    def outbox(self, fd: int, conn: Writable):
        """A new outbox for ``conn``'s socket ``fd`` (an ``_sender.Outbox``), on the next
        thread in turn: that thread alone writes this connection."""
        sender = self._senders[self._next]
        self._next = (self._next + 1) % len(self._senders)
        return sender.outbox(fd, conn)

    def flush(self) -> list:
        """Hands every outbox with frames to its thread, one write each, and returns the
        connections whose frames the caller writes itself: all of them when fewer than
        :data:`MIN_BATCH` have frames in all, and the ``slow`` ones. Outboxes with a
        write out, or past their thread's share of ``max_in_flight``, wait (the
        collection that frees them calls :attr:`on_room`)."""
        loop_writes: list = []
        few = self.dirty < MIN_BATCH  # then every sender hands its outboxes back
        for sender in self._senders:
            if sender.dirty:
                sender.flush(MIN_BATCH if few else 0, loop_writes)
        return loop_writes

    def close(self) -> None:
        """Writes what was handed over, stops the threads, and hands back the last
        results."""
        for sender in self._senders:
            sender.close()
            self._loop.remove_reader(sender.fileno())
            self._collect(sender)

    def _collect(self, sender) -> None:
        for conn, data, result in sender.collect():
            try:
                conn.written(data, result)
            except Exception:  # one connection's failure is not the others'
                log.exception("finishing a threaded write failed")
        if self.on_room is not None and sender.dirty:
            self.on_room()


def thread_count(setting: int) -> int:
    """How many writer threads: ``setting``, or where it is 0, one for each CPU this
    process may run on (its affinity), at most :data:`MAX_THREADS`."""
    if setting > 0:
        return setting
    return max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))))


def start(
    enabled: bool, loop: asyncio.AbstractEventLoop, threads: int = 0
) -> ThreadedWrites | None:
    """The writer threads (:func:`thread_count` of ``threads``), or None when ``enabled``
    is false or the extension is not built (logged: the gateway then writes from the
    event loop)."""
    if not enabled:
        return None
    try:
        from parley.gateway._sender import Sender
    except ImportError:
        log.warning(
            "parley.gateway._sender is not built (no C compiler at install?): "
            "WebSocket frames are written from the event loop"
        )
        return None
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    share = MAX_IN_FLIGHT if files == resource.RLIM_INFINITY else files // IN_FLIGHT_SHARE
    senders = [Sender() for _ in range(thread_count(threads))]
    return ThreadedWrites(senders, loop, max(1, min(MAX_IN_FLIGHT, share)))
