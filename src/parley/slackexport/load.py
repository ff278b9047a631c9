"""Slack's export written into a Parley workspace (``parley import slack``): its people,
channels, direct messages, messages, threads and reactions, each message at the ``ts``
it had in Slack.

The import writes through the directory and the message store the server uses, with
the server stopped: the store numbers a channel's messages from its tail, and its
clock is injected, so setting that clock to each message's Slack ``ts`` before its write
keeps the ``ts`` (a channel's messages are written in ``ts`` order, and a ``ts`` is
unique in its channel). A message imported into a channel that already holds later
ones is written after them, with a later ``ts``; its thread and reactions follow it.

Ids are Parley's, derived from the workspace and the Slack id, so importing the same
export again finds what the first import made and adds nothing twice (each message's
``client_msg_id`` is ``slack-<its ts>``). Mentions (``<@U…>``, ``<#C…|name>``) are
rewritten to the new ids. A Slack user whose name a user of the workspace already has
*is* that user (people created first, with passwords, keep them); so is a channel.
People come in without a password: an operator gives them one (``parley user
password``). Deactivated Slack accounts come in deactivated. A file's bytes are not in
an export: its message keeps its text and names the file.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from parley.api.methods.ims import im_id, mpim_id
from parley.errors import ApiError, Code
from parley.ids import Kind, Snowflake, encode_id, format_ts
from parley.pipeline.accounts import ACTIVE, notice
from parley.slackexport.read import Export, SlackChannel, SlackMessage, SlackUser
from parley.storage.interface import Directory, MessageStore
from parley.storage.models import Channel, PostRequest, Team, User

#: Parley's names: users ``[a-z0-9][a-z0-9._-]*``, channels ``[a-z0-9_-]+``, at most 80.
_USER_NAME = re.compile(r"[^a-z0-9._\-]")
_CHANNEL_NAME = re.compile(r"[^a-z0-9_\-]")
#: ``<@U…>``, ``<@U…|name>``, ``<#C…>``, ``<#C…|name>`` in a message's text.
_REFERENCE = re.compile(r"<([@#])([A-Z0-9]+)(\|[^>]*)?>")


class ImportClock:
    """The store's clock during an import: the ``ts`` of the message being written."""

    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now
        self.at: int | None = None

    def __call__(self) -> int:
        return self.at if self.at is not None else self._now()


@dataclass
class Report:
    """What an import did, for ``parley import``'s JSON."""

    users: int = 0
    users_existing: int = 0
    channels: int = 0
    channels_existing: int = 0
    messages: int = 0
    messages_existing: int = 0
    reactions: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str, n: int = 1) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + n


def derived_id(kind: Kind, team_id: str, slack_id: str) -> str:
    """The Parley id of a Slack id in ``team_id``: the same on every import."""
    digest = hashlib.sha256(f"slack:{team_id}:{kind.value}:{slack_id}".encode()).digest()
    return encode_id(kind, int.from_bytes(digest[:8], "big") >> 1)


def user_name(name: str) -> str:
    """A Slack username as a Parley one."""
    cleaned = _USER_NAME.sub("-", name.lower()).lstrip("._-")[:80]
    return cleaned or "user"


def channel_name(name: str) -> str:
    """A Slack channel's name as a Parley one."""
    return _CHANNEL_NAME.sub("-", name.lower())[:80] or "channel"


def rewrite(text: str, users: dict[str, str], channels: dict[str, str]) -> str:
    """``text`` with its mentions of Slack users and channels naming their Parley ids
    (one that names neither is left as it is)."""

    def swap(m: re.Match) -> str:
        found = (users if m.group(1) == "@" else channels).get(m.group(2))
        return m.group(0) if found is None else f"<{m.group(1)}{found}{m.group(3) or ''}>"

    return _REFERENCE.sub(swap, text)


