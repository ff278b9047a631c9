"""The gateway's I/O shell: picows WebSocket connections around the sans-I/O protocol.

A connection is opened with a ticket from ``rtm.connect`` (``/?ticket=…``), registered
in the hub under the user's channels, greeted with ``hello``, and then receives every
event of those channels. Client commands run one at a time per connection, in the order
sent, through the same send path as ``chat.postMessage``.

Writes are batched: every frame for a connection (events, replies, replays, in the order
they were made) is appended to its outbox, and one write per connection goes out when the
event loop next turns, so a consumer batch of 100 events to one client is one syscall, not
100. An event's frame is built once for all its recipients (server frames are unmasked).

Bounds: a client that stops reading is disconnected once ``max_buffer`` bytes wait in its
socket buffer (it reconnects and resumes; nothing is lost); a connection queues at most
``max_pending`` commands; picows pings a connection idle for ``heartbeat`` seconds and
drops it if no pong comes back within ``heartbeat`` more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from http import HTTPStatus
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
from parley.errors import ApiError, ParleyError
from parley.gateway import deflate, frames, protocol, resume
from parley.gateway.hub import Hub
from parley.gateway.resume import Floor, Held, Replayer
from parley.gateway.tickets import TicketBook
from parley.ids import wall_us
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.pipeline.send import Sender
from parley.storage.interface import Directory
from parley.storage.models import User

log = logging.getLogger(__name__)
_PICOWS_LOG = logging.LoggerAdapter(logging.getLogger("picows.server"), {})


class Gateway:
    """Everything a connection needs, and the picows server itself."""

    def __init__(
        self,
        *,
        hub: Hub,
        tickets: TicketBook,
        sender: Sender,
        access: ChannelAccess,
        directory: Directory,
        bus: EventBus,
        replayer: Replayer,
        max_text: int,
        heartbeat: float,
        max_buffer: int = 4 << 20,
        max_pending: int = 256,
        max_held: int = 100_000,
        deflate: bool = True,
    ) -> None:
        self.hub = hub
        self.tickets = tickets
        self.sender = sender
        self.access = access
        self.directory = directory
        self.bus = bus
        self.replayer = replayer
        self.max_text = max_text
        self.heartbeat = heartbeat
        self.max_buffer = max_buffer
        self.max_pending = max_pending
        self.max_held = max_held
        self.deflate = deflate
        self._last_frame: tuple[Event | None, bytes] = (None, b"")
        self._last_compressed: tuple[Event | None, bytes] = (None, b"")
        self._dirty: list[Connection] = []  # connections with frames to write
        self._server: asyncio.Server | None = None
        self.connections: set[Connection] = set()

    async def start(self, host: str, port: int) -> int:
        """Listens on ``host:port`` (0 = any free port); returns the port."""
        self._server = await ws_create_server(
            self._route,
            host,
            port,
            enable_auto_ping=True,
            auto_ping_idle_timeout=self.heartbeat,
            auto_ping_reply_timeout=self.heartbeat,
            max_frame_size=1 << 20,
            websocket_handshake_timeout=10,
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
        for conn in list(self.connections):
            conn.send(protocol.GOODBYE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.close(graceful=False)  # goodbye was said; do not wait on the peer
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def announce_presence(self, user: User, presence: str) -> None:
        self.bus.publish(events.presence(user.team_id, user.id, presence, wall_us()))

    def _route(self, request: WSUpgradeRequest):
        query = parse_qs(urlsplit(request.path.decode("latin-1")).query)
        ticket = (query.get("ticket") or [""])[0]
        grant = self.tickets.redeem(ticket) if ticket else None
        if grant is None:
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(
                    HTTPStatus.FORBIDDEN, b"invalid or expired ticket: call rtm.connect"
                ),
                None,
            )
        extension = (
            deflate.negotiate(request.headers.get("Sec-WebSocket-Extensions"))
            if self.deflate
            else None
        )
        conn = Connection(self, grant.user, grant.resume, deflate=extension is not None)
        if extension is None:
            return conn
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_101_response({"Sec-WebSocket-Extensions": extension}), conn
        )

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
        """``conn`` has frames to write; they go out when the event loop next turns."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self.flush)
        self._dirty.append(conn)

    def flush(self) -> None:
        """Writes every connection's outbox, one write each."""
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()


