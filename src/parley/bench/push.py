"""The push figures of ``parley bench``, against the local APNs and FCM servers
(:mod:`parley.notify.fakes`, real TLS and HTTP/2 in this process) that the bench's own
server is configured to push to.

- :func:`lag_probe` runs beside a load: every ``interval`` seconds it mentions an
  offline member (one APNs and one FCM device) and measures, per provider, from the
  acknowledgement of ``chat.postMessage`` to the push's arrival at the provider.
- :func:`burst`: ``<!channel>`` messages to a channel of ``members`` offline members
  with a device each (half APNs, half FCM); pushes/s from the first post to the last
  arrival, and each push's latency from its message's acknowledgement.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import Any

import orjson

from parley import admin
from parley.bench import stats
from parley.bench.http import Pool, decode
from parley.bench.world import Target, call
from parley.notify.fakes import Fake, FakeApns, LocalProviders


def _device(user: str, platform: str, token: str, url: str) -> None:
    call(url, "push.register", user, platform=platform, device_token=token)


def _apns_token() -> str:
    return secrets.token_hex(32)


def _fcm_token() -> str:
    return "bench:" + secrets.token_urlsafe(100)


def _body(fake: Fake, payload: dict) -> str:
    if isinstance(fake, FakeApns):
        return payload["aps"]["alert"]["body"]
    return payload["notification"]["body"]


def _fakes(providers: LocalProviders) -> dict[str, Fake]:
    return {"apns": providers.apns, "fcm": providers.fcm}


def offline_member(target: Target, owner_token: str, channel: str, name: str) -> dict[str, str]:
    """A member of ``channel`` who never connects, with an APNs and an FCM device."""
    user = admin.create_user(target.settings, name, rate_limit=100)
    devices = {"apns": _apns_token(), "fcm": _fcm_token()}
    for platform, token in devices.items():
        _device(user.token, platform, token, target.url)
    call(target.url, "conversations.invite", owner_token, channel=channel, users=user.user_id)
    return {"user": user.user_id, **devices}


def lag_probe(
    url: str,
    token: str,
    channel: str,
    member: dict[str, str],
    providers: LocalProviders,
    stop: threading.Event,
    interval: float,
) -> dict[str, list[int]]:
    """Per provider, the lags (microseconds) of probe pushes until ``stop`` is set; run
    in a thread."""
    lags: dict[str, list[int]] = {"apns": [], "fcm": []}
    fakes = _fakes(providers)

    async def go() -> None:
        pool = Pool(url, 1)
        await pool.open()
        try:
            while not stop.is_set():
                marker = "probe" + secrets.token_hex(6)
                seen = {p: len(f.received) for p, f in fakes.items()}
                text = f"<@{member['user']}> {marker}"
                body = orjson.dumps({"channel": channel, "text": text})
                _, reply = await pool.post("/api/chat.postMessage", body, token)
                if not decode(reply).get("ok"):
                    raise RuntimeError(f"probe post failed: {reply[:200]!r}")
                acked = time.monotonic()
                for platform, fake in fakes.items():
                    arrived = await _arrival(fake, member[platform], marker, seen[platform])
                    lags[platform].append(int((arrived - acked) * 1e6))
                await asyncio.sleep(interval)
        finally:
            pool.close()

    asyncio.run(go())
    return lags


async def _arrival(fake: Fake, token: str, marker: str, start: int, limit: float = 30) -> float:
    """When ``fake`` received the push to ``token`` that says ``marker``."""
    deadline = time.monotonic() + limit
    while True:
        for device, payload, at in fake.received[start:]:
            if device == token and marker in _body(fake, payload):
                return at
        if time.monotonic() > deadline:
            raise RuntimeError("a probe push never arrived")
        await asyncio.sleep(0.001)


def burst(
    target: Target, owner_token: str, providers: LocalProviders, members: int, messages: int, say
) -> dict[str, Any]:
    """``messages`` ``<!channel>`` posts to ``members`` offline members with a device each."""
    run = secrets.token_hex(3)
    say(f"push burst: {members} offline members with a device each, {messages} @channel posts")
    channel = call(target.url, "conversations.create", owner_token, name=f"bench{run}-push")
    channel_id = channel["channel"]["id"]
    users = []
    for i in range(members):
        user = admin.create_user(target.settings, f"bench{run}-offline-{i}", rate_limit=100)
        if i % 2 == 0:
            _device(user.token, "apns", _apns_token(), target.url)
        else:
            _device(user.token, "fcm", _fcm_token(), target.url)
        users.append(user.user_id)
    for start in range(0, members, 500):
        batch = ",".join(users[start : start + 500])
        call(target.url, "conversations.invite", owner_token, channel=channel_id, users=batch)
    fakes = _fakes(providers)
    before = {p: len(f.received) for p, f in fakes.items()}
    acked: dict[str, float] = {}

    async def post() -> None:
        pool = Pool(target.url, 1)
        await pool.open()
        try:
            for n in range(messages):
                body = orjson.dumps({"channel": channel_id, "text": f"<!channel> burst {n}"})
                _, reply = await pool.post("/api/chat.postMessage", body, owner_token)
                acked[decode(reply)["ts"]] = time.monotonic()
        finally:
            pool.close()

    started = time.monotonic()
    asyncio.run(post())
    want = members * messages
    deadline = time.monotonic() + 120
    while True:
        got = [
            (payload, at)
            for p, fake in fakes.items()
            for _, payload, at in fake.received[before[p] :]
        ]
        if len(got) >= want or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    lags = [int((at - acked[_ts(payload)]) * 1e6) for payload, at in got if _ts(payload) in acked]
    last = max((at for _, at in got), default=started)
    return {
        "members": members,
        "messages": messages,
        "expected": want,
        "delivered": len(got),
        "pushes_per_s": round(len(got) / (last - started), 1) if got else 0.0,
        "latency_ms": stats.latency_summary(lags),
    }


def _ts(payload: dict) -> str:
    return payload.get("ts") or payload.get("data", {}).get("ts", "")
