"""One reader's standing pull request on one JetStream partition: what
:meth:`~parley.bus.jetstream.JetStreamBus.read` reads from.

Why not nats-py's ``fetch``: a fetch is a request per read (a JSON request, a ``uuid4``,
a task and a timeout per call), about 110 µs of the event loop for each event when
events come one at a time, and every event of a fleet is read by several readers (each
gateway, the indexer, the push worker). Here a reader's ephemeral pull consumer gets a
*standing* request: the server sends each event into the feed's inbox as soon as it is
stored, up to the request's ``batch``, for ``expires`` seconds; the feed queues them and
a read takes what is queued (about 11 µs an event). A read sends a new request when
fewer than half a batch is still asked for, or the newest request nears its end; the
server serves requests in turn. Requests go out only from reads, so at most two batches
of events wait in a feed whatever the reader's pace: that is the flow control.

The contract, per feed (one reader, one partition, from one offset on):

- Events come in stream order with no gap: every delivery's consumer sequence must be
  the previous one plus one. A gap (deliveries lost across a reconnect: the consumer
  acknowledges nothing, so the server does not resend them), an error status from the
  server (the consumer deleted, a leader change, too many requests waiting), or no word
  from the server for three heartbeats mark the feed *broken*; the bus then drops it
  and opens a new consumer at the offset after the last event read, so nothing is
  skipped.
- What is queued is handed out in order; ``next`` is always the offset after the last
  event handed out (the offset the reader asks for next).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import orjson

#: Events one standing request may bring (and so at most this many wait in a feed).
BATCH = 256
#: Seconds a standing request stays open; a reader renews it in time.
EXPIRES = 30.0
#: Seconds between the server's heartbeats while a request is open and idle.
HEARTBEAT = 2.0


class Feed:
    """A standing pull request of ``consumer`` answered into ``inbox``.

    Built by the bus, which subscribes :meth:`on_message` to the inbox and sends
    :meth:`request`'s payload to the consumer's ``MSG.NEXT`` subject."""

    def __init__(self, consumer: str, inbox: str, offset: int) -> None:
        self.consumer = consumer
        self.inbox = inbox
        #: The offset after the last event handed out.
        self.next = offset
        #: Why the feed cannot be trusted any more ("" while it can; see the module's
        #: contract).
        self.broken = ""
        #: The nats-py subscription of the inbox (set by the bus).
        self.subscription: Any = None
        self._queue: deque[tuple[bytes, int, int]] = deque()  # (data, stream seq, pending)
        #: The open requests, oldest first: [events it may still bring, loop time it ends]
        self._requests: deque[list] = deque()
        self._heard = 0.0  # loop time of the server's last word
        self._dseq = 0  # the last delivery's consumer sequence
        self._waiter: asyncio.Future | None = None

    # -- from the inbox -----------------------------------------------------------------

    async def on_message(self, msg: Any) -> None:
        """The inbox's callback: an event, a heartbeat or the end of a request."""
        loop = asyncio.get_running_loop()
        self._heard = loop.time()
        headers = msg.headers
        status = headers.get("Status") if headers else None
        if status is None and msg.reply:
            tokens = msg.reply.split(".")
            # $JS.ACK.[<domain>.<account hash>.]<stream>.<consumer>.<delivered>.<stream seq>
            # .<consumer seq>.<timestamp>.<pending>[.<token>]
            base = 2 if len(tokens) == 9 else 4
            sseq, dseq = int(tokens[base + 3]), int(tokens[base + 4])
            pending = int(tokens[base + 6])
            if dseq != self._dseq + 1 and not self.broken:
                self.broken = f"delivery {dseq} came after {self._dseq}: a gap"
            self._dseq = dseq
            if self._requests:
                self._requests[0][0] -= 1
                if self._requests[0][0] <= 0:  # filled: the server ends it without a word
                    self._requests.popleft()
            if not self.broken:
                self._queue.append((msg.data, sseq, pending))
        elif status == "408":  # the oldest request ran out of time
            if self._requests:
                self._requests.popleft()
        elif status != "100" and not self.broken:  # not a heartbeat: not to be trusted
            self.broken = f"status {status} {headers.get('Description', '')}".strip()
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- from the reader ----------------------------------------------------------------

    def needs_request(self, now: float) -> bool:
        """Whether a new standing request must go out: fewer than half a batch is still
        asked for, or the newest request ends within two heartbeats. A request whose end
        went unannounced (its ``408`` lost) is forgotten a heartbeat after its end."""
        requests = self._requests
        while requests and now > requests[0][1] + HEARTBEAT:
            requests.popleft()
        if not requests or requests[-1][1] - now < 2 * HEARTBEAT:
            return True
        return sum(r[0] for r in requests) < BATCH // 2

    def request(self, now: float) -> bytes:
        """The payload of a new standing request, counted as open from ``now``."""
        if not self._requests:
            self._heard = now  # the silence is counted from the first request on
        self._requests.append([BATCH, now + EXPIRES])
        return orjson.dumps(
            {
                "batch": BATCH,
                "expires": int(EXPIRES * 1e9),
                "idle_heartbeat": int(HEARTBEAT * 1e9),
            }
        )

    def distrust(self, now: float) -> str:
        """Why the feed is to be replaced by a new one at :attr:`next` ("" if it is not):
        nothing is queued, and it is broken or silent."""
        if self._queue:
            return ""
        if self.broken:
            return self.broken
        return f"no word from the server for {3 * HEARTBEAT:.0f} s" if self.silent(now) else ""

    def silent(self, now: float) -> bool:
        """No word from the server for three heartbeats while a request is open (lost,
        say, with a connection): the feed is then to be dropped."""
        return bool(self._requests) and now - self._heard > 3 * HEARTBEAT

    async def wait(self, timeout: float) -> None:
        """Until something is queued, the feed breaks, or ``timeout`` seconds pass."""
        if self._queue or self.broken or timeout <= 0:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiter = None

    def take(self, limit: int) -> tuple[list[bytes], int]:
        """Up to ``limit`` queued events' payloads, in order, and the events still after
        the last of them as the server counted them (0 when nothing was queued)."""
        n = min(limit, len(self._queue))
        if n == 0:
            return [], 0
        queue = self._queue
        items = [queue.popleft() for _ in range(n)]
        self.next = items[-1][1] + 1
        return [data for data, _, _ in items], items[-1][2]