class Connection(WSListener):
    """One client's WebSocket."""

    def __init__(
        self, gateway: Gateway, user: User, resume: dict[str, int], *, deflate: bool = False
    ) -> None:
        self.gateway = gateway
        self.deflate = deflate
        self.user = user
        self.user_id = user.id
        self.team_id = user.team_id
        self.transport: WSTransport | None = None
        self._resume = resume
        self._held: Held | None = Held(gateway.max_held)  # live events wait for the replay
        self._floor: Floor | None = None  # after the replay: live events it already carried
        self._out: list[bytes] = []  # frames waiting for the next flush
        self._commands: deque[protocol.Command] = deque()
        #: The task opening the connection, then running commands; none while idle, so
        #: an idle connection holds no task, coroutine or queue.
        self._worker: asyncio.Task | None = None

    # -- picows callbacks ------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.gateway.connections.add(self)
        self._worker = asyncio.get_running_loop().create_task(self._open())

    def on_ws_frame(self, transport: WSTransport, frame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT:
            data = frame.get_payload_as_bytes()
            if frame.rsv1:
                inflated = deflate.decompress(data, 1 << 20) if self.deflate else None
                if inflated is None:  # compressed without negotiation, corrupt, or a bomb
                    transport.send_close(WSCloseCode.PROTOCOL_ERROR)
                    transport.disconnect()
                    return
                data = inflated
            command = protocol.parse(data, max_text=self.gateway.max_text)
            if isinstance(command, protocol.Reply):
                self.send(command.data)
            elif len(self._commands) >= self.gateway.max_pending:
                reply_to = getattr(command, "reply_to", None)
                self.send(protocol.nack(reply_to, "ratelimited", {"retry_after": 1}))
            else:
                self._commands.append(command)
                if self._worker is None:
                    self._worker = asyncio.get_running_loop().create_task(self._drain())
        elif kind == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        gw = self.gateway
        registered = self in gw.hub
        gw.hub.remove(self)
        gw.connections.discard(self)
        if registered and not gw.hub.online(self.user_id):
            gw.announce_presence(self.user, "away")
        if self._worker is not None:
            self._worker.cancel()

    # -- the hub's side -------------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        if self._held is not None:
            if not self._held.add(event):
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
        if not self._out:
            self.gateway.mark_dirty(self)
        self._out.append(frame)

    def flush(self) -> None:
        """Writes the outbox in one write, or drops a client that stopped reading."""
        out, self._out = self._out, []
        transport = self.transport
        if not out or transport is None or transport.is_disconnected:
            return
        if transport.is_close_frame_sent:
            return
        underlying = transport.underlying_transport
        if underlying.get_write_buffer_size() > self.gateway.max_buffer:
            log.info("disconnecting %s: not reading (slow consumer)", self.user_id)
            self._drop()
            return
        underlying.write(out[0] if len(out) == 1 else b"".join(out))

    def _drop(self) -> None:
        """Disconnects a client that cannot keep up; it reconnects and resumes."""
        self._out = []
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            transport.send_close(WSCloseCode.TRY_AGAIN_LATER, b"too slow; reconnect and resume")
            transport.disconnect(graceful=False)

    def close(self, graceful: bool = True) -> None:
        self.flush()  # what was said before the close goes first
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send_close(WSCloseCode.GOING_AWAY)
            self.transport.disconnect(graceful=graceful)

    # -- commands, in order ---------------------------------------------------------------

    async def _open(self) -> None:
        """Registers, greets, replays what a resuming client missed, releases the live
        events held meanwhile, then runs the commands that came in during all that."""
        gw = self.gateway
        first = not gw.hub.online(self.user_id)
        gw.hub.add(self)  # membership events from now on apply to this connection
        try:
            channels = await gw.directory.member_channels(self.user_id)
        except ParleyError:
            log.exception("cannot load channels of %s", self.user_id)
            self.close()
            return
        gw.hub.follow_snapshot(self, channels)
        if first:
            gw.announce_presence(self.user, "active")
        self.send(protocol.HELLO)
        replayed: dict[str, int] = {}
        for channel, seq in self._resume.items():
            if not await self._member(channel):
                continue  # not a member (any more): nothing to replay, nothing to reveal
            frames, replayed[channel] = await gw.replayer.frames(channel, seq)
            for frame in frames:
                self.send(frame)
        floor = Floor(replayed)
        held, self._held = self._held, None
        if self._resume:
            self.send(resume.done_frame(replayed))
        for event in held.release(floor) if held else ():
            self._emit(self.gateway.frame(event, self.deflate))
        self._floor = floor or None
        await self._drain()

    async def _member(self, channel: str) -> bool:
        """Whether this user is in ``channel`` now: followed here (the snapshot less the
        leaves since) and in the current member set, which a leave clears at once, before
        its event reaches the hub."""
        if not self.gateway.hub.follows(self, channel):
            return False
        return self.user_id in await self.gateway.access.members(channel)

    async def _drain(self) -> None:
        """Runs queued commands one at a time, in order, until none is left."""
        try:
            while self._commands:
                command = self._commands.popleft()
                try:
                    await self._run(command)
                except Exception:  # a failed command is answered, never fatal to the socket
                    log.exception("gateway command failed")
                    if isinstance(command, protocol.Send):
                        self.send(protocol.nack(command.reply_to, "internal_error"))
        finally:
            self._worker = None

    async def _run(self, command: protocol.Command) -> None:
        gw = self.gateway
        if isinstance(command, protocol.Send):
            try:
                result = await gw.sender.post(
                    self.user,
                    command.channel,
                    command.text,
                    thread_ts=command.thread_ts,
                    reply_broadcast=command.reply_broadcast,
                    client_msg_id=command.client_msg_id,
                )
            except ApiError as exc:
                self.send(protocol.nack(command.reply_to, exc.code, exc.data or None))
                return
            self.send(protocol.ack(command.reply_to, result.message))
        elif isinstance(command, protocol.PresenceSub):
            if command.subscribe:
                gw.hub.watch_presence(self, command.ids)
            for user_id in command.ids:
                state = gw.hub.presence(self.team_id, user_id)
                self.send(events.presence_frame(user_id, state))
        elif isinstance(command, protocol.Typing):
            with contextlib.suppress(ApiError):  # typing where one may not: silently nothing
                channel = await gw.access.writable(self.user, command.channel)
                gw.bus.publish(events.typing(channel.id, channel.team_id, self.user_id, wall_us()))
