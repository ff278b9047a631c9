"""The load, in processes of its own: open-loop senders, WebSocket subscribers (which may
drop and resume) and idle connections.

Times are ``time.monotonic_ns()``, one clock for every process on the machine. A message's
text starts with its scheduled send time, so a subscriber measures send-to-delivery
latency from when the message was due, not from when a stalled server let it leave
(no coordinated omission).

Progress goes to the parent through shared counters (``multiprocessing.Value``) that a
background task refreshes a few times a second, never per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Callable
from typing import Any

import orjson
import uvloop
from picows import WSListener, WSMsgType, ws_connect

from parley.bench import lateness
from parley.bench.http import Pool, decode
from parley.bench.procs import own_cpu_seconds

CONNECT_CONCURRENCY = 100
#: Seconds: the senders wait out the last this much before a send blocking, not on a
#: timer of the event loop (whose timers tick in whole milliseconds).
FINE_WAIT = 0.002


def without_pauses() -> None:
    """Keeps this load process's garbage collector from stopping it mid-run.

    A full collection walks every object alive, and a run's records grow into the
    hundreds of thousands: such pauses measured 43-73 ms in the senders and subscribers
    (2026-12-05), and open-loop latency charged each to the server as a stall it never
    had. So what the process inherited is frozen and automatic collection is off for
    its life (seconds to minutes; what it allocates, records and frames, holds no
    cycles worth collecting). Call first thing in a process target.
    """
    gc.collect()
    gc.freeze()
    gc.disable()


async def _tickets(api_url: str, tokens: list[str], resume: list | None = None) -> list[str]:
    """One ``rtm.connect`` URL per token (tickets live 30 s: take them right before use)."""
    pool = Pool(api_url, min(16, len(tokens)))
    await pool.open()
    try:

        async def one(i: int) -> str:
            args = {"resume": resume[i]} if resume else {}
            _, raw = await pool.post("/api/rtm.connect", orjson.dumps(args), tokens[i])
            reply = decode(raw)
            if not reply.get("ok"):
                raise RuntimeError(f"rtm.connect: {reply}")
            return reply["url"]

        return list(await asyncio.gather(*(one(i) for i in range(len(tokens)))))
    finally:
        pool.close()


async def _connect_all(listeners: list, urls: list[str]) -> None:
    """Connects ``listeners[i]`` to ``urls[i]``, :data:`CONNECT_CONCURRENCY` at a time."""
    for start in range(0, len(urls), CONNECT_CONCURRENCY):
        await asyncio.gather(
            *(
                ws_connect(lambda listener=listener: listener, url)
                for listener, url in zip(
                    listeners[start : start + CONNECT_CONCURRENCY],
                    urls[start : start + CONNECT_CONCURRENCY],
                    strict=True,
                )
            )
        )


async def _publish(counter, read, stop: asyncio.Event) -> None:
    while not stop.is_set():
        counter.value = read()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)
    counter.value = read()


# -- senders ----------------------------------------------------------------------------


def run_senders(spec: dict[str, Any], out, acked) -> None:
    """Process target. ``spec``: api_url, route (``http`` | ``ws``), tokens (one per
    sender user), targets [[sender index, channel], ...] (message i goes to target
    i mod len), rate (msgs/s), seconds, start_ns. Puts ``{"records": [...], "late":
    [...], "cpu": s}`` on ``out``; a record is ``(sched_ns, ack_ns, error_or_None,
    channel, seq)``, ``late`` what :func:`lateness.watch` found while sending.
    ``acked`` (a shared int) follows the replies received."""
    without_pauses()
    records, late = uvloop.run(_send(spec, acked))
    out.put({"records": records, "late": late, "cpu": own_cpu_seconds()})


class _WsSender(WSListener):
    """One sender's RTM connection, driven by callbacks: a send records what it waits
    for under its ``id``, and the reply that names it (``reply_to``) is recorded as it
    is read, with its arrival time. No task, future or timer a message: on the machine
    the server shares, what the load generator spends is taken from the server.
    ``records`` gets ``(sched_ns, ack_ns, error_or_None, channel, seq)`` per send."""

    def __init__(self, records: list) -> None:
        self.transport = None
        self.records = records
        #: What was sent and not answered: ``id -> (sched_ns, channel)``.
        self.pending: dict[int, tuple[int, str]] = {}

    def on_ws_connected(self, transport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        data = frame.get_payload_as_bytes()
        if not data.startswith(b'{"ok"'):
            return  # an event, this sender's own echo among them
        now = time.monotonic_ns()
        reply = orjson.loads(data)
        sent = self.pending.pop(reply.get("reply_to"), None)
        if sent is None:
            return
        sched, channel = sent
        if reply.get("ok"):
            self.records.append((sched, now, None, channel, reply.get("seq", 0)))
        else:
            self.records.append((sched, now, _error_code(reply), channel, 0))

    def on_ws_disconnected(self, transport) -> None:
        self.transport = None
        now = time.monotonic_ns()
        for sched, channel in self.pending.values():
            self.records.append((sched, now, "ConnectionError", channel, 0))
        self.pending.clear()

    def send(self, i: int, sched: int, channel: str, text: str) -> None:
        """Sends message ``i`` (due at ``sched``); its reply is recorded when it comes."""
        if self.transport is None:
            self.records.append((sched, time.monotonic_ns(), "ConnectionError", channel, 0))
            return
        self.pending[i] = (sched, channel)
        frame = {"id": i, "type": "message", "channel": channel, "text": text}
        self.transport.send(WSMsgType.TEXT, orjson.dumps(frame))


def _text(i: int, sched: int) -> str:
    """Message ``i``'s text: its scheduled send time first, for the subscribers."""
    return f"{sched} bench message {i}"


