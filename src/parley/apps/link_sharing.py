"""The I/O shell of app unfurling (:mod:`parley.apps.unfurls`): which apps unfurl which
domains, ``link_shared`` for them once a message is stored, and ``chat.unfurl``."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from parley import content
from parley.apps import unfurls
from parley.apps.callback import app_id
from parley.bus.interface import LINK_SHARED, Event
from parley.errors import ApiError
from parley.ids import wall_us
from parley.pipeline import events
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import Message, User
from parley.unfurl.links import links

log = logging.getLogger(__name__)

#: Seconds the apps' domains are reused before they are read again (``parley app
#: unfurl`` takes effect within this).
DOMAINS_TTL = 5.0

#: ``(message as it is) -> content change or None``; :meth:`.Sender.rewrite` writes it.
Rewrite = Callable[[Message, Callable[[Message], str | None]], Awaitable[Message]]


class Unfurling(NamedTuple):
    """An app of a team that unfurls links: its bot and its domains."""

    bot: User
    domains: tuple[str, ...]


class AppLinks:
    """``share`` after a message is stored (from :class:`parley.unfurl.service.Unfurler`)
    and ``unfurl`` for ``chat.unfurl``."""

    def __init__(
        self,
        directory: Directory,
        store: MessageStore,
        members: Callable[[str], Awaitable[frozenset[str]]],
        publish: Callable[[Event], Any],
        rewrite: Rewrite,
        *,
        clock: Callable[[], float] = time.monotonic,
        clock_us: Callable[[], int] = wall_us,
    ) -> None:
        self._directory = directory
        self._store = store
        self._members = members
        self._publish = publish
        self._rewrite = rewrite
        self._clock = clock
        self._clock_us = clock_us
        self._read_at = float("-inf")
        self._by_team: dict[str, list[Unfurling]] = {}

    def forget(self) -> None:
        """Reads the apps' domains again at the next message (``parley app unfurl`` ran)."""
        self._read_at = float("-inf")

    async def apps(self, team_id: str) -> list[Unfurling]:
        """The team's apps that unfurl links (read every :data:`DOMAINS_TTL` seconds)."""
        if self._clock() - self._read_at > DOMAINS_TTL:
            by_bot: dict[str, list[str]] = {}
            teams: dict[str, str] = {}
            for row in await self._directory.unfurl_domains():
                by_bot.setdefault(row.user_id, []).append(row.domain)
                teams[row.user_id] = row.team_id
            by_team: dict[str, list[Unfurling]] = {}
            for user_id, domains in by_bot.items():
                bot = await self._directory.user(user_id)
                if bot is not None and not bot.deleted:
                    by_team.setdefault(teams[user_id], []).append(Unfurling(bot, tuple(domains)))
            self._by_team, self._read_at = by_team, self._clock()
        return self._by_team.get(team_id, [])

    async def share(self, m: Message, tell: bool) -> set[str]:
        """The links of ``m`` that apps of its team unfurl, which get no server preview;
        with ``tell``, each of those apps whose bot did not write ``m`` gets
        ``link_shared`` for the ones it has not unfurled yet."""
        claimed: set[str] = set()
        urls = app_links(m.text)
        if not urls:
            return claimed
        attachments = content.fields(m.rich).get("attachments") or []
        for bot, domains in await self.apps(m.team):
            found = unfurls.shared(urls, domains)
            claimed.update(link["url"] for link in found)
            if not tell or bot.id == m.user:  # not for its own messages, as Slack's
                continue
            done = unfurls.unfurled_by(attachments, app_id(bot))
            found = [link for link in found if link["url"] not in done]
            if found:
                member = bot.id in await self._members(m.channel)
                at = self._clock_us()
                body = unfurls.link_shared(
                    m.channel, m.ts, m.thread_ts, m.user, found, app_id(bot), member, at
                )
                self._publish(events.for_app(LINK_SHARED, m.channel, m.team, bot.id, at, body))
        return claimed

    async def unfurl(
        self,
        bot: User,
        channel: str | None,
        ts: int | None,
        ident: str | None,
        source: str | None,
        given: dict[str, dict[str, Any]],
        prompt: tuple[str, str | None] | None = None,
    ) -> Message:
        """``chat.unfurl``: the app of ``bot`` puts ``given`` (:func:`.unfurls.parse_unfurls`)
        on the message ``ts`` of ``channel``, or the one ``ident`` (its ``unfurl_id``)
        names; each link must be in the message's text and on one of the app's domains.
        ``prompt``: the text and blocks shown to the message's author alone (an
        ephemeral message from the bot, on the connections they have open now), asking
        them to connect the app. Returns the message as it now is."""
        channel, ts = self._target(bot, channel, ts, ident, source)
        domains = next((u.domains for u in await self.apps(bot.team_id) if u.bot.id == bot.id), ())
        if not domains:
            raise ApiError("cannot_find_service")
        m = await self._store.message(channel, ts)
        # a message with none of the app's links is as good as none: the app learns
        # nothing of a conversation beyond what link_shared told it
        if (
            m is None
            or m.deleted
            or m.team != bot.team_id
            or not unfurls.shared(app_links(m.text), domains)
        ):
            raise ApiError("cannot_find_message")
        on_domains = {link["url"] for link in unfurls.shared(list(given), domains)}
        if any(url not in on_domains for url in given):
            raise ApiError("cannot_unfurl_url")
        ident_app = app_id(bot)

        def change_of(now: Message) -> str | None:
            present = set(app_links(now.text))
            if any(url not in present for url in given):
                raise ApiError("cannot_unfurl_message")
            return unfurls.unfurl(now.rich, given, ident_app, bot.bot_id or "") if given else None

        m = await self._rewrite(m, change_of)
        if prompt is not None:
            found = await self._directory.channel(m.channel)
            if found is not None:
                text, rich = prompt
                at = self._clock_us()
                self._publish(events.ephemeral(found, m.user, bot, text, at, rich=rich))
        return m

    def _target(
        self, bot: User, channel: str | None, ts: int | None, ident: str | None, source: str | None
    ) -> tuple[str, int]:
        if ident or source:  # unfurl_id and source, else channel and ts
            if not source:
                raise ApiError("missing_source")
            if source not in unfurls.SOURCES:
                raise ApiError("invalid_source")
            if not ident:
                raise ApiError("missing_unfurl_id")
            # Parley issues no composer unfurl ids (no link_shared while one types)
            found = unfurls.read_unfurl_id(ident, app_id(bot))
            if found is None or source != unfurls.HISTORY:
                raise ApiError("invalid_unfurl_id")
            return found
        if not channel:
            raise ApiError("missing_channel")
        if ts is None:
            raise ApiError("missing_ts")
        return channel, ts


def app_links(text: str) -> list[str]:
    """The links of ``text`` apps may unfurl: all of them (up to an attachment each),
    not only the first few the server previews."""
    return links(text, limit=content.MAX_ATTACHMENTS)
