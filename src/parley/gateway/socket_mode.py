"""Socket Mode: the connection Slack apps open with ``apps.connections.open`` (an
app-level token, scope ``connections:write``), so that ``slack_sdk``'s
``SocketModeClient`` and Bolt's ``SocketModeHandler`` work unmodified.

The connection is its bot user's, opened like an RTM one (a single-use ticket, the
user's channels followed, the same fan-out), but it speaks the Events API:

- first ``{"type": "hello", "num_connections": n, "connection_info": {"app_id": A}, ...}``;
- each event of :data:`.APP_EVENTS` from a channel the bot is in comes inside an envelope,
  ``{"envelope_id": E, "type": "events_api", "retry_attempt": 0, "retry_reason": "",
  "accepts_response_payload": false, "payload": {"type": "event_callback", "event":
  <the event as RTM clients get it>, "event_id": "Ev…", "event_time": s, "team_id": T,
  "api_app_id": A, "authorizations": [...]}}``, a message event with its channel's
  ``channel_type`` (``channel``, ``group``, ``im``, ``mpim``) added, as Slack's;
- the app acknowledges it by sending ``{"envelope_id": E}``; an envelope not acknowledged
  within :data:`ACK_WAIT` seconds is sent again, ``retry_attempt`` 1, 2 and 3 with
  ``retry_reason`` ``"timeout"``, then given up (logged). What is unacknowledged on a
  connection that closes is sent on another of the same app on this node, if any;
- a slash command of the app or a button of its messages pressed
  (:mod:`parley.apps.commands`, :mod:`parley.apps.actions`) comes in a
  ``slash_commands`` or ``interactive`` envelope; a command's
  ``accepts_response_payload``: an acknowledgement's ``payload`` is the app's reply.
  Neither is sent again (a person is waiting, as in Slack);
- before a restart the gateway says ``{"type": "disconnect", "reason":
  "refresh_requested"}``, on which the SDK opens a new connection.

Pure parts (:func:`envelope`, :func:`hello`) build frames; :class:`SocketModeConnection`
is the gateway's :class:`~parley.gateway.server.Connection` with these frames instead of
RTM's. Other events (typing, presence, read marks, ephemeral messages) are not sent to
apps, as in Slack's Events API.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

import orjson

from parley.apps.callback import (
    APP_EVENTS,
    app_id,
    channel_type,
    derived,
    event_callback,
    type_by_id,
    type_of_join,
)
from parley.bus.interface import APP_REQUEST, TO_ONE_APP, Event
from parley.errors import ParleyError
from parley.gateway.bounds import FrameGate, FrameRate
from parley.gateway.resume import Floor
from parley.gateway.server import Connection
from parley.pipeline import events
from parley.storage.models import User

log = logging.getLogger(__name__)

#: How many frames an app may send: an acknowledgement per event it gets.
ACK_RATE = FrameRate(rate=2000.0, burst=5000.0, flood=10.0)
#: Seconds an envelope waits for its acknowledgement before it is sent again.
ACK_WAIT = 3.0
#: Times an unacknowledged envelope is sent again before it is given up.
RETRIES = 3
#: Requests a connection keeps for their acknowledgement's reply.
MAX_REQUESTS = 100
#: What the gateway says before it restarts (the SDK reconnects on it).
DISCONNECT = orjson.dumps(
    {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "parley"}}
)


def hello(user: User, connections: int) -> bytes:
    return orjson.dumps(
        {
            "type": "hello",
            "num_connections": connections,
            "debug_info": {"host": "parley", "build_number": 1},
            "connection_info": {"app_id": app_id(user)},
        }
    )


def request_envelope(envelope_id: str, request: Event) -> bytes:
    """An :data:`.APP_REQUEST` in its envelope: the event's payload (the envelope as
    encoded once) with ``envelope_id`` put first."""
    return b'{"envelope_id":"' + envelope_id.encode() + b'",' + request.payload[1:]


def envelope(
    envelope_id: str, event_id: str, event: Event, user: User, attempt: int, kind: str | None
) -> bytes:
    """``event`` in its Socket Mode envelope for ``user``'s app (``attempt``: how many
    times it was sent before; ``kind``: its channel's ``channel_type``, when known)."""
    return orjson.dumps(
        {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": attempt,
            "retry_reason": "timeout" if attempt else "",
            "payload": event_callback(event, user, event_id, kind),
        }
    )


