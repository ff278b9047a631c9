"""The :class:`Unfurler`: previews a message's links after it is stored (I/O shell of
:mod:`.links` and :mod:`.meta`), and has apps unfurl the links on their domains
(:class:`parley.apps.link_sharing.AppLinks`)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from parley.apps.link_sharing import app_links
from parley.cache.ttl import TTLCache
from parley.errors import ApiError, ParleyError
from parley.storage.models import Message
from parley.unfurl import meta
from parley.unfurl.links import Want, links
from parley.unfurl.meta import Page, Preview

log = logging.getLogger(__name__)

#: How long what a link showed is kept and shown again without fetching it, and the
#: most links kept so.
CACHE_SECONDS = 600.0
CACHE_LINKS = 2000
#: Fetches at once; messages past this many waiting are not previewed.
CONCURRENCY = 4
MAX_WAITING = 1000

#: ``url -> page or None``: :class:`.fetch.Fetcher`.
Fetch = Callable[[str], Awaitable[Page | None]]
#: ``(message as read, message as it is -> content change or None) -> message``: writes
#: the previews onto the message (:meth:`.Sender.rewrite`); ``ApiError`` when it went.
Write = Callable[[Message, Callable[[Message], str | None]], Awaitable[Any]]
#: ``(message, whether to tell the apps) -> links apps unfurl``: :meth:`.AppLinks.share`.
Share = Callable[[Message, bool], Awaitable[set[str]]]


#: What the stored content of a message with previews or apps' unfurls has.
_UNFURLED = re.compile(r'"(?:from_url|app_unfurl_url)"')


def _shown(p: Preview | None, want: Want) -> bool:
    return p is not None and (want.links if p.kind == "page" else want.media)


class Unfurler:
    """``submit(message, want)`` after a post or an edit is stored: in the background,
    the apps that unfurl its links' domains hear of them (``share``: ``link_shared``,
    when ``want.links``), and each of its other links (:func:`.links.links`) is fetched
    (or taken from the last :data:`CACHE_SECONDS`; with ``fetch`` ``None``, none is) and,
    when what the message's previews should be has changed (new links, links gone, an
    edit that took them out), they are written onto it, unless its author edited it
    since: that edit makes its own submission, which wins (an app's unfurl written in
    between is kept). Best effort: a preview that cannot be had is left out, one not
    written before the server stops is not written; the message is never held up."""

    def __init__(
        self,
        fetch: Fetch | None,
        write: Write,
        clock: Callable[[], float] = time.monotonic,
        close: Callable[[], Awaitable[None]] | None = None,
        share: Share | None = None,
    ) -> None:
        self._fetch = fetch
        self._write = write
        self._close = close
        self._share = share
        self._seen: TTLCache[str, Preview | None] = TTLCache(CACHE_SECONDS, CACHE_LINKS, clock)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task] = set()

    def submit(self, m: Message, want: Want) -> None:
        """Previews ``m``'s links as ``want`` asks, later (returns at once). A message
        with no links and no previews, or one deleted, costs nothing more."""
        if "://" not in m.text and not (m.rich and _UNFURLED.search(m.rich)):
            return
        if m.deleted or len(self._tasks) >= MAX_WAITING:
            return
        task = asyncio.get_running_loop().create_task(self._run(m, want))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Messages whose previews are being made now."""
        return len(self._tasks)

    async def _run(self, m: Message, want: Want) -> None:
        try:
            claimed = await self._share(m, want.links) if self._share else set()
            fetched = [u for u in links(m.text) if u not in claimed] if self._fetch else []
            async with self._slots:
                found = [(url, await self._preview(url)) for url in fetched]
            shown = [(url, p) for url, p in found if p is not None and _shown(p, want)]
            attachments = [meta.attachment(url, p, n) for n, (url, p) in enumerate(shown, 1)]
            present = set(app_links(m.text))

            def change_of(now: Message) -> str | None:
                if now.edited_ts != m.edited_ts or now.text != m.text:
                    return None  # edited since: that edit's own submission decides
                return meta.patch(now.rich, attachments, present)

            if change_of(m) is not None:
                await self._write(m, change_of)
        except ApiError:  # deleted since, or written by others over and over
            pass
        except ParleyError as exc:  # the store unavailable: this message goes without
            log.warning("link previews for %s/%s not written: %s", m.channel, m.ts, exc)
        except Exception:
            log.exception("link previews for %s/%s failed", m.channel, m.ts)

    async def _preview(self, url: str) -> Preview | None:
        missing = object()
        known = self._seen.get(url, missing)
        if known is not missing:
            return known  # type: ignore[return-value]
        assert self._fetch is not None
        page = await self._fetch(url)
        found = meta.read(page) if page is not None else None
        self._seen.put(url, found)
        return found

    async def close(self) -> None:
        """Stops the previews under way (the messages stay as they are) and closes
        the fetcher's connections."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._close is not None:
            await self._close()
