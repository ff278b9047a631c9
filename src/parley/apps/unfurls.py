"""App unfurling, Slack's: an app registers the domains it unfurls (``parley app
unfurl``); a message with links on them reaches the app as ``link_shared``, in any
conversation of its team, its bot a member or not (as Slack's granular-permission apps
get them), never for the app's own messages; the app answers with ``chat.unfurl``,
whose attachments are put on the message, marked ``is_app_unfurl`` with the link they
unfurl (``app_unfurl_url``). Links an app unfurls get no server preview
(:mod:`parley.unfurl`); an app's unfurl goes when its link leaves the message. Pure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from parley import content
from parley.errors import ApiError
from parley.ids import format_ts, parse_ts

#: The most domains one app unfurls (Slack's).
MAX_DOMAINS = 5
#: ``chat.unfurl``'s ``source`` for a message posted (the only one Parley issues; Slack's
#: ``composer`` is for links still being typed).
HISTORY = "conversations_history"
SOURCES = (HISTORY, "composer")

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


def domain(text: str) -> str:
    """``text`` as a domain an app may register: lower case, its ``https://`` and
    trailing ``/`` or leading ``*.`` taken off, international names in their ASCII
    form; ``ValueError`` for anything else (a path, a port, an address that is no
    host name)."""
    name = text.strip().lower()
    for prefix in ("https://", "http://", "*."):
        name = name.removeprefix(prefix)
    name = name.rstrip("/")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{text!r} is not a domain") from exc
    if not _DOMAIN.fullmatch(name) or name.replace(".", "").isdigit():
        raise ValueError(f"{text!r} is not a domain")
    return name


def _on(host: str, name: str) -> bool:
    return host == name or host.endswith("." + name)


def shared(urls: Sequence[str], domains: Collection[str]) -> list[dict[str, str]]:
    """The links of ``urls`` on ``domains`` (a domain's subdomains too), each with the
    domain it is on (the longest that holds it), in order: ``link_shared``'s ``links``."""
    out = []
    for url in urls:
        host = (urlsplit(url).hostname or "").rstrip(".")
        held = [d for d in domains if _on(host, d)]
        if held:
            out.append({"domain": max(held, key=len), "url": url})
    return out


def unfurl_id(channel: str, ts: int, app_id: str) -> str:
    """The ``unfurl_id`` of the message ``ts`` of ``channel`` for the app ``app_id``,
    Slack's shape: ``channel.ts.digest``; only that app's ``chat.unfurl`` reads it."""
    digest = hashlib.sha256(f"{channel}.{ts}.{app_id}".encode()).hexdigest()
    return f"{channel}.{format_ts(ts)}.{digest}"


def read_unfurl_id(ident: str, app_id: str) -> tuple[str, int] | None:
    """The channel and message ts :func:`unfurl_id` gave ``app_id`` as ``ident``;
    ``None`` for one it did not."""
    parts = ident.split(".")
    if len(parts) != 4:
        return None
    ts = parse_ts(f"{parts[1]}.{parts[2]}")
    if ts is None or unfurl_id(parts[0], ts, app_id) != ident:
        return None
    return parts[0], ts


def link_shared(
    channel: str,
    ts: int,
    thread_ts: int | None,
    author: str,
    found: list[dict[str, str]],
    app_id: str,
    member: bool,
    at: int,
) -> dict[str, Any]:
    """The ``link_shared`` event the app ``app_id`` gets for ``found`` (:func:`shared`)
    in the message ``ts`` of ``channel`` by ``author``; ``member``: whether its bot is
    in the channel."""
    body: dict[str, Any] = {
        "type": "link_shared",
        "channel": channel,
        "is_bot_user_member": member,
        "user": author,
        "message_ts": format_ts(ts),
        "unfurl_id": unfurl_id(channel, ts, app_id),
        "source": HISTORY,
        "links": found,
        "event_ts": format_ts(at),
    }
    if thread_ts is not None:
        body["thread_ts"] = format_ts(thread_ts)
    return body


def is_app_unfurl(a: Any) -> bool:
    """Whether the attachment ``a`` is an app's unfurl of a link."""
    return isinstance(a, dict) and a.get("is_app_unfurl") is True


def unfurled_by(attachments: Sequence[Any], app_id: str) -> set[str]:
    """The links the app ``app_id`` has unfurled, of a message's ``attachments``."""
    return {
        a.get("app_unfurl_url", "")
        for a in attachments
        if is_app_unfurl(a) and a.get("app_id") == app_id
    }


def parse_unfurls(raw: Any) -> dict[str, dict[str, Any]]:
    """``chat.unfurl``'s ``unfurls``: a JSON object of links to attachments (an
    attachment's fields, or ``blocks``; an empty one takes the app's unfurl of that link
    off; none: ``{}``). ``invalid_unfurls_format`` when it is not such an object,
    ``cannot_parse_attachment`` when an attachment is not one."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError("invalid_unfurls_format", data={"detail": "not JSON"}) from None
    if not isinstance(raw, dict):
        raise ApiError("invalid_unfurls_format", data={"detail": "a JSON object of links"})
    if len(raw) > content.MAX_ATTACHMENTS:
        raise ApiError("invalid_unfurls_format", data={"detail": "too many links"})
    out: dict[str, dict[str, Any]] = {}
    for url, attachment in raw.items():
        if not isinstance(attachment, dict):
            raise ApiError("cannot_parse_attachment", data={"detail": f"{url}: not an object"})
        try:  # the checks of a message's own attachments, and of its blocks
            content.parse(attachment.get("blocks"), [attachment])
        except ApiError as exc:
            raise ApiError("cannot_parse_attachment", data={"detail": f"{url}: {exc}"}) from None
        out[url] = attachment
    return out


def unfurl(
    rich: str | None, unfurls: Mapping[str, dict[str, Any]], app_id: str, bot_id: str
) -> str | None:
    """The content change (:func:`parley.content.patch`'s form) that puts the app's
    ``unfurls`` (:func:`parse_unfurls`) on a message whose stored content is ``rich``:
    each replaces the app's unfurl of its link and any server preview of it (in place,
    or after the rest), an empty one takes them off. ``None`` when nothing changes."""
    current = content.fields(rich).get("attachments") or []
    out: list[Any] = []
    placed: set[str] = set()
    for a in current:
        link = _link_of(a, app_id)
        if link is None or link not in unfurls:
            out.append(a)
        elif link not in placed:
            placed.add(link)
            if unfurls[link]:
                out.append(_attachment(link, unfurls[link], app_id, bot_id, len(out) + 1))
    for link, given in unfurls.items():
        if link not in placed and given:
            out.append(_attachment(link, given, app_id, bot_id, len(out) + 1))
    if len(out) > content.MAX_ATTACHMENTS:
        raise ApiError(
            "cannot_parse_attachment",
            data={"detail": f"at most {content.MAX_ATTACHMENTS} attachments"},
        )
    if out == current:
        return None
    return orjson.dumps({"attachments": out}).decode()


def _link_of(a: Any, app_id: str) -> str | None:
    """The link the attachment ``a`` shows for ``app_id``'s unfurls: its own unfurl's,
    or a server preview's; ``None`` for any other attachment."""
    if not isinstance(a, dict):
        return None
    if is_app_unfurl(a):
        return a.get("app_unfurl_url") if a.get("app_id") == app_id else None
    return a.get("from_url")


def _attachment(
    link: str, given: dict[str, Any], app_id: str, bot_id: str, n: int
) -> dict[str, Any]:
    """The app's unfurl ``given`` of ``link`` as stored, the ``n``-th attachment."""
    out = {k: v for k, v in given.items() if k not in ("from_url", "original_url")}
    out.update(id=n, app_unfurl_url=link, is_app_unfurl=True, app_id=app_id, bot_id=bot_id)
    out.setdefault("fallback", link)
    return out


def keep_app_unfurls(attachments: Sequence[Any], present: Collection[str]) -> list[Any]:
    """``attachments`` without the apps' unfurls of links no longer in the message."""
    return [a for a in attachments if not is_app_unfurl(a) or a.get("app_unfurl_url") in present]
