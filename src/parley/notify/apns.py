"""APNs, Apple's push provider API: HTTP/2 with token authentication.

Each push is ``POST /3/device/<device token>`` on one HTTP/2 connection (many streams
at once, :mod:`parley.notify.h2client`), with the headers and JSON body of
:func:`parley.notify.payloads.apns` and ``authorization: bearer <JWT>``. The JWT is
signed ES256 with the team's ``.p8`` key (``kid``: the key id, ``iss``: the team id,
``iat``: when it was made) and reused for :data:`TOKEN_LIFETIME` seconds: Apple refuses
a token made more often than every 20 minutes or older than an hour.

Apple's answers, as :class:`~parley.notify.providers.Result`:

- 200: sent.
- 400 ``BadDeviceToken``, 400 ``DeviceTokenNotForTopic``, 410 ``Unregistered`` (and
  410 ``ExpiredToken``): the token is dead; the device is forgotten.
- 403 ``ExpiredProviderToken`` / ``InvalidProviderToken``: our JWT was refused; a new
  one is made and the push retried.
- 429, 500, 503, and any connection failure: retried later with backoff.
- any other 4xx (``PayloadTooLarge``, ``BadTopic``...): failed for good.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Mapping

import jwt
import orjson

from parley.notify import payloads
from parley.notify.devices import Device
from parley.notify.h2client import H2Client, TransportError
from parley.notify.payloads import Notice
from parley.notify.providers import FAILED, GONE, RETRY, SENT, Result, retry_after

log = logging.getLogger(__name__)

PRODUCTION = "https://api.push.apple.com"
SANDBOX = "https://api.sandbox.push.apple.com"
#: Seconds one provider token is used (Apple: between 20 and 60 minutes).
TOKEN_LIFETIME = 40 * 60
_DEAD = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"})
_REAUTH = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})


def provider_token(key_pem: bytes, key_id: str, team_id: str, now: int) -> str:
    """The ES256 JWT APNs takes as ``authorization: bearer``."""
    return jwt.encode({"iss": team_id, "iat": now}, key_pem, "ES256", headers={"kid": key_id})


def classify(status: int, body: bytes, headers: Mapping[str, str]) -> Result:
    """What APNs's answer means for this push."""
    if status == 200:
        return Result(SENT)
    try:
        reason = str(orjson.loads(body).get("reason", "")) if body else ""
    except (orjson.JSONDecodeError, AttributeError):
        reason = ""
    reason = reason or str(status)
    if reason in _DEAD or status == 410:
        return Result(GONE, reason)
    if reason in _REAUTH or status == 429 or status >= 500:
        return Result(RETRY, reason, retry_after(headers.get("retry-after")))
    return Result(FAILED, reason)


class ApnsProvider:
    platform = "apns"

    def __init__(
        self,
        *,
        key_pem: bytes,
        key_id: str,
        team_id: str,
        topic: str,
        url: str = PRODUCTION,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key, self._key_id, self._team = key_pem, key_id, team_id
        self._topic = topic
        self._clock = clock
        self._token: tuple[float, str] | None = None
        self._client = H2Client(url, verify, timeout)

    def _bearer(self) -> str:
        now = self._clock()
        if self._token is None or now - self._token[0] >= TOKEN_LIFETIME:
            self._token = (now, provider_token(self._key, self._key_id, self._team, int(now)))
        return self._token[1]

    async def send(self, device: Device, notice: Notice) -> Result:
        headers, body = payloads.apns(notice, self._topic)
        headers["authorization"] = f"bearer {self._bearer()}"
        try:
            status, answer, out = await self._client.request(
                "POST", f"/3/device/{device.token}", headers, body
            )
        except TransportError as exc:
            return Result(RETRY, str(exc))
        result = classify(status, out, answer)
        if result.reason in _REAUTH:
            self._token = None  # made again for the retry
        return result

    async def close(self) -> None:
        await self._client.close()
