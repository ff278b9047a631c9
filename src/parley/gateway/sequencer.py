"""Per-channel order for a gateway fed by many publishers. Pure: the clock is injected.

With one API process, a channel's events reach the event log in ``seq`` order, because
that process publishes in commit order. With several, two nodes can commit ``seq`` 5 and
6 of one channel a moment apart and publish them in the other order, and a node that dies
between its commit and its publish leaves a hole. The store is the truth: a channel's
``seq`` is gap-free there. So the gateway's consumer passes every event through a
:class:`Sequencer`, which releases a channel's new messages strictly in ``seq`` order:

- ``seq == next``: released at once (the common case, and the only case on one node:
  a dict lookup per event).
- ``seq > next``: a gap. The event, and every later event of the channel, is held; when
  the missing messages arrive, everything held is released in order. A gap still open
  after ``window`` seconds is reported by :meth:`due` and the consumer reads the missing
  messages from the store (:meth:`fill`): a lost publish is delivered late, never lost.
- ``seq < next``: already released (a redelivered event, or one the store filled): dropped.

Other events of a channel (edits, deletions, reactions, membership, typing) pass at
once unless the channel has a gap; then they wait behind the messages that had arrived
before them, so an edit never overtakes its message.

A channel a connection starts following is started after the store's last ``seq``, read
once its partition is being read (:meth:`Sequencer.expect`), so its next messages are
ordered from the first. That last message, or one before it, may still come on the log:
its writer commits before it publishes, and the store read can fall between the two.
It is released as it comes (the connections' replays carried it or not; their replay
floors drop what they already sent), never taken for one already released. A channel
seen on the log before that starts at the ``seq`` of its first message: a message older
than that one (two nodes racing the very first messages this gateway sees of the
channel) is released as it comes, late rather than lost.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from parley.bus.interface import Event

log = logging.getLogger(__name__)

#: Events of the new-message kind: the only ones that advance a channel's ``seq``.
MESSAGE = "message"


class _Channel:
    __slots__ = ("first", "next", "held", "waiting", "since")

    def __init__(self, seq: int) -> None:
        self.first = seq
        self.next = seq + 1
        #: Messages above ``next``, by seq.
        self.held: dict[int, Event] = {}
        #: Other events held behind a gap: ``(seq they wait for, event)``, in arrival order.
        self.waiting: list[tuple[int, Event]] = []
        #: When the current gap opened (0.0 when there is none).
        self.since = 0.0


class Sequencer:
    """Keeps ``next`` for up to ``max_channels`` channels (least recently seen forgotten
    first, never one with a gap open), and holds at most ``max_held`` events behind one
    channel's gap."""

    def __init__(
        self,
        window: float,
        *,
        max_channels: int = 200_000,
        max_held: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._max = max_channels
        self._max_held = max_held
        self._clock = clock
        self._channels: OrderedDict[str, _Channel] = OrderedDict()
        self._gaps: set[str] = set()

    def push(self, event: Event) -> list[Event]:
        """What may be delivered now, in order, given that ``event`` arrived."""
        state = self._channels.get(event.channel)
        if event.type != MESSAGE:
            if state is None or not state.since:
                return [event]
            top = max(state.held, default=state.next - 1)
            state.waiting.append((top, event))
            return []
        if state is None:
            self._remember(event.channel, _Channel(event.seq))
            return [event]
        self._channels.move_to_end(event.channel)
        if event.seq == state.next and not state.since:
            state.next += 1
            return [event]
        if event.seq < state.next:
            return [event] if event.seq < state.first else []
        state.held[event.seq] = event
        if not state.since:
            state.since = self._clock()
            self._gaps.add(event.channel)
        if len(state.held) + len(state.waiting) > self._max_held:
            return self._give_up(event.channel, state)
        return self._release(event.channel, state)

    def _give_up(self, channel: str, state: _Channel) -> list[Event]:
        """A gap the store cannot fill (it keeps failing) while ``max_held`` events pile
        up behind it: memory is bounded, so the channel skips the gap and goes on from
        what is held, in order (clients recover the skipped seqs by resume)."""
        log.error("%s: gap after seq %d unfilled; skipping it", channel, state.next - 1)
        state.next = min(state.held)
        return self._release(channel, state)

    def due(self) -> list[tuple[str, int, int]]:
        """Gaps open for ``window`` seconds or more, as ``(channel, after, missing)``: the
        store should be read for ``missing`` messages with a ``seq`` above ``after``."""
        horizon = self._clock() - self._window
        out = []
        for channel in self._gaps:
            state = self._channels[channel]
            if state.since <= horizon:
                out.append((channel, state.next - 1, min(state.held) - state.next))
        return out

    def fill(self, channel: str, events: list[Event]) -> list[Event]:
        """Takes messages read from the store for ``channel``'s gap (ascending; any may
        already be known) and returns what may be delivered now."""
        state = self._channels.get(channel)
        if state is None:
            return []
        for event in events:
            if event.seq >= state.next:
                state.held.setdefault(event.seq, event)
        return self._release(channel, state)

    def knows(self, channel: str) -> bool:
        return channel in self._channels

    def expect(self, channel: str, last: int) -> None:
        """Starts an unknown ``channel`` after its message ``last`` (the store's last
        ``seq``, read after the channel's partition began to be read), so its next
        messages on the log are put in order too. Messages up to ``last`` that come on
        the log later (committed before the read, published after it) pass as they
        come: none of them has been released here."""
        if channel not in self._channels:
            state = _Channel(last)
            state.first = last + 1
            self._remember(channel, state)

    def forget(self, which: Callable[[str], bool]) -> None:
        """Drops the state of every channel ``which`` selects (their partition is no
        longer read: when it is read again, they start afresh)."""
        for channel in [c for c in self._channels if which(c)]:
            del self._channels[channel]
            self._gaps.discard(channel)

    def gaps(self) -> int:
        return len(self._gaps)

    def _release(self, channel: str, state: _Channel) -> list[Event]:
        out: list[Event] = []
        while True:
            while state.waiting and state.waiting[0][0] < state.next:
                out.append(state.waiting.pop(0)[1])
            event = state.held.pop(state.next, None)
            if event is None:
                break
            out.append(event)
            state.next += 1
        if state.held:
            if out:  # progress: the remaining gap counts from now
                state.since = self._clock()
        else:
            out.extend(e for _, e in state.waiting)
            state.waiting.clear()
            state.since = 0.0
            self._gaps.discard(channel)
        return out

    def _remember(self, channel: str, state: _Channel) -> None:
        self._channels[channel] = state
        if len(self._channels) > self._max:
            for old in list(self._channels):
                if len(self._channels) <= self._max:
                    break
                if old not in self._gaps:
                    del self._channels[old]