class Loader:
    """Writes one :class:`Export` into ``team`` (see the module)."""

    def __init__(
        self,
        directory: Directory,
        store: MessageStore,
        team: Team,
        clock: ImportClock,
        ids: Snowflake,
        now: Callable[[], int],
    ) -> None:
        self._directory = directory
        self._store = store
        self._team = team
        self._clock = clock
        self._ids = ids
        self._now = now
        self.report = Report()
        #: Slack ids -> Parley's: users (and bots by ``B…``), conversations.
        self._users: dict[str, User] = {}
        self._user_ids: dict[str, str] = {}
        self._channels: dict[str, str] = {}
        #: Slack's ``ts`` of each message written -> the ``ts`` Parley gave it (the
        #: same, but where a channel already held later ones), for replies and reactions.
        self._ts: dict[tuple[str, int], int] = {}

    async def load(self, export: Export) -> Report:
        for su in export.users:
            await self._user(su)
        made = []  # every conversation first: a message may mention one listed later
        for sc in export.channels:
            channel = await self._channel(sc)
            if channel is not None:
                made.append((sc, channel))
        archived = []
        for sc, channel in made:
            for m in export.messages.get(sc.id, ()):
                await self._message(channel, m)
            if sc.archived and not channel.is_archived:
                archived.append(channel.id)
        for channel_id in archived:  # last: a message may still have been written to it
            await self._directory.set_archived(channel_id, True)
        for why, n in export.skipped.items():
            self.report.skip(why, n)
        return self.report

    async def _user(self, su: SlackUser, *, placeholder: bool = False) -> User:
        name = user_name(su.name)
        found = await self._directory.user_by_name(self._team.id, name)
        if found is None:
            user = User(
                id=derived_id(Kind.USER, self._team.id, su.id),
                team_id=self._team.id,
                name=name,
                real_name=su.real_name or su.name,
                is_bot=su.is_bot,
                bot_id=derived_id(Kind.BOT, self._team.id, su.id) if su.is_bot else None,
                rate_limit=None,
                created=self._now(),
                email=su.email.strip().lower()
                if su.email and not await self._email_taken(su.email)
                else "",
            )
            # a token no one holds: the user signs in with a password an operator sets
            found = await self._directory.create_user(user, secrets.token_bytes(32))
            if su.deleted or placeholder:
                await self._directory.set_deleted(
                    user.id, True, notice(user.id, ACTIVE, self._now())
                )
            self.report.users += 1
        else:
            self.report.users_existing += 1
        for key in (su.id, su.bot_id):
            if key:
                self._users[key] = found
                self._user_ids[key] = found.id
        return found

    async def _email_taken(self, email: str) -> bool:
        return await self._directory.user_by_email(self._team.id, email.strip().lower()) is not None

    async def _author(self, m: SlackMessage) -> User:
        """Who wrote ``m``: its user, its bot's user, or a deactivated stand-in made
        for an author the export does not list (an integration, someone since gone)."""
        key = m.user or m.bot_id or ""
        known = self._users.get(key)
        if known is not None:
            return known
        name = m.username or f"slack-{key.lower()}"
        stand_in = SlackUser(key, name, m.username or key, "", m.user is None, False)
        return await self._user(stand_in, placeholder=True)

    async def _channel(self, sc: SlackChannel) -> Channel | None:
        members = [self._users[u].id for u in sc.members if u in self._users]
        team = self._team.id
        if sc.kind == "im":
            if not members:
                self.report.skip("a direct message with no known member")
                return None
            ident = im_id(team, members[0], members[-1])
            made = Channel(ident, team, ident, True, members[0], sc.created, is_im=True)
        else:
            name = channel_name(sc.name)
            existing = (
                None if sc.kind == "mpim" else await self._directory.channel_by_name(team, name)
            )
            if existing is not None:
                self._channels[sc.id] = existing.id
                self.report.channels_existing += 1
                await self._directory.add_members(existing.id, members)
                return existing
            creator = self._users[sc.creator].id if sc.creator in self._users else None
            creator = creator or (members[0] if members else None)
            if creator is None:
                self.report.skip("a channel with no known member")
                return None
            if sc.kind == "mpim":
                ident = mpim_id(team, members)
            else:
                ident = derived_id(Kind.CHANNEL, team, sc.id)
            made = Channel(
                ident,
                team,
                name,
                sc.kind != "channel",
                creator,
                sc.created,
                is_mpim=sc.kind == "mpim",
            )
        channel = await self._directory.channel(made.id)
        if channel is None:
            try:
                channel = await self._directory.create_channel(made)
            except ApiError as exc:
                if exc.code != Code.NAME_TAKEN:
                    raise
                self.report.skip(f"a conversation whose name is taken: {made.name}")
                return None
            self.report.channels += 1
        else:
            self.report.channels_existing += 1
        self._channels[sc.id] = channel.id
        await self._directory.add_members(channel.id, members)
        if sc.topic or sc.purpose:
            await self._directory.update_channel(
                channel.id, topic=sc.topic or None, purpose=sc.purpose or None
            )
        return channel

    async def _message(self, channel: Channel, m: SlackMessage) -> None:
        author = await self._author(m)
        text = rewrite(m.text, self._user_ids, self._channels)
        if m.files:
            named = ", ".join(m.files)
            text = f"{text}\n(files: {named})" if text else f"(files: {named})"
        if not text.strip():
            self.report.skip("no text")
            return
        thread_ts = self._ts.get((channel.id, m.thread_ts)) if m.thread_ts else None
        req = PostRequest(
            id=self._ids.next(),
            channel=channel.id,
            team=self._team.id,
            user=author.id,
            bot_id=author.bot_id,
            text=text[:40_000],
            thread_ts=thread_ts,
            reply_broadcast=m.subtype == "thread_broadcast",
            client_msg_id=f"slack-{format_ts(m.ts)}",
            subtype="me_message" if m.subtype == "me_message" else None,
        )
        self._clock.at = m.ts
        try:
            result = await self._store.post(req)
        finally:
            self._clock.at = None
        self._ts[(channel.id, m.ts)] = result.message.ts
        if result.duplicate:
            self.report.messages_existing += 1
            return
        self.report.messages += 1
        for name, users in m.reactions:
            for slack_user in users:
                reactor = self._users.get(slack_user)
                if reactor is None:
                    continue
                try:
                    await self._store.react(channel.id, result.message.ts, reactor.id, name, True)
                except ApiError:  # already_reacted: once each
                    continue
                self.report.reactions += 1
