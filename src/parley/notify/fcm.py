"""FCM HTTP v1, Google's push provider API, with OAuth2 service-account credentials.

Credentials are the service account's JSON key file as Google issues it
(``project_id``, ``client_email``, ``private_key``, ``token_uri``). An access token is
obtained with the JWT-bearer grant (RFC 7523): a JWT signed RS256 with the account's
key (``iss``: its email, ``scope``: firebase.messaging, ``aud``: the token URI, one
hour of validity) posted to ``token_uri``; it is reused until five minutes before it
expires, and one request fetches it for every push waiting.

Each push is ``POST /v1/projects/<project>/messages:send`` with ``authorization:
Bearer <access token>`` and the body of :func:`parley.notify.payloads.fcm`. Google's
answers, as :class:`~parley.notify.providers.Result`:

- 200: sent.
- 404 ``UNREGISTERED``, 403 ``SENDER_ID_MISMATCH``, and 400 ``INVALID_ARGUMENT`` about
  the registration token: the token is dead; the device is forgotten.
- 401: the access token was refused; a new one is fetched and the push retried.
- 429 ``QUOTA_EXCEEDED``, 500, 503, and any connection failure: retried later with
  backoff (``Retry-After`` honoured).
- any other 4xx: failed for good.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
import orjson

from parley.notify import payloads
from parley.notify.devices import Device
from parley.notify.h2client import H2Client, TransportError
from parley.notify.payloads import Notice
from parley.notify.providers import FAILED, GONE, RETRY, SENT, Result, retry_after

log = logging.getLogger(__name__)

ENDPOINT = "https://fcm.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Seconds before an access token's expiry that a new one is fetched.
EARLY = 300
_DEAD = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})


class CredentialsError(ValueError):
    """The service-account key file is not one."""


def credentials(raw: bytes) -> dict[str, str]:
    """The fields of a service-account key file that FCM needs; CredentialsError else."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CredentialsError(f"not JSON: {exc}") from None
    need = ("project_id", "client_email", "private_key", "token_uri")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in need):
        raise CredentialsError(f"a service-account key file has {', '.join(need)}")
    return {k: data[k] for k in (*need, "private_key_id") if isinstance(data.get(k), str)}


def assertion(account: dict[str, str], now: int) -> str:
    """The RS256 JWT exchanged for an access token."""
    claims = {
        "iss": account["client_email"],
        "scope": SCOPE,
        "aud": account["token_uri"],
        "iat": now,
        "exp": now + 3600,
    }
    headers = {"kid": account["private_key_id"]} if "private_key_id" in account else None
    return jwt.encode(claims, account["private_key"], "RS256", headers=headers)


def _error(body: bytes) -> tuple[str, str, str]:
    """``(status, errorCode, message)`` of a Google error body (empty when absent)."""
    try:
        err: Any = orjson.loads(body).get("error", {})
        code = next(
            (d.get("errorCode", "") for d in err.get("details", []) if "errorCode" in d), ""
        )
        return str(err.get("status", "")), str(code), str(err.get("message", ""))
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return "", "", ""


def classify(status: int, body: bytes, headers: Mapping[str, str]) -> Result:
    """What FCM's answer means for this push."""
    if status == 200:
        return Result(SENT)
    state, code, message = _error(body)
    reason = code or state or str(status)
    if code in _DEAD or status == 404:
        return Result(GONE, reason)
    if status == 400 and "registration token" in message.lower():
        return Result(GONE, reason)
    if status in (401, 429) or status >= 500:
        return Result(RETRY, reason, retry_after(headers.get("retry-after")))
    return Result(FAILED, reason)


class FcmProvider:
    platform = "fcm"

    def __init__(
        self,
        account: dict[str, str],
        *,
        url: str = ENDPOINT,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._account = account
        self._path = f"/v1/projects/{account['project_id']}/messages:send"
        self._clock = clock
        self._access: tuple[float, str] | None = None  # (expires at, token)
        self._fetching = asyncio.Lock()
        #: Pushes go over HTTP/2 (:mod:`parley.notify.h2client`); the hourly token
        #: exchange, to another origin, over httpx.
        self._client = H2Client(url, verify, timeout)
        self._tokens = httpx.AsyncClient(http2=True, verify=verify, timeout=timeout)

    async def _token(self) -> str:
        async with self._fetching:
            now = self._clock()
            if self._access is None or now >= self._access[0] - EARLY:
                grant = {"grant_type": GRANT, "assertion": assertion(self._account, int(now))}
                r = await self._tokens.post(self._account["token_uri"], data=grant)
                if r.status_code != 200:
                    raise httpx.HTTPStatusError("token refused", request=r.request, response=r)
                body = orjson.loads(r.content)
                self._access = (now + float(body.get("expires_in", 3600)), body["access_token"])
            return self._access[1]

    async def send(self, device: Device, notice: Notice) -> Result:
        body = payloads.fcm(notice, device.token)
        try:
            headers = {
                "authorization": f"Bearer {await self._token()}",
                "content-type": "application/json",
            }
            status, answer, out = await self._client.request("POST", self._path, headers, body)
        except (TransportError, httpx.HTTPError, orjson.JSONDecodeError, KeyError) as exc:
            return Result(RETRY, str(exc) or type(exc).__name__)
        result = classify(status, out, answer)
        if status == 401:
            self._access = None  # fetched again for the retry
        return result

    async def close(self) -> None:
        await self._client.close()
        await self._tokens.aclose()
