"""The guarded HTTP client that fetches what a link previews (I/O).

Whoever posts a link makes the server fetch it, so every connection is checked where
it is made: the host's addresses are looked up once, only a public one
(:func:`.links.public`) is connected to (a name that resolves to a private address, or
to a public one first and a private one later, cannot reach inside), and every
redirect is checked the same way. Time and size are bounded: :data:`TIMEOUT` seconds
for all of it, :data:`MAX_REDIRECTS` redirects, a page read no further than
:data:`MAX_PAGE` bytes, an image's body not read for a preview, and read up to
:data:`MAX_IMAGE` bytes for the web client, which shows other sites' images through the
server (:meth:`Fetcher.image`) so that a reader's browser never contacts them.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urljoin

import httpcore

from parley.custom_emoji import image_type
from parley.unfurl.links import public
from parley.unfurl.meta import IMAGES, PAGES, Page

TIMEOUT = 5.0
MAX_REDIRECTS = 3
#: How much of a page is read: its head is nearly always within it.
MAX_PAGE = 512 * 1024
#: The largest image the web client's proxy passes on (:meth:`Fetcher.image`).
MAX_IMAGE = 5 * 1024 * 1024
#: How a preview's fetch introduces itself (as Slack's "Slackbot-LinkExpanding" does).
USER_AGENT = "Parley-LinkExpanding/1.0 (link previews)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class NotPublic(httpcore.ConnectError):
    """The host has no address the server may connect to."""


class _Guarded(httpcore.AsyncNetworkBackend):
    """anyio's TCP connections, each to an address of the host checked first."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        allowed = [str(a[0]) for *_, a in infos if self._allow_private or public(str(a[0]))]
        if not allowed:
            raise NotPublic(f"{host} has no public address")
        for address in allowed:  # each in turn (an IPv6 one first may have no route)
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failed = exc
        raise failed

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise NotPublic("no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class Fetcher:
    """``await fetcher(url)``: the :class:`~.meta.Page` at ``url``, or ``None`` when it
    cannot be had (not public, no answer in time, not 200, a redirect too many, not a
    page or an image). Never raises for what the far side does.

    ``allow_private``: connect to loopback and private addresses too (a workspace whose
    links are to its own intranet; the tests)."""

    def __init__(self, allow_private: bool = False, timeout: float = TIMEOUT) -> None:
        self._timeout = timeout
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=16,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=_Guarded(allow_private),
        )

    async def __call__(self, url: str) -> Page | None:
        return await self._get(url, 0)

    async def image(self, url: str) -> tuple[str, bytes] | None:
        """The image at ``url`` and its media type, checked by its bytes (PNG, GIF,
        JPEG, WebP), at most :data:`MAX_IMAGE` bytes; ``None`` for anything else."""
        page = await self._get(url, MAX_IMAGE)
        if page is None or not page.body or len(page.body) > MAX_IMAGE:
            return None
        kind = image_type(page.body)
        return (kind, page.body) if kind is not None else None

    async def _get(self, url: str, image_bytes: int) -> Page | None:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(url, image_bytes)
        except (TimeoutError, httpcore.TimeoutException, httpcore.NetworkError):
            return None
        except (httpcore.ProtocolError, httpcore.UnsupportedProtocol, ValueError, OSError):
            return None

    async def _follow(self, url: str, image_bytes: int) -> Page | None:
        """The page or image at ``url``: a page's first :data:`MAX_PAGE` bytes, an
        image's first ``image_bytes`` + 1 (none at all for 0)."""
        for _ in range(MAX_REDIRECTS + 1):
            headers = [
                (b"user-agent", USER_AGENT.encode()),
                (b"accept", b"text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.1"),
            ]
            async with self._pool.stream("GET", url, headers=headers) as resp:
                found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers}
                if resp.status in _REDIRECTS and "location" in found:
                    url = urljoin(url, found["location"])
                    if not url.startswith(("https://", "http://")):
                        return None
                    continue
                if resp.status != 200:
                    return None
                media_type, _, params = found.get("content-type", "").partition(";")
                media_type = media_type.strip().lower()
                charset = None
                for param in params.split(";"):
                    name, _, value = param.partition("=")
                    if name.strip().lower() == "charset":
                        charset = value.strip().strip('"') or None
                length = found.get("content-length", "")
                size = int(length) if length.isdigit() else None
                if media_type in IMAGES:
                    limit = image_bytes + 1 if image_bytes else 0
                elif media_type in PAGES and not image_bytes:
                    limit = MAX_PAGE
                else:
                    return None
                body = bytearray()
                if limit:
                    async for chunk in resp.aiter_stream():
                        body += chunk
                        if len(body) >= limit:
                            break
                return Page(url, media_type, charset, size, bytes(body[:limit]))
        return None

    async def close(self) -> None:
        await self._pool.aclose()