async def _send(spec: dict[str, Any], acked) -> tuple[list, list]:
    records: list = []
    late: list[tuple[int, float, float]] = []
    stop = asyncio.Event()
    reporter = asyncio.create_task(_publish(acked, lambda: len(records), stop))
    watcher = asyncio.create_task(lateness.watch(stop, late))
    if spec["route"] == "ws":
        await _send_ws(spec, records)
    else:
        await _send_http(spec, records)
    stop.set()
    await asyncio.gather(reporter, watcher)
    return records, late


async def _pace(total: int, start: int, rate: float, send: Callable[[int, int], None]) -> None:
    """Open loop: calls ``send(i, sched_ns)`` for messages ``0 .. total - 1``, message
    ``i`` due ``i / rate`` seconds after ``start``, never before it is due.

    Each pass sends every message due by now, lets the event loop turn once (so what
    came in is read), then waits for the next one. uvloop's timers tick in whole
    milliseconds (a sleep under half of one returns at once, and a loop of them spins),
    so the last stretch of a wait, under :data:`FINE_WAIT`, is a blocking ``time.sleep``;
    what arrives meanwhile is read on the next pass, its arrival time a little late (acks
    only: deliveries are timed by the subscribers, in processes of their own)."""
    i = 0
    while i < total:
        sched = start + int(i * 1e9 / rate)
        while sched <= time.monotonic_ns():
            send(i, sched)
            i += 1
            if i == total:
                break
            sched = start + int(i * 1e9 / rate)
        await asyncio.sleep(0)
        wait = (sched - time.monotonic_ns()) / 1e9
        if wait > FINE_WAIT:
            await asyncio.sleep(wait - FINE_WAIT)
        elif wait > 0:
            time.sleep(wait)


async def _send_ws(spec: dict[str, Any], records: list) -> None:
    """Over RTM connections, on callbacks (:class:`_WsSender`); waits for the last
    replies."""
    tokens, targets = spec["tokens"], spec["targets"]
    conns = [_WsSender(records) for _ in tokens]
    await _connect_all(conns, await _tickets(spec["api_url"], tokens))

    def send(i: int, sched: int) -> None:
        who, channel = targets[i % len(targets)]
        conns[who].send(i, sched, channel, _text(i, sched))

    await _pace(int(spec["rate"] * spec["seconds"]), spec["start_ns"], spec["rate"], send)
    while any(conn.pending for conn in conns):
        await asyncio.sleep(0.01)
    for conn in conns:
        if conn.transport is not None:
            with contextlib.suppress(Exception):
                conn.transport.disconnect()


async def _send_http(spec: dict[str, Any], records: list) -> None:
    """Over ``chat.postMessage``: a task per message, each waiting for a free keep-alive
    connection of the pool (one request in flight on each); waits for the last."""
    tokens, targets = spec["tokens"], spec["targets"]
    pool = Pool(spec["api_url"], len(tokens))
    await pool.open()
    pending: set[asyncio.Task] = set()

    async def one(i: int, sched: int) -> None:
        who, channel = targets[i % len(targets)]
        body = orjson.dumps({"channel": channel, "text": _text(i, sched)})
        try:
            status, raw = await pool.post("/api/chat.postMessage", body, tokens[who])
            reply = decode(raw) if status < 500 or raw else {"error": str(status)}
            error = None if reply.get("ok") else _error_code(reply)
            seq = reply.get("message", {}).get("seq", 0) if error is None else 0
        except (TimeoutError, OSError, ConnectionError) as exc:
            error, seq = type(exc).__name__, 0
        records.append((sched, time.monotonic_ns(), error, channel, seq))

    def send(i: int, sched: int) -> None:
        task = asyncio.create_task(one(i, sched))
        pending.add(task)
        task.add_done_callback(pending.discard)

    await _pace(int(spec["rate"] * spec["seconds"]), spec["start_ns"], spec["rate"], send)
    if pending:
        await asyncio.gather(*pending)
    pool.close()


