"""Which links a message's text has, which of them a post wants previewed, and which
addresses the server may fetch them from. Pure, no I/O."""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple
from urllib.parse import urlsplit

#: The most links of one message previewed (the first ones, in the text's order).
MAX_LINKS = 5
#: The longest URL fetched.
MAX_URL = 2000

# code (```blocks``` and `spans`) is not looked into: a link there is text shown as is
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
# Slack's markup, <https://x|label> and <https://x>, and URLs written out as they are
_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|[^>]*)?>|(?<![\w<|/])(https?://[^\s<>]+)", re.I)
_TRAILING = ".,;:!?'\")]}*_~"


class Want(NamedTuple):
    """What a post asks to have previewed: pages (``unfurl_links``), images and other
    media (``unfurl_media``)."""

    links: bool
    media: bool


#: What a person's posts and edits have previewed, and an app's unless it asks.
PERSON = Want(links=True, media=True)
APP = Want(links=False, media=True)


def wanted(is_bot: bool, unfurl_links: bool | None, unfurl_media: bool | None) -> Want | None:
    """Slack's defaults for ``chat.postMessage``'s ``unfurl_links`` and ``unfurl_media``
    (``None``: not given): a person's links are previewed, pages and media; an app's
    only media unless it asks for pages too. ``None`` when nothing is to be previewed."""
    default = APP if is_bot else PERSON
    want = Want(
        default.links if unfurl_links is None else unfurl_links,
        default.media if unfurl_media is None else unfurl_media,
    )
    return want if want.links or want.media else None


def _trimmed(url: str) -> str:
    """A written-out URL without the punctuation that ends the sentence around it (a
    closing bracket stays when the URL opened one, as Wikipedia's do)."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def links(text: str, limit: int = MAX_LINKS) -> list[str]:
    """The first ``limit`` distinct http(s) links of ``text`` with a host, in order,
    outside code; longer than :data:`MAX_URL` ones are left out."""
    out: list[str] = []
    for match in _LINK.finditer(_CODE.sub(" ", text)):
        url = match.group(1) or _trimmed(match.group(2))
        if len(url) > MAX_URL or url in out:
            continue
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. a bracketed host that is no IPv6 address
            continue
        if parts.hostname:
            out.append(url)
            if len(out) == limit:
                break
    return out


def public(address: str) -> bool:
    """Whether ``address`` (an IP address as text) is on the public internet: not
    loopback, private, link-local, shared (carrier NAT), multicast, reserved or
    unspecified, IPv4 inside IPv6 judged as the IPv4 address it holds."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
