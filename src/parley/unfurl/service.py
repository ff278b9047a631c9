"""The :class:`Unfurler`: previews a message's links after it is stored (I/O shell of
:mod:`.links` and :mod:`.meta`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

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
#: ``(message as read, content change) -> None``: writes the previews onto the message if
#: it is still at that version (:meth:`.Sender.set_previews`); raises ``ApiError`` when not.
Write = Callable[[Message, str], Awaitable[Any]]


def _shown(p: Preview | None, want: Want) -> bool:
    return p is not None and (want.links if p.kind == "page" else want.media)


class Unfurler:
    """``submit(message, want)`` after a post or an edit is stored: in the background,
    each of the message's links (:func:`.links.links`) is fetched (or taken from the
    last :data:`CACHE_SECONDS`) and, when what the message's previews should be has
    changed (new links, links gone, an edit that took them out), they are written onto
    it, if it is still the version submitted: an edit in between makes its own
    submission, which wins. Best effort: a preview that cannot be had is left out, one
    not written before the server stops is not written; the message is never held up."""

    def __init__(
        self,
        fetch: Fetch,
        write: Write,
        clock: Callable[[], float] = time.monotonic,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._fetch = fetch
        self._write = write
        self._close = close
        self._seen: TTLCache[str, Preview | None] = TTLCache(CACHE_SECONDS, CACHE_LINKS, clock)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task] = set()

    def submit(self, m: Message, want: Want) -> None:
        """Previews ``m``'s links as ``want`` asks, later (returns at once). A message
        with no links and no previews, or one deleted, costs nothing more."""
        if "://" not in m.text and not (m.rich and "from_url" in m.rich):
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
            async with self._slots:
                found = [(url, await self._preview(url)) for url in links(m.text)]
            shown = [(url, p) for url, p in found if p is not None and _shown(p, want)]
            attachments = [meta.attachment(url, p, n) for n, (url, p) in enumerate(shown, 1)]
            change = meta.patch(m.rich, attachments)
            if change is not None:
                await self._write(m, change)
        except ApiError:  # edited or deleted since: that edit's own submission decides
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
