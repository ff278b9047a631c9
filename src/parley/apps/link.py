"""Reaching an app while a person waits (a slash command, a button pressed): a signed
form POST to its request URL, or a request on its Socket Mode connection. Neither is
retried, as in Slack: the person sees the failure (``operation_timeout``: no answer
within :data:`TIMEOUT` seconds; ``dispatch_failed``: an error answer, no connection
made, or no Socket Mode connection open)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from parley.apps.events import signature
from parley.bus.interface import EventBus
from parley.errors import ApiError
from parley.gateway.presence import Presence
from parley.pipeline import events
from parley.storage.interface import Directory
from parley.storage.models import Channel

#: Seconds an app has to answer over HTTP (Slack's: 3).
TIMEOUT = 3.0
DISPATCH_FAILED = "dispatch_failed"
OPERATION_TIMEOUT = "operation_timeout"


class AppLink:
    def __init__(
        self,
        bus: EventBus,
        presence: Presence,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bus = bus
        self._presence = presence
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT)
        self._clock = clock

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, secret: str, fields: dict[str, str]) -> httpx.Response:
        """POSTs ``fields`` form-encoded to ``url``, signed with ``secret`` as Slack signs
        requests; the 2xx answer, else :class:`ApiError`."""
        body = urllib.parse.urlencode(fields).encode()
        stamp = str(int(self._clock()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature(secret, stamp, body),
        }
        try:
            answer = await self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise ApiError(OPERATION_TIMEOUT) from None
        except httpx.HTTPError:
            raise ApiError(DISPATCH_FAILED) from None
        if not 200 <= answer.status_code < 300:
            raise ApiError(DISPATCH_FAILED)
        return answer

    async def socket(
        self, channel: Channel, bot_id: str, kind: str, payload: dict[str, Any], answers: bool
    ) -> None:
        """Sends a ``kind`` envelope (``slash_commands``, ``interactive``) to one Socket
        Mode connection of ``bot_id``'s app (``answers``: its acknowledgement may carry a
        reply); ``dispatch_failed`` when the bot has no connection open."""
        if not await self._presence.online(channel.team_id, [bot_id]):
            raise ApiError(DISPATCH_FAILED)
        at = int(self._clock() * 1e6)
        self._bus.publish(events.app_request(channel, bot_id, at, kind, payload, answers))


async def interact(
    link: AppLink,
    directory: Directory,
    channel: Channel,
    bot_id: str,
    fields: dict[str, Any],
    *,
    answers: bool,
) -> httpx.Response | None:
    """An ``interactive`` payload (a button pressed, a modal submitted, a shortcut run) to
    the app of ``bot_id``: POSTed, as the form field ``payload``, to its interactivity URL
    (``parley app interactivity``; the app's answer), else over its Socket Mode
    connection, routed by ``channel`` (``None``: with ``answers``, the acknowledgement
    carries any answer)."""
    endpoint = await directory.interactivity(bot_id)
    if endpoint is None:
        await link.socket(channel, bot_id, "interactive", fields, answers=answers)
        return None
    form = {"payload": orjson.dumps(fields).decode()}
    return await link.post(endpoint.request_url, endpoint.signing_secret, form)
