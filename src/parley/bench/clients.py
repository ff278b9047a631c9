"""The load, in processes of its own: open-loop senders and WebSocket subscribers.

Times are ``time.monotonic_ns()``, one clock for every process on the machine. A message's
text starts with its scheduled send time, so a subscriber measures send-to-delivery
latency from when the message was due, not from when a stalled server let it leave
(no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import orjson
import uvloop

from parley.bench.http import Pool, decode


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# -- senders ----------------------------------------------------------------------------


def run_senders(spec: dict[str, Any], out) -> None:
    """Process target. ``spec``: url, targets [[token, channel], ...], rate (msgs/s),
    seconds, connections, start_ns. Puts ``{"records": [...], "cpu": s}`` on ``out``;
    a record is ``(sched_ns, ack_ns, error_or_None, channel, seq)``."""
    records = uvloop.run(_send(spec))
    out.put({"records": records, "cpu": cpu_seconds()})


async def _send(spec: dict[str, Any]) -> list:
    pool = Pool(spec["url"], spec["connections"])
    await pool.open()
    targets, rate = spec["targets"], spec["rate"]
    total = int(rate * spec["seconds"])
    records: list = []
    pending: set[asyncio.Task] = set()

    async def one(i: int, sched: int) -> None:
        token, channel = targets[i % len(targets)]
        body = orjson.dumps({"channel": channel, "text": f"{sched} bench message {i}"})
        try:
            status, raw = await pool.post("/api/chat.postMessage", body, token)
            reply = decode(raw)
            error = None if reply.get("ok") else str(reply.get("error", status))
            seq = reply.get("message", {}).get("seq", 0) if error is None else 0
        except (TimeoutError, OSError, ConnectionError) as exc:
            error, seq = type(exc).__name__, 0
        records.append((sched, time.monotonic_ns(), error, channel, seq))

    start = spec["start_ns"]
    for i in range(total):
        sched = start + int(i * 1e9 / rate)
        delay = (sched - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, sched))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    pool.close()
    return records


# -- subscribers ------------------------------------------------------------------------


def run_subscribers(spec: dict[str, Any], ready, senders_done, out) -> None:
    """Process target. ``spec``: urls (one ws:// URL with a ticket per connection),
    until_ns (a hard stop), quiet_seconds. Sets ``ready`` once every connection has its
    hello; puts ``{"received": [[(channel, seq, sched_ns, arrival_ns), ...] per
    connection], "cpu": s}`` on ``out`` once ``senders_done`` is set and nothing arrived
    for ``quiet_seconds`` (or at ``until_ns``)."""
    received = uvloop.run(_subscribe(spec, ready, senders_done))
    out.put({"received": received, "cpu": cpu_seconds()})


async def _subscribe(spec: dict[str, Any], ready, senders_done) -> list:
    from picows import WSListener, WSMsgType, ws_connect

    last_arrival = [time.monotonic_ns()]
    hellos = [0]

    class Listener(WSListener):
        def __init__(self) -> None:
            self.got: list[tuple[str, int, int, int]] = []

        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type != WSMsgType.TEXT:
                return
            now = time.monotonic_ns()
            event = orjson.loads(frame.get_payload_as_bytes())
            kind = event.get("type")
            if kind == "message" and "subtype" not in event:
                text = event.get("text", "")
                sched = int(text.split(" ", 1)[0]) if text[:1].isdigit() else now
                self.got.append((event["channel"], event["seq"], sched, now))
                last_arrival[0] = now
            elif kind == "hello":
                hellos[0] += 1

    listeners = []
    transports = []
    for url in spec["urls"]:
        transport, listener = await ws_connect(Listener, url)
        transports.append(transport)
        listeners.append(listener)
    while hellos[0] < len(listeners):
        await asyncio.sleep(0.01)
    ready.set()
    quiet = int(spec["quiet_seconds"] * 1e9)
    while True:
        now = time.monotonic_ns()
        if now > spec["until_ns"] or (senders_done.is_set() and now - last_arrival[0] > quiet):
            break
        await asyncio.sleep(0.05)
    for transport in transports:
        with contextlib.suppress(Exception):
            transport.disconnect()
    return [listener.got for listener in listeners]