def _error_code(reply: dict) -> str:
    error = reply.get("error", "bad_response")
    return str(error.get("code") if isinstance(error, dict) else error)


# -- subscribers ------------------------------------------------------------------------


class _Subscriber(WSListener):
    """One subscriber; it outlives its connections, so a resumed one keeps its record.

    A frame costs one append while the load runs (payload and arrival time); decoding
    waits until the end (:meth:`parsed`), so that the client spends its CPU on reading
    sockets, not on JSON, while it is being measured."""

    def __init__(self, channel: str | None = None) -> None:
        self.channel = channel
        self.raw: list[tuple[bytes, int]] = []
        self.transport = None
        self.hello = False
        self.resumed: asyncio.Future | None = None
        self.gone: asyncio.Future | None = None
        self._last: dict[str, int] = {}
        self._scanned = 0

    def on_ws_connected(self, transport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            data = frame.get_payload_as_bytes()
            if data.startswith(b'{"type":"message"'):
                self.raw.append((data, time.monotonic_ns()))
            elif data.startswith(b'{"type":"hello"'):
                self.hello = True
            elif data.startswith(b'{"type":"resume_done"'):
                self._resume_done()

    def _resume_done(self) -> None:
        if self.resumed is not None and not self.resumed.done():
            self.resumed.set_result(None)

    def on_ws_disconnected(self, transport) -> None:
        self.transport = None
        if self.gone is not None and not self.gone.done():
            self.gone.set_result(None)

    def resume_point(self) -> dict[str, int]:
        """The last seq held per channel (this connection's own channel at least)."""
        for channel, seq, *_times in _decode(self.raw[self._scanned :]):
            if seq > self._last.get(channel, 0):
                self._last[channel] = seq
        self._scanned = len(self.raw)
        point = dict(self._last)
        if self.channel is not None:
            point.setdefault(self.channel, 0)
        return point

    def parsed(self) -> list[tuple[str, int, int, int, int]]:
        """``(channel, seq, sched_ns, arrival_ns, stored_ns)`` per new message, in arrival
        order (:func:`_decode`)."""
        return _decode(self.raw)


def _decode(raw: list[tuple[bytes, int]]) -> list[tuple[str, int, int, int, int]]:
    """``(channel, seq, sched_ns, arrival_ns, stored_ns)`` per message event of ``raw``:
    ``sched_ns`` from its text (the arrival where the text does not start with it),
    ``stored_ns`` its ``ts``, which the server takes from its wall clock as the store
    writes the message, on this process's monotonic clock (both clocks read once, here:
    the same machine's, so the server's and the bench's agree to the microsecond; a
    server elsewhere has a clock of its own, and its split means nothing), 0 without a
    ``ts``."""
    wall_offset = time.time_ns() - time.monotonic_ns()
    out = []
    for data, arrival in raw:
        event = orjson.loads(data)
        if "subtype" in event:
            continue
        text = event.get("text", "")
        sched = int(text.split(" ", 1)[0]) if text[:1].isdigit() else arrival
        ts_ns = _ts_ns(event.get("ts", ""))
        stored = ts_ns - wall_offset if ts_ns else 0
        out.append((event["channel"], event["seq"], sched, arrival, stored))
    return out


def _ts_ns(ts: str) -> int:
    """A Slack ``ts`` (``"1765052400.123456"``) in nanoseconds since the epoch; 0 when
    it is not one."""
    seconds, _, micros = ts.partition(".")
    if not seconds.isdigit() or (micros and not micros.isdigit()):
        return 0
    return (int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6])) * 1000


def run_subscribers(spec: dict[str, Any], ready, senders_done, out, delivered) -> None:
    """Process target. ``spec``: either ``urls`` (ready WebSocket URLs) or ``api_url``
    with ``tokens`` (one connection each, tickets taken here); ``channels`` (each
    connection's channel, for resume); ``until_ns`` (a hard stop); ``quiet_seconds``;
    ``churn`` (share of connections to drop and resume per second while senders run).

    Sets ``ready`` once every connection has its hello. Once ``senders_done`` is set and
    nothing arrived for ``quiet_seconds`` (or at ``until_ns``) puts ``{"received":
    [[(channel, seq, sched_ns, arrival_ns, stored_ns), ...] per connection] (see
    :func:`_decode`), "catchup_us": [...], "late": [...], "cpu": s}`` on ``out``
    (``late``: what :func:`lateness.watch` found from ``ready`` on). ``delivered`` (a
    shared int) follows the messages received."""
    without_pauses()
    received, catchups, late = uvloop.run(_subscribe(spec, ready, senders_done, delivered))
    out.put({"received": received, "catchup_us": catchups, "late": late, "cpu": own_cpu_seconds()})


