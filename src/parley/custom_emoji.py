"""A workspace's own emoji: Slack's ``emoji.list`` and the operator's ``admin.emoji.add``,
``addAlias``, ``remove`` and ``list``.

An emoji is a small image (PNG, GIF, JPEG or WebP, at most :data:`MAX_IMAGE` bytes, told
by its first bytes, never by what the caller says) under a name of lower-case letters,
digits, ``_``, ``-``, ``+`` and ``'`` that no standard emoji has, or an alias: another
name for one (a custom emoji or a standard one). Its image is served to anyone at
:func:`image_path` (as Slack's are: an emoji is shown in public places such as a shared
channel, and its name and picture are no secret); a removal removes its aliases too. The
workspace hears ``emoji_changed`` (``add`` with the name and its ``value``, the image's
URL or ``alias:<name>``; ``remove`` with ``names``), so a client keeps its set current.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

from parley.bus.interface import EventBus
from parley.errors import ApiError
from parley.pipeline import events
from parley.storage.interface import Directory
from parley.storage.models import CustomEmoji, User

#: A name: what Slack allows (``:party-parrot:``, ``:+1:``), at most 100 characters.
NAME = re.compile(r"[a-z0-9][a-z0-9_+'\-]{0,99}")
#: An image's largest size (Slack's is 128 KB).
MAX_IMAGE = 256 * 1024
#: Where the images are served, below the file routes.
PREFIX = "/files/emoji/"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def image_type(data: bytes) -> str | None:
    """The image's media type from its first bytes, or ``None`` for none of the four."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def fetch(url: str, timeout: float = 10.0) -> bytes:
    """The body at ``url`` (200 only, two redirects at most), read no further than
    :data:`MAX_IMAGE` + 1 bytes: what ``admin.emoji.add``'s ``url`` names."""
    client = httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=2)
    async with client, client.stream("GET", url) as resp:
        if resp.status_code != 200:
            raise ValueError(f"{url} answered {resp.status_code}")
        body = bytearray()
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > MAX_IMAGE:
                break
        return bytes(body)


def image_path(team_id: str, name: str) -> str:
    """The path an emoji's image is served at (after the server's base URL)."""
    return f"{PREFIX}{team_id}/{name}"


class CustomEmojis:
    """The rules above over the directory; ``standard`` holds the standard emoji's names
    (:func:`parley.web.emoji_names.standard`), ``fetch(url)`` the bytes at a URL (at
    most :data:`MAX_IMAGE` + 1 of them) for ``admin.emoji.add``'s ``url``."""

    def __init__(
        self,
        directory: Directory,
        bus: EventBus,
        standard: frozenset[str],
        fetch: Callable[[str], Awaitable[bytes]],
        clock_us: Callable[[], int],
    ) -> None:
        self._directory = directory
        self._bus = bus
        self._standard = standard
        self._fetch = fetch
        self._clock_us = clock_us

    def _check_name(self, name: str | None) -> str:
        name = (name or "").strip(":").lower()
        if not NAME.fullmatch(name):
            raise ApiError("invalid_name")
        if name in self._standard:
            raise ApiError("error_name_taken")
        return name

    async def listing(self, team_id: str, base_url: str) -> dict[str, str]:
        """``emoji.list``'s map: each name to its image's URL or ``alias:<name>``."""
        return {e.name: self._value(e, base_url) for e in await self._directory.emoji(team_id)}

    async def add(
        self, user: User, name: str | None, base_url: str, *, url: str | None, image: bytes | None
    ) -> None:
        """Adds ``name`` with the image at ``url`` (fetched now) or ``image``."""
        name = self._check_name(name)
        if image is None:
            if not url or not url.startswith(("https://", "http://")):
                raise ApiError("error_no_image")
            try:
                image = await self._fetch(url)
            except Exception as exc:  # unreachable, not 200, too slow: the caller's URL
                raise ApiError("error_bad_upload", data={"detail": str(exc)[:200]}) from exc
        if len(image) > MAX_IMAGE:
            raise ApiError("error_too_big")
        kind = image_type(image)
        if kind is None:
            raise ApiError("error_bad_format")
        await self._put(
            CustomEmoji(user.team_id, name, "", kind, user.id, self._clock_us()), image, base_url
        )

    async def alias(self, user: User, name: str | None, target: str | None, base_url: str) -> None:
        """Adds ``name`` as another name of ``target`` (the workspace's or a standard
        one's; ``emoji_not_found`` otherwise)."""
        name = self._check_name(name)
        target = (target or "").strip(":").lower()
        if target not in self._standard:
            known = {e.name: e for e in await self._directory.emoji(user.team_id)}
            if target not in known:
                raise ApiError("emoji_not_found")
            target = known[target].alias_for or target  # an alias of an alias: the first
        await self._put(
            CustomEmoji(user.team_id, name, target, "", user.id, self._clock_us()), b"", base_url
        )

    async def remove(self, user: User, name: str | None) -> None:
        """Removes ``name`` and its aliases; ``emoji_not_found`` when there is none."""
        name = (name or "").strip(":").lower()
        gone = await self._directory.remove_emoji(user.team_id, name)
        if not gone:
            raise ApiError("emoji_not_found")
        self._bus.publish(events.emoji_removed(user.team_id, gone, self._clock_us()))

    async def _put(self, e: CustomEmoji, image: bytes, base_url: str) -> None:
        await self._directory.add_emoji(e, image)
        value = self._value(e, base_url)
        self._bus.publish(events.emoji_added(e.team_id, e.name, value, self._clock_us()))

    @staticmethod
    def _value(e: CustomEmoji, base_url: str) -> str:
        if e.alias_for:
            return f"alias:{e.alias_for}"
        return base_url.rstrip("/") + image_path(e.team_id, e.name)
