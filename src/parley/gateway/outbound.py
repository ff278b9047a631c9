"""The gateway's socket writes on a thread of their own, without the GIL.

A TCP ``send()`` costs several microseconds of kernel time (on loopback and in VMs the
kernel also runs the receiver's side of the stack and wakes it), and uvloop makes it on
the event loop's thread, holding the GIL: at ten deliveries a message it was a third of
that thread's time. The C extension :mod:`parley.gateway._sender` keeps each
connection's outbox (:meth:`ThreadedWrites.outbox`); :meth:`ThreadedWrites.flush` hands
a turn's outboxes to its pthread, which writes them while the loop goes on with the next
messages. So a delivery costs the loop one C call (``Outbox.append``), and a write that
went out whole comes back to no Python at all: a connection hears of one
(``Connection.written``) only when the socket took part of it, failed, or the
connection asked (``Outbox.notify``: something waits for the write).

The contract with a connection: while one write of its is with the thread, nothing else
is written to its socket (its outbox waits, and so do pongs and closes), so its frames
stay in order; what a full socket did not take is written through its transport, after
which the connection's outbox is ``slow`` (its frames go through the transport, behind
what it buffers) until that backlog is gone. The extension is optional: :func:`start`
returns ``None`` where it is not built (or ``PARLEY_WS_WRITE_THREAD`` is off), and the
gateway then writes from the loop.
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

    def written(self, data: bytes, result: int) -> None:
        """The thread wrote ``result`` bytes of ``data``: less than all of it (the socket
        was full; a negative ``result`` is ``-errno`` of a failed socket), or all of it
        when the outbox asked to hear (``notify``)."""


class ThreadedWrites:
    """The C sender thread and the outboxes it writes: :meth:`flush` at the end of a loop
    turn; the results come back through the loop's reader on the sender's eventfd."""

    def __init__(self, sender, loop: asyncio.AbstractEventLoop, max_in_flight: int) -> None:
        self._sender = sender
        self._loop = loop
        sender.max_in_flight = max_in_flight
        #: Called after each collection of results when outboxes wait for a flush.
        self.on_room: Callable[[], None] | None = None
        loop.add_reader(sender.fileno(), self._collect)

    @property
    def max_in_flight(self) -> int:
        """Writes out at most (each holds a duplicated descriptor); past it, outboxes
        wait for results to come back."""
        return self._sender.max_in_flight

    @max_in_flight.setter
    def max_in_flight(self, value: int) -> None:
        self._sender.max_in_flight = value

    @property
    def in_flight(self) -> int:
        return self._sender.in_flight

    @property
    def dirty(self) -> int:
        """Outboxes with frames waiting for a flush."""
        return self._sender.dirty

    def outbox(self, fd: int, conn: Writable):
        """A new outbox for ``conn``'s socket ``fd`` (an ``_sender.Outbox``)."""
        return self._sender.outbox(fd, conn)

    def flush(self) -> list:
        """Hands every outbox with frames to the thread, one write each, and returns the
        connections whose frames the caller writes itself: all of them when fewer than
        :data:`MIN_BATCH` have frames, and the ``slow`` ones. Outboxes with a write out,
        or past ``max_in_flight``, wait (the collection that frees them calls
        :attr:`on_room`)."""
        loop_writes: list = []
        self._sender.flush(MIN_BATCH, loop_writes)
        return loop_writes

    def close(self) -> None:
        """Writes what was handed over, stops the thread, and hands back the last
        results."""
        self._sender.close()
        self._loop.remove_reader(self._sender.fileno())
        self._collect()

    def _collect(self) -> None:
        for conn, data, result in self._sender.collect():
            try:
                conn.written(data, result)
            except Exception:  # one connection's failure is not the others'
                log.exception("finishing a threaded write failed")
        if self.on_room is not None and self._sender.dirty:
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
