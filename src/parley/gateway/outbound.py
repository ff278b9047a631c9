"""The gateway's socket writes on a thread of their own, without the GIL.

A TCP ``send()`` costs several microseconds of kernel time (on loopback and in VMs the
kernel also runs the receiver's side of the stack and wakes it), and uvloop makes it on
the event loop's thread, holding the GIL: at ten deliveries a message it was a third of
that thread's time. :class:`ThreadedWrites` hands each turn's outboxes to the C
extension :mod:`parley.gateway._sender`, whose pthread writes them while the loop goes
on with the next messages, and hands each connection back its result
(``Connection.written``) when the loop next turns.

The contract with a connection: while one write of its is with the thread, nothing else
is written to its socket (its outbox waits, and so do pongs and closes), so its frames
stay in order; what a full socket did not take is written through its transport, after
which the transport's own buffering takes over. The extension is optional:
:func:`start` returns ``None`` where it is not built (or ``PARLEY_WS_WRITE_THREAD`` is
off), and the gateway then writes from the loop.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

#: Fewer connections to write in a loop turn than this are written by the loop itself:
#: handing them over costs a thread wake-up and an eventfd round trip (some 10-20 us of
#: CPU in all, and the wake-up's latency), more than the few sends it would spare.
MIN_BATCH = 4
#: At most this share of the process's open-files limit is spent on the duplicated
#: descriptors of writes in flight (and never more than :data:`MAX_IN_FLIGHT`): a
#: broadcast to 10,000 connections must not take the descriptors that accepting
#: connections and opening the store's files need. The writes past it wait, their
#: outboxes kept, until results come back (:attr:`ThreadedWrites.on_room`).
IN_FLIGHT_SHARE = 8
MAX_IN_FLIGHT = 4096


class Writable(Protocol):
    """A connection, as the writer thread sees it."""

    #: Its socket's file descriptor (the thread writes to a duplicate of it).
    fd: int

    def written(self, data: bytes, result: int) -> None:
        """The thread wrote ``result`` bytes of ``data`` (all of it, or less when the
        socket was full); a negative ``result`` is ``-errno`` of a failed socket."""


class ThreadedWrites:
    """Batches of writes for the C sender thread: :meth:`write` during a loop turn,
    :meth:`kick` at its end; the results come back through the loop's reader on the
    sender's eventfd."""

    def __init__(self, sender, loop: asyncio.AbstractEventLoop, max_in_flight: int) -> None:
        self._sender = sender
        self._loop = loop
        #: Writes queued or with the thread (each holds a duplicated descriptor).
        self.in_flight = 0
        self.max_in_flight = max_in_flight
        #: Called after each collection of results: room for more writes.
        self.on_room: Callable[[], None] | None = None
        loop.add_reader(sender.fileno(), self._collect)

    @property
    def full(self) -> bool:
        """Whether ``max_in_flight`` writes are out: more wait for :attr:`on_room`."""
        return self.in_flight >= self.max_in_flight

    def write(self, conn: Writable, data: bytes) -> bool:
        """Queues ``data`` for ``conn``'s socket; False (nothing queued) when
        ``max_in_flight`` writes are out or the descriptor cannot be duplicated (out of
        descriptors): the caller writes it."""
        if conn.fd < 0 or self.in_flight >= self.max_in_flight:  # .full, on every write
            return False
        if not self._sender.add(conn.fd, data, conn):
            return False
        self.in_flight += 1
        return True

    def kick(self) -> None:
        """Hands what :meth:`write` queued this turn to the thread."""
        self._sender.kick()

    def close(self) -> None:
        """Writes what was kicked, stops the thread, and hands back the last results."""
        self._sender.close()
        self._loop.remove_reader(self._sender.fileno())
        self._collect()

    def _collect(self) -> None:
        done = self._sender.collect()
        self.in_flight -= len(done)
        for conn, data, result in done:
            try:
                conn.written(data, result)
            except Exception:  # one connection's failure is not the others'
                log.exception("finishing a threaded write failed")
        if self.on_room is not None:
            self.on_room()


def start(enabled: bool, loop: asyncio.AbstractEventLoop) -> ThreadedWrites | None:
    """The writer thread, or None when ``enabled`` is false or the extension is not
    built (logged: the gateway then writes from the event loop)."""
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
    return ThreadedWrites(Sender(), loop, max(1, min(MAX_IN_FLIGHT, share)))
