"""A fetched page's preview, and a message's attachments with the previews of its links
now. Pure, no I/O.

A preview is what Slack's classic unfurl attaches: for a page, its site, title,
description and image from its Open Graph (``og:``), Twitter card or plain HTML tags;
for an image, the image. Each carries ``from_url`` (the link as written), which is how
the previews of a message are told from the attachments its author gave it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import orjson

from parley import content
from parley.apps.unfurls import keep_app_unfurls

#: Media types previewed as the image they are.
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: Media types read as a page.
PAGES = frozenset({"text/html", "application/xhtml+xml"})
#: Longest title and description kept (Slack's previews are a line and a paragraph).
MAX_TITLE = 300
MAX_TEXT = 700
MAX_SITE = 100

_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.I)


class Page(NamedTuple):
    """What the fetcher got: the URL it ended at (after redirects), the media type and
    charset of the answer, its length if declared, and for a page the first bytes."""

    url: str
    media_type: str
    charset: str | None
    length: int | None
    body: bytes


class Preview(NamedTuple):
    """What a link shows, whoever posts it: ``kind`` ``"page"`` or ``"media"``."""

    kind: str
    url: str
    title: str = ""
    text: str = ""
    site: str = ""
    icon: str = ""
    image: str = ""
    small: bool = False
    length: int | None = None


class _Head(HTMLParser):
    """Collects a document's ``<meta>``, ``<link rel=icon>`` and ``<title>`` until its
    body starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.icon = ""
        self.title = ""
        self.done = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        a = {k: v or "" for k, v in attrs}
        if tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key and key not in self.meta and a.get("content"):
                self.meta[key] = a["content"].strip()
        elif tag == "link" and not self.icon:
            rel = a.get("rel", "").lower().split()
            if "icon" in rel and a.get("href"):
                self.icon = a["href"].strip()
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done:
            self.title += data


def _decode(page: Page) -> str:
    charset = page.charset
    if not charset:
        found = _CHARSET.search(page.body[:2048])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return page.body.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return page.body.decode("utf-8", errors="replace")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _web(base: str, href: str) -> str:
    """``href`` resolved against ``base`` when it is an http(s) URL, else ``""``."""
    url = urljoin(base, href) if href else ""
    return url if url.startswith(("https://", "http://")) else ""


def read(page: Page) -> Preview | None:
    """The preview ``page`` gives: an image's, or a page's when it has at least a title;
    ``None`` for anything else."""
    if page.media_type in IMAGES:
        return Preview("media", page.url, length=page.length)
    if page.media_type not in PAGES:
        return None
    head = _Head()
    try:
        head.feed(_decode(page))
        head.close()
    except (AssertionError, ValueError):  # markup the parser gives up on
        pass
    m = head.meta
    title = m.get("og:title") or m.get("twitter:title") or head.title
    if not title.strip():
        return None
    image = m.get("og:image:secure_url") or m.get("og:image") or m.get("twitter:image") or ""
    host = urlsplit(page.url).hostname or ""
    return Preview(
        "page",
        page.url,
        title=_clip(title, MAX_TITLE),
        text=_clip(
            m.get("og:description") or m.get("twitter:description") or m.get("description", ""),
            MAX_TEXT,
        ),
        site=_clip(m.get("og:site_name") or host.removeprefix("www."), MAX_SITE),
        icon=_web(page.url, head.icon),
        image=_web(page.url, image),
        small=m.get("twitter:card") == "summary",
    )


def attachment(link: str, p: Preview, n: int) -> dict[str, Any]:
    """Slack's attachment for ``p``, the ``n``-th preview of a message, for ``link`` as
    the message has it."""
    out: dict[str, Any] = {"id": n, "from_url": link, "original_url": link}
    if p.kind == "media":
        out["fallback"] = "Image"
        out["image_url"] = p.url
        if p.length is not None:
            out["image_bytes"] = p.length
        return out
    out["fallback"] = f"{p.site}: {p.title}" if p.site else p.title
    out["title"] = p.title
    out["title_link"] = link
    if p.text:
        out["text"] = p.text
    if p.site:
        out["service_name"] = p.site
    if p.icon:
        out["service_icon"] = p.icon
    if p.image:
        out["thumb_url" if p.small else "image_url"] = p.image
    return out


def patch(
    rich: str | None, previews: list[dict[str, Any]], present: Collection[str] = ()
) -> str | None:
    """The content change (:func:`parley.content.patch`'s form) that gives a message whose
    stored content is ``rich`` the ``previews`` of its links now: its author's own
    attachments first, as they were, and the apps' unfurls of links still ``present``
    in it (:mod:`parley.apps.unfurls`), then these, at most
    :data:`parley.content.MAX_ATTACHMENTS` in all. ``None`` when that is what it has."""
    current = content.fields(rich).get("attachments") or []
    own = [a for a in current if not (isinstance(a, dict) and "from_url" in a)]
    own = keep_app_unfurls(own, present)
    wanted = own + previews[: max(content.MAX_ATTACHMENTS - len(own), 0)]
    if wanted == current:
        return None
    return orjson.dumps({"attachments": wanted}).decode()