class _Waiting:
    """An envelope sent and not yet acknowledged."""

    __slots__ = ("event", "event_id", "attempts", "due")

    def __init__(self, event: Event, event_id: str, attempts: int, due: float) -> None:
        self.event = event
        self.event_id = event_id
        self.attempts = attempts
        self.due = due


class SocketModeConnection(Connection):
    """An app's Socket Mode connection (see the module)."""

    __slots__ = ("_waiting", "_timer", "_requests", "_types")

    GOODBYE = DISCONNECT
    SOCKET_MODE = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: Envelopes sent and not acknowledged, by envelope id, oldest first.
        self._waiting: dict[str, _Waiting] = {}
        self._timer = None
        #: Requests (:data:`.APP_REQUEST`) sent and not acknowledged, by envelope id,
        #: oldest first.
        self._requests: dict[str, Event] = {}
        #: The ``channel_type`` of the ``C…`` channels the bot is in (a channel's kind
        #: never changes): read as it opens, then told by each join.
        self._types: dict[str, str] = {}

    async def _redeem(self) -> bool:
        """As an RTM connection's, and then a frame rate for acknowledgements: an app
        acknowledges every event it gets, so it may send as many frames as it receives."""
        if not await super()._redeem():
            return False
        self._gate = FrameGate(ACK_RATE, self.gateway.clock)
        return True

    async def _greet(self) -> dict[str, int]:
        """Reads the kind of each channel the bot is in, then says Socket Mode's hello;
        nothing to replay (an app does not resume)."""
        assert self.user is not None
        for channel in self.gateway.hub.followed(self):
            if type_by_id(channel) is None and channel not in self._types:
                try:
                    found = await self.gateway.access.visible(self.user, channel)
                except ParleyError:  # left meanwhile, or unreadable now: sent without
                    continue
                self._types[channel] = channel_type(found)
        self.send(hello(self.user, len(self._siblings()) + 1))
        return {}

    def deliver(self, event: Event) -> None:
        if event.type == APP_REQUEST or event.type in TO_ONE_APP:  # for one of the app's
            send = self._send_request if event.type == APP_REQUEST else self._take
            claim = self.gateway.claim_request
            if claim is None:
                send(event)
            else:  # another gateway of the fleet may hold a connection of the app too
                claimed = self._claimed(claim, event, send)
                task = asyncio.get_running_loop().create_task(claimed)
                self._catch_ups.add(task)
                task.add_done_callback(self._catch_ups.discard)
            return
        self._take(event)

    def _take(self, event: Event) -> None:
        """An event for the app: sent, or held while the connection opens or catches up
        on its channel."""
        if event.type not in APP_EVENTS:
            return
        held = self._held or (self._catching and self._catching.get(event.channel))
        if held:  # opening (sent once hello is: _release), or catching up on the channel
            if not held.add(event):
                log.info("disconnecting %s: too many events while it waited", self.user_id)
                self._drop()
            return
        floor = self._floor
        if floor is not None:
            if not floor.admits(event):
                return  # a catch-up carried it
            if not floor:
                self._floor = None
        self._send_event(event)

    def _send_event(self, event: Event) -> None:
        """``event`` in an envelope, then what the app gets beside it (its
        ``app_mention``, ``message_metadata_posted``: :func:`.callback.derived`)."""
        self._send_envelope(event, f"Ev{secrets.token_hex(8).upper()}")
        for extra in derived(event, self.user_id):
            self._send_envelope(extra, f"Ev{secrets.token_hex(8).upper()}")

    def _release(self, event: Event) -> None:
        self._take(event)

    def joined(self, notice: Event) -> None:
        """The bot joined a channel: as an RTM connection, the join and then the messages
        after it that came before this gateway read the channel (a person opening a
        direct message with the bot and writing at once), then the channel's events
        live (:meth:`_catch_up`); never older history, as apps get none."""
        if self._held is None:
            kind = type_of_join(notice)
            if kind is not None:
                self._types[notice.channel] = kind
        super().joined(notice)

    async def _catch_up(self, notice: Event) -> None:
        gw, channel = self.gateway, notice.channel
        try:
            await gw.listen((channel,))
            member = await self._member(channel)
            if member:
                found, last, skipped = await gw.replayer.events(channel, notice.seq)
        except Exception:  # reconnecting, the app misses what an app misses
            log.exception("catching app %s up on %s failed", self.user_id, channel)
            self._drop(b"catching up failed; reconnect")
            return
        held = self._catching.pop(channel)
        if not member:  # left again before this gateway read the leave: follow nothing
            gw.hub.unfollow(self, channel)
            return
        if skipped:
            log.warning(
                "app %s joined %s: %d older messages not sent", self.user_id, channel, skipped
            )
        self._send_event(events.from_notice(notice))
        for event in found:
            self._send_event(event)
        floor = Floor({channel: last})
        for event in held.release(floor):
            self._send_event(event)
        if floor:
            if self._floor is None:
                self._floor = floor
            else:
                self._floor.merge(floor)

    def _send_envelope(self, event: Event, event_id: str, attempts: int = 0) -> None:
        assert self.user is not None
        envelope_id = secrets.token_hex(16)
        due = self.gateway.clock() + ACK_WAIT
        self._waiting[envelope_id] = _Waiting(event, event_id, attempts, due)
        kind = type_by_id(event.channel) or self._types.get(event.channel)
        self.send(envelope(envelope_id, event_id, event, self.user, attempts, kind))
        if self._timer is None:
            self._timer = self.gateway.loop.call_later(ACK_WAIT, self._resend_due)

    async def _claimed(
        self,
        claim: Callable[[Event], Awaitable[bool]],
        request: Event,
        send: Callable[[Event], None],
    ) -> None:
        """Sends ``request`` (an app request, or its home opened) if this gateway's claim
        on it lands first."""
        if await claim(request):
            send(request)

    def _send_request(self, request: Event) -> None:
        """Sends a slash command or an interaction now (while the connection opens, it is
        not sent: the person sees no answer, as when the app is slow)."""
        if self._held is not None or self.transport is None:
            return
        envelope_id = secrets.token_hex(16)
        self._requests[envelope_id] = request
        if len(self._requests) > MAX_REQUESTS:  # never acknowledged: forget the oldest
            del self._requests[next(iter(self._requests))]
        self.send(request_envelope(envelope_id, request))

    def _text(self, data: bytes) -> None:
        """An acknowledgement (``{"envelope_id": E}``, for a slash command perhaps with a
        ``payload``: the app's reply); anything else is ignored, as Slack does."""
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("envelope_id"), str):
            return
        envelope_id = frame["envelope_id"]
        self._waiting.pop(envelope_id, None)
        request = self._requests.pop(envelope_id, None)
        reply = frame.get("payload")
        if request is not None:  # a modal's submission is answered even with nothing
            self.gateway.request_acknowledged(request, reply if isinstance(reply, dict) else {})

    def _resend_due(self) -> None:
        """Sends again what waited :data:`ACK_WAIT` seconds unacknowledged (as a new
        envelope with ``retry_attempt`` one more), or gives it up after :data:`RETRIES`."""
        self._timer = None
        if self.transport is None or self.transport.is_disconnected:
            return
        now = self.gateway.clock()
        due = [(eid, w) for eid, w in self._waiting.items() if w.due <= now]
        for envelope_id, waiting in due:
            del self._waiting[envelope_id]
            if waiting.attempts >= RETRIES:
                log.warning("socket mode: %s never acknowledged, given up", waiting.event_id)
                continue
            self._send_envelope(waiting.event, waiting.event_id, waiting.attempts + 1)
        if self._waiting and self._timer is None:
            soonest = min(w.due for w in self._waiting.values())
            self._timer = self.gateway.loop.call_later(max(0.0, soonest - now), self._resend_due)

    def _siblings(self) -> list[SocketModeConnection]:
        """The app's other open Socket Mode connections on this node."""
        return [
            c
            for c in self.gateway.hub.connections_of(self.user_id)
            if isinstance(c, SocketModeConnection) and c is not self and c.user is not None
        ]

    def on_ws_disconnected(self, transport) -> None:
        super().on_ws_disconnected(transport)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, {}
        others = self._siblings()
        for w in waiting.values():
            if others:  # the app's next connection gets it, as a retry
                others[0]._send_envelope(w.event, w.event_id, w.attempts + 1)
            else:
                log.info("socket mode: %s unacknowledged as its connection closed", w.event_id)