async def _subscribe(
    spec: dict[str, Any], ready, senders_done, delivered
) -> tuple[list, list, list]:
    channels = spec.get("channels") or [None] * len(spec.get("urls") or spec["tokens"])
    urls = spec.get("urls") or await _tickets(spec["api_url"], spec["tokens"])
    subs = [_Subscriber(channel) for channel in channels]
    await _connect_all(subs, urls)
    while not all(s.hello for s in subs):
        await asyncio.sleep(0.01)
    stop = asyncio.Event()
    reporter = asyncio.create_task(_publish(delivered, lambda: sum(len(s.raw) for s in subs), stop))
    late: list[tuple[int, float, float]] = []
    watcher = asyncio.create_task(lateness.watch(stop, late))
    catchups: list[int] = []
    churner = None
    if spec.get("churn"):
        churner = asyncio.create_task(_churn(spec, subs, senders_done, catchups))
    ready.set()
    quiet = int(spec["quiet_seconds"] * 1e9)
    while True:
        await asyncio.sleep(0.05)
        now = time.monotonic_ns()
        if now > spec["until_ns"]:
            break
        if senders_done.is_set() and (churner is None or churner.done()):
            last = max((s.raw[-1][1] for s in subs if s.raw), default=0)
            if now - last > quiet:
                break
    stop.set()
    await asyncio.gather(reporter, watcher)
    if churner is not None and not churner.done():
        churner.cancel()
    for sub in subs:
        if sub.transport is not None:
            with contextlib.suppress(Exception):
                sub.transport.disconnect()
    return [sub.parsed() for sub in subs], catchups, late


async def _churn(spec: dict[str, Any], subs: list, senders_done, catchups: list) -> None:
    """Every half second, drops ``churn`` x 0.5 of the connected subscribers and resumes
    each from the last seq it holds; records disconnect-to-``resume_done`` times."""
    rng = random.Random(7)
    tokens, period = spec["tokens"], 0.5
    index = {id(s): i for i, s in enumerate(subs)}
    pending: set[asyncio.Task] = set()

    async def cycle(sub: _Subscriber) -> None:
        t0 = time.monotonic_ns()
        loop = asyncio.get_running_loop()
        sub.gone, sub.resumed = loop.create_future(), loop.create_future()
        sub.transport.disconnect(graceful=False)
        await sub.gone
        point = sub.resume_point()
        (url,) = await _tickets(spec["api_url"], [tokens[index[id(sub)]]], [point])
        await ws_connect(lambda: sub, url)
        await asyncio.wait_for(sub.resumed, 30)
        catchups.append((time.monotonic_ns() - t0) // 1000)

    while not senders_done.is_set():
        await asyncio.sleep(period)
        live = [s for s in subs if s.transport is not None and s.resumed is None]
        live += [s for s in subs if s.transport is not None and s.resumed and s.resumed.done()]
        count = min(len(live), max(1, round(len(subs) * spec["churn"] * period)))
        for sub in rng.sample(live, count):
            task = asyncio.create_task(cycle(sub))
            pending.add(task)
            task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)


# -- idle connections -------------------------------------------------------------------


class _Idle(WSListener):
    def on_ws_frame(self, transport, frame) -> None:
        pass


def run_idle(spec: dict[str, Any], out, release) -> None:
    """Process target: opens one idle connection per token (``api_url``, ``tokens``),
    puts ``{"opened": n, "error": str | None}`` on ``out``, and holds them until
    ``release`` is set."""
    uvloop.run(_idle(spec, out, release))


async def _idle(spec: dict[str, Any], out, release) -> None:
    transports: list = []
    error = None
    tokens = spec["tokens"]
    try:
        for start in range(0, len(tokens), 1000):
            urls = await _tickets(spec["api_url"], tokens[start : start + 1000])
            for first in range(0, len(urls), CONNECT_CONCURRENCY):
                chunk = urls[first : first + CONNECT_CONCURRENCY]
                done = await asyncio.gather(
                    *(ws_connect(_Idle, u) for u in chunk), return_exceptions=True
                )
                for item in done:
                    if isinstance(item, BaseException):
                        error = error or f"{type(item).__name__}: {item}"
                    else:
                        transports.append(item[0])
                if error:
                    break
            if error:
                break
    except Exception as exc:  # the limit was reached somewhere: report how far we got
        error = f"{type(exc).__name__}: {exc}"
    out.put({"opened": len(transports), "error": error})
    while not release.is_set():
        await asyncio.sleep(0.1)
    for transport in transports:
        with contextlib.suppress(Exception):
            transport.disconnect()
