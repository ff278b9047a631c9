"""The gateway's I/O shell: picows WebSocket connections around the sans-I/O protocol.

A connection is opened with a ticket from ``rtm.connect`` (``/?ticket=…``): the upgrade
is answered from :meth:`Tickets.holder` (403 for a ticket that cannot be redeemed),
and the ticket is redeemed once the socket is open (a ticket that does not redeem, as a
forged or spent one in Redis, is closed with 1008 before ``hello``). The connection is
then registered in the hub under the user's channels, counted in :mod:`.presence`,
greeted with ``hello``, and receives every event of those channels. Client commands are
taken one at a time per connection, in the order sent; a send goes through the same
path as ``chat.postMessage``, but only its checks hold the next command back: once they
pass, its write begins and the next command is taken while it becomes durable
(:meth:`.Sender.write_post`), so a client's sends keep their order and a connection
carries more than one send per commit. A send is answered (``reply_to``) once its write
is durable and every send before it on the connection has been answered: the answers
come in the order the sends were made.

Writes are batched: every frame for a connection (events, replies, replays, in the order
they were made) is appended to its outbox, and one write per connection goes out when the
event loop next turns, so a consumer batch of 100 events to one client is one syscall, not
100. An event's frame is built once for all its recipients (server frames are unmasked).
The outboxes and the writes are the C writer threads' of :mod:`.outbound` (the kernel's
work for a send runs beside the loop, not on it, and a delivery costs the loop one C
call; each connection is written by one of them); a connection with a write there holds
everything else for its socket (the next outbox, a pong, a close) until it is back.

Bounds (constructor parameters; the defaults in brackets):

- **Slow readers**: a client that stops reading is disconnected (1013) once
  ``max_buffer`` bytes wait in its socket buffer [4 MiB]; it reconnects and resumes,
  nothing is lost. A connection holds at most ``max_pending`` commands [256], queued or
  sends not yet answered; more are answered ``ratelimited``.
- **Frame rate** (:mod:`parley.gateway.bounds`): ``frame_rate`` frames a second per
  connection with bursts of ``frame_burst`` [50/s, 100], counting every frame the client
  sends but its close. A frame beyond that is answered ``ratelimited`` (with
  ``reply_to`` when it had an ``id``, and ``retry_after`` in seconds) and not run; a
  client that floods regardless, past ``frame_flood`` times the rate [10x: 500/s
  sustained, or 1,000 frames at once], is closed with 1008 and a reason. A user whose
  own message rate an operator raised above ``frame_rate`` (``--rate-limit R``) gets R
  frames a second with bursts of R.
- **Connections per user**: at most ``max_connections_per_user`` [20] open at once. The
  next upgrade is refused before it becomes a WebSocket, with HTTP 429, ``Retry-After``
  and a reason in the body: nothing is registered, greeted or announced for it (the
  ticket it used stays single-use and expires with its TTL). (Refusing at the upgrade
  costs nothing; a client that wants a close code reads the 429 the same way it reads
  the 403 of a spent ticket.)
- **Frame size**: ``max_frame_size`` bytes [1 MiB] per frame (and per inflated
  compressed frame); a bigger one is closed with 1009 by picows before it is buffered.
- **Frame kinds**: commands are JSON in text frames. A binary frame or a fragmented
  message is closed with 1003 (unsupported data), a stray continuation frame with 1002,
  text that is not UTF-8 with 1007, a compressed frame that is corrupt, too big once
  inflated or not negotiated with 1002; each with a reason. JSON that is malformed, of
  the wrong shape or of an unknown type gets an error reply (:mod:`.protocol`) and the
  connection stays open. Nothing one client sends affects another's connection.
- **Heartbeat**: picows pings a connection idle for ``heartbeat`` seconds (the ping is
  queued in the outbox like any frame) and drops it if no pong comes back within
  ``heartbeat`` more.

``app.py`` passes them from the ``PARLEY_WS_*`` settings (``parley.config``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from picows import (
    WSCloseCode,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from parley.bus.interface import Event, EventBus
from parley.errors import ApiError, ParleyError, StorageUnavailable, unavailable
from parley.gateway import deflate, frames, outbound, protocol, resume
from parley.gateway.bounds import FrameGate, FrameRate, Verdict
from parley.gateway.hub import Hub
from parley.gateway.presence import Presence, shown
from parley.gateway.resume import Floor, Held, Replayer
from parley.gateway.tickets import Tickets
from parley.ids import wall_us
from parley.logs import REQUEST_ID, request_id
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.pipeline.limits import retry_after
from parley.pipeline.scopes import require as require_scope
from parley.pipeline.send import Sender
from parley.storage.interface import Directory
from parley.storage.models import PostRequest, User
from parley.unfurl import links

log = logging.getLogger(__name__)
_PICOWS_LOG = logging.LoggerAdapter(logging.getLogger("picows.server"), {})
#: Seconds a connection closed for what its client sent waits for the client's close
#: frame before the socket is closed anyway.
CLOSE_WAIT = 2.0
#: Seconds a user at the connection limit is told to wait: one closes only when the
#: client lets go of it, so this is a back-off, not a promise.
_CONNECTIONS_RETRY_AFTER = 5


_FRAGMENTED = "fragmented messages are not supported: send each command in one text frame"
_CONTINUATION = "continuation frame without a fragmented message"
_BINARY = "binary frames are not supported: send JSON in text frames"
_BAD_DEFLATE = "compressed frame is corrupt, too big inflated, or was not negotiated"
_BAD_TICKET = "invalid or expired ticket: call rtm.connect"
REVOKED = "token_revoked"


class Gateway:
    """Everything a connection needs, and the picows server itself."""

    def __init__(
        self,
        *,
        hub: Hub,
        tickets: Tickets,
        presence: Presence,
        sender: Sender,
        access: ChannelAccess,
        directory: Directory,
        bus: EventBus,
        replayer: Replayer,
        listen: Callable[..., Awaitable[None]],
        max_text: int,
        heartbeat: float,
        handshake_timeout: float = 10.0,
        max_buffer: int = 4 << 20,
        max_pending: int = 256,
        max_held: int = 100_000,
        deflate: bool = True,
        frame_rate: float = 50.0,
        frame_burst: float = 100.0,
        frame_flood: float = 10.0,
        max_connections_per_user: int = 20,
        max_frame_size: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
        valid_token: Callable[[bytes], Awaitable[bool]] | None = None,
        write_thread: bool = True,
        write_threads: int = 0,
        request_reply: Callable[[bytes, dict], Awaitable[None]] | None = None,
        claim_request: Callable[[Event], Awaitable[bool]] | None = None,
    ) -> None:
        self.hub = hub
        #: Whether this gateway sends an app request its hub gave a Socket Mode
        #: connection (``RedisClaims.claim``: one gateway of a fleet does); ``None``:
        #: always (a gateway alone).
        self.claim_request = claim_request
        #: Takes a Socket Mode app's reply to a request (the request event's payload,
        #: the acknowledgement's ``payload``): ``Replies.acknowledged``.
        self._request_reply = request_reply
        #: Whether a token (by its key) still authenticates (``Authenticator.valid_key``):
        #: asked when a ticket is redeemed, and of every open connection's token when
        #: revocations may have been missed.
        self.valid_token = valid_token
        self.tickets = tickets
        self.presence = presence
        self.sender = sender
        self.access = access
        self.directory = directory
        self.bus = bus
        self.replayer = replayer
        #: ``listen(keys, channels=True)`` returns once the event-log partitions of these
        #: channels (or teams) are read from a position taken no earlier than the call
        #: (``BusConsumer.listen``).
        self.listen = listen
        self.max_text = max_text
        self.heartbeat = heartbeat
        #: Seconds a new TCP connection has to complete its upgrade (with a ticket).
        self.handshake_timeout = handshake_timeout
        self.max_buffer = max_buffer
        self.max_pending = max_pending
        self.max_held = max_held
        self.deflate = deflate
        self.frame_rate = FrameRate(frame_rate, frame_burst, frame_flood)
        self.max_connections_per_user = max_connections_per_user
        self.max_frame_size = max_frame_size
        self.clock = clock
        #: Whether frames are written by the C writer threads (:mod:`.outbound`) when
        #: they are built; off, or where they are not, the event loop writes them.
        self.write_thread = write_thread
        #: How many (:func:`.outbound.thread_count`: 0, one for each CPU, at most 4).
        self.write_threads = write_threads
        self._writes: outbound.ThreadedWrites | None = None
        self._per_user: dict[str, int] = {}  # open connections of each user
        #: Open connections by the key of the token that opened them (for revocation).
        self._by_token: dict[str, set[Connection]] = {}
        self._rechecks: set[asyncio.Task] = set()
        self._last_frame: tuple[Event | None, bytes] = (None, b"")
        self._last_compressed: tuple[Event | None, bytes] = (None, b"")
        #: Connections without an outbox of the writer threads', with frames to write.
        self._dirty: list[Connection] = []
        self._flush_soon = False  # a flush is scheduled
        self._server: asyncio.Server | None = None
        self.connections: set[Connection] = set()
        #: The event loop it serves on (set by :meth:`start`). Its connections make their
        #: tasks on it directly: ``asyncio.get_running_loop()`` and ``current_task()``
        #: ask the kernel for the process id on each call (CPython 3.11, a syscall), two
        #: to three a message on the send path.
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self, host: str, port: int) -> int:
        """Listens on ``host:port`` (0 = any free port); returns the port."""
        loop = self.loop = asyncio.get_running_loop()
        self._writes = outbound.start(self.write_thread, loop, self.write_threads)
        if self._writes is not None:
            self._writes.on_room = self._room
        self._server = await ws_create_server(
            self._route,
            host,
            port,
            enable_auto_ping=True,
            # pings are frames like any other: answered here, after the rate check
            enable_auto_pong=False,
            auto_ping_idle_timeout=self.heartbeat,
            auto_ping_reply_timeout=self.heartbeat,
            max_frame_size=self.max_frame_size,
            websocket_handshake_timeout=self.handshake_timeout,
            # clients send small commands: start each read buffer at the 2 KiB minimum
            # (it doubles when a bigger frame comes) instead of 16 KiB per connection
            read_buffer_init_size=2048,
            # an adapter, not a Logger: picows then shares it instead of building a
            # Logger per connection
            logger_name=_PICOWS_LOG,
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self, grace: float = 0.0) -> None:
        """Drains: stops accepting connections, sends ``goodbye`` to every client, waits up
        to ``grace`` seconds for them to leave on their own, then closes the rest."""
        if self._server is not None:
            self._server.close()
        for task in self._rechecks:
            task.cancel()
        for conn in list(self.connections):
            conn.send(conn.GOODBYE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.close(graceful=False)  # goodbye was said; do not wait on the peer
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        writes, self._writes = self._writes, None
        if writes is not None:  # after the closes, which wait for its writes
            writes.close()  # what it hands back is finished on the loop (writes is None)

    @property
    def writes(self) -> outbound.ThreadedWrites | None:
        """The writer threads writing this gateway's frames (None: the loop writes them)."""
        return self._writes

    def _route(self, request: WSUpgradeRequest):
        query = parse_qs(urlsplit(request.path.decode("latin-1")).query)
        ticket = (query.get("ticket") or [""])[0]
        user_id = self.tickets.holder(ticket) if 0 < len(ticket) <= 256 else None
        if user_id is None:
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(HTTPStatus.FORBIDDEN, _BAD_TICKET.encode()),
                None,
            )
        # picows calls on_ws_connected (attach) right after this returns, in the same
        # callback: no other upgrade can slip in between the check and the count
        if self.open_connections(user_id) >= self.max_connections_per_user:
            log.info("refusing a connection of %s: at its limit", user_id)
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    b"too many connections for this user: at most %d"
                    % self.max_connections_per_user,
                    extra_headers={"Retry-After": str(_CONNECTIONS_RETRY_AFTER)},
                ),
                None,
            )
        extension = (
            deflate.negotiate(request.headers.get("Sec-WebSocket-Extensions"))
            if self.deflate
            else None
        )
        kind = Connection
        if query.get("socket") == ["1"]:  # apps.connections.open's URL (Socket Mode)
            from parley.gateway.socket_mode import SocketModeConnection

            kind = SocketModeConnection
        conn = kind(self, ticket, user_id, deflate=extension is not None)
        if extension is None:
            return conn
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_101_response({"Sec-WebSocket-Extensions": extension}), conn
        )

    def frame_rate_for(self, user: User | None) -> FrameRate:
        """The frame rate of ``user``'s connections: the gateway's, or the user's own
        message rate when an operator raised it above that (``--rate-limit``: trusted
        integrations and load generators need a frame for every message they may send)."""
        custom = user.rate_limit if user is not None else None
        policy = self.frame_rate
        if custom is None or custom <= policy.rate:
            return policy
        return FrameRate(custom, max(policy.burst, custom), policy.flood)

    def attach(self, conn: Connection) -> None:
        """``conn`` is open (counted against its user's limit until :meth:`detach`)."""
        self.connections.add(conn)
        self._per_user[conn.user_id] = self._per_user.get(conn.user_id, 0) + 1

    def detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        left = self._per_user.get(conn.user_id, 1) - 1
        if left > 0:
            self._per_user[conn.user_id] = left
        else:
            self._per_user.pop(conn.user_id, None)

    def track_token(self, conn: Connection) -> None:
        """``conn`` was opened by the token ``conn.token``: revoking it closes ``conn``."""
        if conn.token:
            self._by_token.setdefault(conn.token, set()).add(conn)

    def untrack_token(self, conn: Connection) -> None:
        conns = self._by_token.get(conn.token)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_token[conn.token]

    def request_acknowledged(self, request: Event, reply: dict) -> None:
        """A Socket Mode app acknowledged ``request`` with ``reply``: delivered in a task
        of its own (the connection goes on reading)."""
        if self._request_reply is None:
            return
        task = asyncio.get_running_loop().create_task(self._request_reply(request.payload, reply))
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)

    def revoked(self, key: str | None) -> None:
        """A token was revoked (``key``: its SHA-256 in hex): the connections it opened
        are closed with 1008 ``token_revoked``. ``None``: revocations may have been
        missed, so every open connection's token is checked again."""
        if key is not None:
            for conn in list(self._by_token.get(key, ())):
                conn.revoke()
        elif self.valid_token is not None and self._by_token:
            task = asyncio.get_running_loop().create_task(self._recheck())
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    async def _recheck(self) -> None:
        assert self.valid_token is not None
        for key in list(self._by_token):
            try:
                valid = await self.valid_token(bytes.fromhex(key))
            except ParleyError:
                log.exception("checking an open connection's token failed")
                continue
            if not valid:
                self.revoked(key)

    def open_connections(self, user_id: str) -> int:
        """How many WebSockets ``user_id`` has open here (registered or still opening)."""
        return self._per_user.get(user_id, 0)

    def frame(self, event: Event, compressed: bool) -> bytes:
        """``event``'s frame (deflated when ``compressed``), built once for all the
        connections it goes to: the hub hands one event to its recipients in a row."""
        if compressed:
            if self._last_compressed[0] is not event:
                payload = deflate.compress(event.payload)
                self._last_compressed = (event, frames.text(payload, rsv1=True))
            return self._last_compressed[1]
        if self._last_frame[0] is not event:
            self._last_frame = (event, frames.text(event.payload))
        return self._last_frame[1]

    def mark_dirty(self, conn: Connection) -> None:
        """``conn`` (which has no outbox of the writer threads') has frames to write; they
        go out when the event loop next turns."""
        if not self._dirty:
            self.schedule_flush()
        self._dirty.append(conn)

    def schedule_flush(self) -> None:
        """Frames wait: :meth:`flush` when the event loop next turns (once a turn)."""
        if not self._flush_soon:
            self._flush_soon = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Writes every connection's frames, one write each: the writer threads' outboxes
        are handed to them (:meth:`.ThreadedWrites.flush`: those with a write still out
        wait for it, and so do those past their bound on writes out, until some come back);
        the loop writes the rest (a few, a socket with a backlog, no outbox)."""
        self._flush_soon = False
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()
        writes = self._writes
        if writes is not None and writes.dirty:
            for conn in writes.flush():  # a few cost less than waking the thread for them
                conn.flush()

    def _room(self) -> None:
        """Writes came back from the thread and outboxes wait: they go now."""
        self.flush()


def _refusal(reply_to: Any, exc: Exception) -> bytes:
    """The answer to a send that failed with ``exc``: its code (and ``retry_after``)
    for a refusal or an unavailable shard; ``internal_error`` (logged) for anything
    else, which is never fatal to the socket."""
    if isinstance(exc, StorageUnavailable):  # a failing shard: try again later
        exc = unavailable(exc)
    if not isinstance(exc, ApiError):
        log.error("gateway send failed", exc_info=exc)
        return protocol.nack(reply_to, "internal_error")
    data = dict(exc.data)
    wait = retry_after(exc)
    if wait is not None:
        data["retry_after"] = wait
    return protocol.nack(reply_to, exc.code, data or None)


class Connection(WSListener):
    """One client's WebSocket, opened with ``ticket`` (which names ``user_id``); the user,
    scopes and resume map are known once :meth:`_open` has redeemed it."""

    # Slots, not an instance dict: attributes of a subclass of picows' extension type
    # are otherwise looked up the slow, generic way (twice the time of a plain class's,
    # on the path of every delivery), and each connection carries a dict of ~25 keys.
    __slots__ = (
        "gateway",
        "deflate",
        "_ticket",
        "user",
        "scopes",
        "user_id",
        "team_id",
        "token",
        "transport",
        "_underlying",
        "fd",
        "_box",
        "_after",
        "_closing",
        "_resume",
        "_present",
        "_held",
        "_floor",
        "_catching",
        "_catch_ups",
        "_early_joins",
        "_out",
        "_commands",
        "_answers",
        "_worker",
        "_gate",
    )

    #: What the gateway says to it before a restart (RTM's ``goodbye``).
    GOODBYE = protocol.GOODBYE
    #: Whether its ticket must have come from ``apps.connections.open`` (Socket Mode).
    SOCKET_MODE = False

    def __init__(
        self,
        gateway: Gateway,
        ticket: str,
        user_id: str,
        *,
        deflate: bool = False,
    ) -> None:
        self.gateway = gateway
        self.deflate = deflate
        self._ticket = ticket
        self.user: User | None = None
        #: The scopes of the token ``rtm.connect`` was called with; a send needs chat:write.
        self.scopes: frozenset[str] = frozenset()
        self.user_id = user_id
        self.team_id = ""
        #: The key of the token that opened it (``Grant.token``): revoking it closes it.
        self.token = ""
        self.transport: WSTransport | None = None
        self._underlying = None  # the transport's TCP transport
        #: The socket's descriptor, for the writer thread (-1: none to write to).
        self.fd = -1
        #: Its outbox with the writer thread (``_sender.Outbox``), or None: the frames
        #: wait in ``_out`` and the loop writes them. While a write of its is with the
        #: thread (``writing``), nothing else goes to the socket until it comes back
        #: (:meth:`written`), so frames stay in order.
        self._box = None
        self._after: list[Callable[[], None]] | None = None  # what waits for that
        #: Closing (its close frame sent, or waiting for the write with the thread).
        self._closing = False
        self._resume: dict[str, int] = {}
        #: Counted in the presence registry (from its registration to its close).
        self._present = False
        self._held: Held | None = Held(gateway.max_held)  # live events wait for the replay
        self._floor: Floor | None = None  # after the replay: live events it already carried
        #: Channels joined while connected, being caught up: their live events wait here.
        self._catching: dict[str, Held] = {}
        self._catch_ups: set[asyncio.Task] = set()
        #: Joins announced while the connection was opening, handled once it is open.
        self._early_joins: list[Event] = []
        #: Frames waiting for the next flush, when there is no ``_box``.
        self._out: list[bytes] | None = []
        self._commands: deque[protocol.Command] = deque()
        #: A slot per send taken and not yet answered, in the order sent: ``[answer,
        #: task]``, its answer once known (``None`` until then, :meth:`_answer`) and the
        #: task writing it (``None`` before or without one). A list, not a deque: an
        #: idle connection's share of memory (an empty deque is 760 bytes).
        self._answers: list[list] = []
        #: The task opening the connection, then running commands; none while idle, so
        #: an idle connection holds no task, coroutine or queue.
        self._worker: asyncio.Task | None = None
        self._gate = FrameGate(gateway.frame_rate_for(None), gateway.clock)

    # -- picows callbacks ------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._underlying = underlying = transport.underlying_transport
        sock = underlying.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1
        writes = self.gateway.writes
        if writes is not None and self.fd >= 0:
            self._box = writes.outbox(self.fd, self)
            self._out = None  # the outbox holds the frames
            self._note_backlog()  # the upgrade's answer, should the socket not take it all
        self.gateway.attach(self)
        self._worker = asyncio.get_running_loop().create_task(self._open())

    def on_ws_frame(self, transport: WSTransport, frame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:  # the client closes: answer in kind
            self._closing = True
            self._when_written(self._answer_close, frame.get_close_code())
            return
        if self._closing or transport.is_close_frame_sent:
            return  # closing: frames already on their way are not read
        verdict = self._gate.check()
        if verdict == Verdict.CLOSE:
            log.info("closing %s: %s", self.user_id, self.gateway.frame_rate.close_reason)
            self._fail(WSCloseCode.POLICY_VIOLATION, self.gateway.frame_rate.close_reason)
            return
        if kind == WSMsgType.TEXT:
            if not frame.fin:
                self._fail(WSCloseCode.UNSUPPORTED_DATA, _FRAGMENTED)
                return
            data = frame.get_payload_as_bytes()
            if frame.rsv1:
                limit = self.gateway.max_frame_size
                inflated = deflate.decompress(data, limit) if self.deflate else None
                if inflated is None:  # compressed without negotiation, corrupt, or a bomb
                    self._fail(WSCloseCode.PROTOCOL_ERROR, _BAD_DEFLATE)
                    return
                data = inflated
            if verdict:
                self.send(protocol.ratelimited(protocol.reply_id(data), self._gate.wait))
                return
            self._text(data)
        elif kind == WSMsgType.PING:
            if not verdict:
                self._when_written(self._pong, frame.get_payload_as_bytes())
        elif kind == WSMsgType.BINARY:
            self._fail(WSCloseCode.UNSUPPORTED_DATA, _BINARY)
        elif kind == WSMsgType.CONTINUATION:  # a fragmented message was refused at its start
            self._fail(WSCloseCode.PROTOCOL_ERROR, _CONTINUATION)

    def _text(self, data: bytes) -> None:
        """A text frame from the client: an RTM command."""
        self._take(protocol.parse(data, max_text=self.gateway.max_text))

    def _take(self, command: protocol.Command) -> None:
        """Answers, queues or refuses one parsed client frame."""
        if isinstance(command, protocol.Reply):
            self.send(command.data)
        elif isinstance(command, protocol.Close):
            self._fail(WSCloseCode(command.code), command.reason)
        elif len(self._commands) + len(self._answers) >= self.gateway.max_pending:
            reply_to = getattr(command, "reply_to", None)
            self.send(protocol.ratelimited(reply_to, 1))
        else:
            self._commands.append(command)
            if self._worker is None:
                self._worker = self.gateway.loop.create_task(self._drain())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        gw = self.gateway
        gw.hub.remove(self)
        gw.detach(self)
        gw.untrack_token(self)
        if self._present and self.user is not None:
            self._present = False
            gw.presence.disconnected(self.user)
        if self._worker is not None:
            self._worker.cancel()
        for task in self._catch_ups:
            task.cancel()
        for _answer, write in self._answers:
            if write is not None:
                write.cancel()
        self._answers.clear()
        if self._box is not None:
            # before the socket closes: picows calls this from connection_lost, which
            # aiofastnet runs before it closes the socket, so no flush can pin the
            # descriptor's number once a new connection may have it
            self._box.close()

    # -- the hub's side -------------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        held = self._held
        if held is None:
            if self._floor is None and not self._catching:  # the common case: _emit inlined
                transport = self.transport
                if transport is None or transport.is_disconnected:
                    return
                box = self._box
                if box is not None:
                    if box.append(self.gateway.frame(event, self.deflate)):
                        self.gateway.schedule_flush()
                    return
                out = self._out
                if not out:
                    self.gateway.mark_dirty(self)
                out.append(self.gateway.frame(event, self.deflate))
                return
            if self._catching:
                held = self._catching.get(event.channel)
        if held is not None:
            if not held.add(event):
                log.info("disconnecting %s: too many events during its replay", self.user_id)
                self._drop()
            return
        floor = self._floor
        if floor is not None:
            if not floor.admits(event):
                return
            if not floor:
                self._floor = None
        self._emit(self.gateway.frame(event, self.deflate))

    def joined(self, notice: Event) -> None:
        """This user joined ``notice.channel``: sends the join, follows the channel, and
        catches up (:meth:`_catch_up`) unless the channel was already followed."""
        if self._held is not None:  # opening: handled once open
            self._early_joins.append(notice)
            return
        channel = notice.channel
        if channel in self._catching or self.gateway.hub.follows(self, channel):
            self.deliver(events.from_notice(notice))
            return
        self._catching[channel] = Held(self.gateway.max_held)
        self.gateway.hub.follow(self, channel)
        task = asyncio.get_running_loop().create_task(self._catch_up(notice))
        self._catch_ups.add(task)
        task.add_done_callback(self._catch_ups.discard)

    async def _catch_up(self, notice: Event) -> None:
        """Sends the join, the messages of the channel that came after ``notice.seq``
        (its last before the join), then its live events held meanwhile, minus those
        the catch-up carried: a resume of one channel. The channel's partition is read
        first, from a position taken before the catch-up reads the store, so nothing
        falls between. A user who left again by then gets nothing of it."""
        gw, channel = self.gateway, notice.channel
        try:
            await gw.listen((channel,))
            member = await self._member(channel)
            if member:
                frames_, last = await gw.replayer.frames(channel, notice.seq)
        except Exception:  # reconnecting, the client resumes and misses nothing
            log.exception("catching %s up on %s failed", self.user_id, channel)
            self._drop(b"catching up failed; reconnect and resume")
            return
        held = self._catching.pop(channel)
        if not member:  # left again before this gateway read the leave: follow nothing
            gw.hub.unfollow(self, channel)
            return
        self._emit(gw.frame(events.from_notice(notice), self.deflate))
        for frame in frames_:
            self.send(frame)
        floor = Floor({channel: last})
        for event in held.release(floor):
            self._emit(gw.frame(event, self.deflate))
        if floor:
            if self._floor is None:
                self._floor = floor
            else:
                self._floor.merge(floor)

    def send(self, payload: bytes) -> None:
        """A frame for this client alone (replies, replays)."""
        if self.deflate:
            self._emit(frames.text(deflate.compress(payload), rsv1=True))
        else:
            self._emit(frames.text(payload))

    def _emit(self, frame: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_disconnected:
            return
        box = self._box
        if box is not None:
            if box.append(frame):
                self.gateway.schedule_flush()
            return
        if not self._out:
            self.gateway.mark_dirty(self)
        self._out.append(frame)

    def _take_frames(self) -> list[bytes]:
        """The frames waiting (taken: the caller writes them, or drops them)."""
        if self._box is not None:
            return self._box.take()
        out, self._out = self._out, []
        return out

    def flush(self) -> None:
        """Writes the frames waiting through the transport, in one write (the loop's
        part: a few connections had frames this turn, the socket has a backlog, or there
        is no writer thread), or drops a client that stopped reading. While a write is
        with the thread, they wait for it (:meth:`written`). An outbox whose write
        left a backlog in the transport stays ``slow`` (written here) until it is gone."""
        box = self._box
        if box is not None and box.writing:
            return
        out = self._take_frames()
        transport = self.transport
        if not out or transport is None or transport.is_disconnected:
            return
        if transport.is_close_frame_sent:
            return
        underlying = self._underlying
        if underlying.get_write_buffer_size() > self.gateway.max_buffer:
            log.info("disconnecting %s: not reading (slow consumer)", self.user_id)
            self._drop()
            return
        underlying.write(out[0] if len(out) == 1 else b"".join(out))
        self._note_backlog()

    def written(self, data: bytes, result: int) -> None:
        """The writer thread wrote ``result`` bytes of ``data`` and the outbox must hear
        of it: the rest (a full socket) goes through the transport, which buffers it
        (the outbox is ``slow`` behind it); then what waited for the write runs. A failed
        socket (``result`` < 0) is disconnected; the client reconnects and resumes.
        What the outbox queued meanwhile is flushed by the writer's own account."""
        if result != len(data):
            self._written_in_part(data, result)
        if self._after is not None:
            after, self._after = self._after, None
            for action in after:
                action()

    def _written_in_part(self, data: bytes, result: int) -> None:
        transport = self.transport
        if transport is None or transport.is_disconnected:
            return
        if result < 0:
            log.info("disconnecting %s: its socket failed (errno %d)", self.user_id, -result)
            self._take_frames()
            transport.disconnect(graceful=False)
        else:
            self._underlying.write(data[result:])
            self._note_backlog()

    def _when_written(self, action: Callable[..., None], *args) -> None:
        """Runs ``action(*args)`` now, or once the write with the thread is back: what
        writes to the socket itself (a pong, a close) must not pass a frame in flight."""
        box = self._box
        if box is not None and box.writing:
            if self._after is None:
                self._after = []
            self._after.append(partial(action, *args))
            box.notify = True
        else:
            action(*args)

    def send_user_specific_ping(self, transport: WSTransport) -> None:
        """picows's heartbeat ping, queued like any other frame (see :meth:`_when_written`)."""
        self._emit(frames.PING)

    def _pong(self, payload: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_disconnected and not self._closing:
            transport.send_pong(payload)
            self._note_backlog()

    def _note_backlog(self) -> None:
        """After a write through the transport: while the transport holds some of what
        it was given, the outbox's frames go through it too, behind that (``slow``),
        never beside it from the writer thread."""
        if self._box is not None:
            self._box.slow = self._underlying.get_write_buffer_size() > 0

    def _send_close(self, code: WSCloseCode, reason: bytes | None = None) -> None:
        """The close frame, through the transport; nothing is written after it."""
        assert self.transport is not None
        self.transport.send_close(code, reason)
        if self._box is not None:
            self._box.close()

    def _answer_close(self, code: WSCloseCode) -> None:
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            if not transport.is_close_frame_sent:
                self._send_close(code)
            transport.disconnect()

    def _drop(self, reason: bytes = b"too slow; reconnect and resume") -> None:
        """Disconnects a client that cannot keep up (or that this gateway failed); it
        reconnects and resumes."""
        self._take_frames()
        self._closing = True
        self._when_written(self._hang_up_now, reason)

    def _hang_up_now(self, reason: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            self._send_close(WSCloseCode.TRY_AGAIN_LATER, reason)
            transport.disconnect(graceful=False)

    def _fail(self, code: WSCloseCode, reason: str) -> None:
        """Closes for something the client sent: what was already said goes first, then
        the close frame with ``code`` and ``reason``; nothing more is read or run.

        The socket is not closed at once: a client that flooded has frames still on
        their way, and closing a socket with unread data makes the kernel send a reset
        that can destroy the close frame before the client reads it. As RFC 6455 asks,
        the client's own close ends it (frames till then are discarded unread), or
        :data:`CLOSE_WAIT` seconds."""
        self._commands.clear()
        self._closing = True
        self._when_written(self._close_for, code, reason)

    def _close_for(self, code: WSCloseCode, reason: str) -> None:
        self.flush()
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            if transport.is_close_frame_sent:
                return
            self._send_close(code, reason.encode())
            asyncio.get_running_loop().call_later(CLOSE_WAIT, self._hang_up, transport)

    @staticmethod
    def _hang_up(transport: WSTransport) -> None:
        if not transport.is_disconnected:
            transport.disconnect()

    def revoke(self) -> None:
        """The token that opened this connection was revoked: closed with 1008."""
        self._fail(WSCloseCode.POLICY_VIOLATION, REVOKED)

    def close(self, graceful: bool = True) -> None:
        """Closes with 1001 (going away), after what was said before it (and after the
        write with the thread, if one is)."""
        self._closing = True
        self._when_written(self._close_now, graceful)

    def _close_now(self, graceful: bool) -> None:
        self.flush()  # what was said before the close goes first
        if self.transport is not None and not self.transport.is_disconnected:
            self._send_close(WSCloseCode.GOING_AWAY)
            self.transport.disconnect(graceful=graceful)

    # -- commands, in order ---------------------------------------------------------------

    async def _redeem(self) -> bool:
        """Spends the ticket; a ticket that does not redeem (forged, spent, expired, or
        Redis failing) closes the socket with 1008 before anything is sent."""
        gw = self.gateway
        grant = await gw.tickets.redeem(self._ticket)
        if grant is None or grant.user.id != self.user_id or grant.socket != self.SOCKET_MODE:
            self._fail(WSCloseCode.POLICY_VIOLATION, _BAD_TICKET)
            return False
        if grant.token and gw.valid_token is not None:
            try:
                valid = await gw.valid_token(bytes.fromhex(grant.token))
            except (ParleyError, ValueError):
                valid = False
            if not valid:  # revoked between rtm.connect and now
                self._fail(WSCloseCode.POLICY_VIOLATION, REVOKED)
                return False
        self.user, self.scopes, self._resume = grant.user, grant.scopes, grant.resume
        self.team_id = grant.user.team_id
        self.token = grant.token
        gw.track_token(self)
        if grant.user.rate_limit is not None:
            self._gate = FrameGate(gw.frame_rate_for(grant.user), gw.clock)
        return True

    async def _open(self) -> None:
        """Redeems the ticket, registers, greets, replays what a resuming client missed,
        releases the live events held meanwhile, then runs the commands that came in
        during all that."""
        gw = self.gateway
        if not await self._redeem():
            return
        user = self.user
        assert user is not None
        gw.hub.add(self)  # membership events from now on apply to this connection
        try:
            # the team's partition first: a join committed after the memberships are
            # read reaches this connection as a notice
            await gw.listen((self.team_id,), channels=False)
            channels = await gw.directory.member_channels(self.user_id)
            gw.hub.follow_snapshot(self, channels)
            await gw.listen(channels)  # before the replay reads anything
        except ParleyError:
            log.exception("cannot open a connection for %s", self.user_id)
            self.close()
            return
        now = await self._as_now(user)  # not shown active if set away since the ticket
        self._present = True  # counted from here on, with nothing awaited in between
        await gw.presence.connected(now)  # online for every node before hello
        replayed = await self._greet()
        floor = Floor(replayed)
        held, self._held = self._held, None
        if self._resume:
            self.send(resume.done_frame(replayed))
        for event in held.release(floor) if held else ():
            self._release(event)
        self._floor = floor or None
        early, self._early_joins = self._early_joins, []
        for notice in early:
            self.joined(notice)
        await self._drain()

    async def _as_now(self, user: User) -> User:
        """``user`` as the directory has them now (whether they set themselves away), or
        as the ticket had them if it cannot say."""
        try:
            return await self.gateway.directory.user(user.id) or user
        except ParleyError:
            return user

    async def _greet(self) -> dict[str, int]:
        """Says hello, then replays what a resuming client missed; the last ``seq``
        replayed per channel."""
        gw = self.gateway
        self.send(protocol.HELLO)
        replayed: dict[str, int] = {}
        for channel, seq in self._resume.items():
            if not await self._member(channel):
                continue  # not a member (any more): nothing to replay, nothing to reveal
            frames, replayed[channel] = await gw.replayer.frames(channel, seq)
            for frame in frames:
                self.send(frame)
        return replayed

    def _release(self, event: Event) -> None:
        """A live event held while the connection opened, sent once it is open."""
        self._emit(self.gateway.frame(event, self.deflate))

    async def _member(self, channel: str) -> bool:
        """Whether this user is in ``channel`` now: followed here (the snapshot less the
        leaves since) and in the current member set, which a leave clears at once, before
        its event reaches the hub."""
        if not self.gateway.hub.follows(self, channel):
            return False
        return self.user_id in await self.gateway.access.members(channel)

    async def _drain(self) -> None:
        """Takes queued commands one at a time, in order, until none is left. A send
        holds the next command back only for its checks (:meth:`_prepare`); its write
        (:meth:`_write`) runs in a task of its own, or in this one when nothing else is
        waiting or being written: this task then stops being the connection's worker, so
        the next command starts another.

        Writes are stored in the order begun (:meth:`.Sender.write_post`): a task made
        here starts after those made before it, and this task writes in place only
        when every earlier send of the connection has been answered."""
        me = asyncio.current_task(self.gateway.loop)
        try:
            while self._commands:
                command = self._commands.popleft()
                if not isinstance(command, protocol.Send):
                    try:
                        await self._run(command)
                    except Exception:  # a failed command is logged, never fatal to the socket
                        log.exception("gateway command failed")
                    continue
                slot: list = [None, None]
                self._answers.append(slot)
                req = await self._prepare(command, slot)
                if req is None:
                    continue
                if self._commands or self._answers[0] is not slot:
                    slot[1] = self.gateway.loop.create_task(
                        self._write(slot, command.reply_to, req)
                    )
                    continue
                self._worker = None  # the common case: one send at a time, one task
                slot[1] = me
                await self._write(slot, command.reply_to, req)
                return
        finally:
            if self._worker is me:
                self._worker = None

    async def _prepare(self, command: protocol.Send, slot: list) -> PostRequest | None:
        """A send's checks: the request they allow, or None once a failed one is
        answered (in its turn). Never raises."""
        REQUEST_ID.set(request_id())  # this drain task's own context: one per send
        try:
            require_scope("chat.postMessage", self.scopes)
            return await self.gateway.sender.prepare_post(
                self.user,
                command.channel,
                command.text,
                thread_ts=command.thread_ts,
                reply_broadcast=command.reply_broadcast,
                client_msg_id=command.client_msg_id,
            )
        except Exception as exc:
            self._answer(slot, _refusal(command.reply_to, exc))
            return None

    async def _write(self, slot: list, reply_to: Any, req: PostRequest) -> None:
        """A send's write, by the task in its slot; answered, in its turn, once durable
        (not once the connection is gone: the task is cancelled)."""
        try:
            result = await self.gateway.sender.write_post(
                req, links.APP if self.user.is_bot else links.PERSON
            )
        except Exception as exc:
            self._answer(slot, _refusal(reply_to, exc))
        else:
            self._answer(slot, protocol.ack(reply_to, result.message))

    def _answer(self, slot: list, answer: bytes) -> None:
        """``slot``'s answer is known: sends it, and every answer after it that was
        waiting for it, in the order the sends were made."""
        slot[0] = answer
        answers = self._answers
        ready = 0
        while ready < len(answers) and answers[ready][0] is not None:
            self.send(answers[ready][0])
            ready += 1
        del answers[:ready]

    async def _run(self, command: protocol.Command) -> None:
        gw = self.gateway
        if isinstance(command, protocol.PresenceSub):
            if command.subscribe:
                gw.hub.watch_presence(self, command.ids)
            online = await gw.presence.online(self.team_id, command.ids)
            away: set[str] = set()
            if online:
                try:
                    away = await gw.directory.away_users(self.team_id)
                except ParleyError:  # the directory failing: shown by their connections
                    log.warning("presence: who set themselves away cannot be read now")
            for user_id in command.ids:
                self.send(events.presence_frame(user_id, shown(online, away, user_id)))
        elif isinstance(command, protocol.Typing):
            with contextlib.suppress(ApiError):  # typing where one may not: silently nothing
                channel = await gw.access.writable(self.user, command.channel)
                gw.bus.publish(events.typing(channel.id, channel.team_id, self.user_id, wall_us()))
