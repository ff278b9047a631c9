"""The storage contract every backend implements (SQLite files, MariaDB/MySQL databases).

All methods are coroutines that never block the event loop. Errors: an operation the
caller may not do raises :class:`~parley.errors.ApiError` with the Slack code named in
its docstring and writes nothing; a failing backend raises
:class:`~parley.errors.StorageError`. Writes are durable when they return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from parley.metrics import Row
from parley.notify.devices import Device
from parley.notify.dnd import Dnd
from parley.notify.payloads import Notice
from parley.notify.prefs import Prefs
from parley.resilience.retries import Retry
from parley.storage.expiry import Expired
from parley.storage.models import (
    AppCommand,
    AppDomain,
    AppShortcut,
    AppView,
    Bookmark,
    Caller,
    Channel,
    CommandResponse,
    CustomEmoji,
    EventApp,
    FileSearch,
    Message,
    OAuthApp,
    OAuthGrant,
    Page,
    Pin,
    PostRequest,
    PostResult,
    ReactionChange,
    RetentionPolicy,
    Star,
    StoredFile,
    Team,
    User,
    UserGroup,
)
from parley.storage.reacted import Mark

#: Called on the event loop after the write committed, in commit order, before the
#: caller's await returns: the place for side effects (buffer, bus).
AfterCommit = Callable[[Any], None]


class Directory(Protocol):
    """Workspaces, users, tokens, channels and memberships."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def caller_by_token(self, token_hash: bytes) -> Caller | None:
        """The token's user and scopes, revoked or not; ``None`` for an unknown token."""
        ...

    async def revoke_token(self, token_hash: bytes) -> bool:
        """Revokes the token for good; ``False`` if it was unknown or already revoked."""
        ...

    async def create_user(self, user: User, token_hash: bytes) -> User:
        """A new user with their first token; ``name_taken`` when the workspace has the
        name."""
        ...

    async def logins(self, name: str) -> list[tuple[User, Team, str | None]]:
        """Every live user called ``name``, with its workspace and password hash."""
        ...

    async def add_token(
        self,
        user_id: str,
        token_hash: bytes,
        scopes: str | None,
        *,
        session: bool = False,
        app: str = "",
    ) -> None:
        """A new token for ``user_id`` (``scopes`` ``None``: the defaults of its kind);
        ``session``: made by signing in to the web client; ``app``: the bot id of the
        app whose installation got it (:meth:`uninstall_app` revokes it)."""
        ...

    async def set_deleted(self, user_id: str, deleted: bool, notice: Retry) -> None:
        """Deactivates the user (``deleted``: their web sessions revoked, their phones'
        registrations dropped; their other tokens kept but refused while deactivated) or
        makes them active again, and records ``notice`` (a retry record,
        :mod:`parley.pipeline.accounts`), all in one transaction."""
        ...

    async def end_sessions(self, user_id: str, notice: Retry) -> int:
        """Revokes the user's web sessions and records ``notice``, in one transaction; how
        many sessions were live."""
        ...

    async def token_keys(self, user_id: str, *, sessions: bool = False) -> list[bytes]:
        """The keys (SHA-256) of the user's tokens, revoked or not (``sessions``: of their
        web sessions only)."""
        ...

    async def user(self, user_id: str) -> User | None: ...

    async def user_by_name(self, team_id: str, name: str) -> User | None:
        """The workspace's user called ``name`` (deactivated or not), or ``None``."""
        ...

    async def channel_by_name(self, team_id: str, name: str) -> Channel | None:
        """The workspace's channel (or group direct message) called ``name``, or ``None``."""
        ...

    async def all_channels(self, team_id: str, after: str, limit: int) -> Page:
        """Every conversation of the workspace, whoever is in it (channels public and
        private, direct and group messages), by id, after ``after`` (an operator's
        export: never for a person's listing)."""
        ...

    async def users(self, team_id: str, after: str, limit: int) -> Page: ...
    async def team(self, team_id: str) -> Team | None: ...

    async def channel(self, channel_id: str) -> Channel | None: ...
    async def channels(
        self,
        team_id: str,
        user_id: str,
        *,
        public: bool,
        private: bool,
        exclude_archived: bool,
        after: str,
        limit: int,
        ims: bool = False,
        mpims: bool = False,
        member_only: bool = False,
        viewer: str | None = None,
    ) -> Page:
        """Public channels of the team, private ones ``user_id`` belongs to (not direct
        messages), with ``ims`` the direct messages and with ``mpims`` the group ones
        they are in, as rows ``(Channel, num_members, is_member)``, by id.
        ``member_only``: public channels too only where ``user_id`` is a member.
        ``viewer`` (another user): private channels and direct messages only where
        ``viewer`` is a member too, and ``is_member`` says whether ``viewer`` is."""
        ...

    async def create_channel(self, channel: Channel) -> Channel:
        """Creates it with its creator as first member; ``name_taken`` if the name is used."""
        ...

    async def set_archived(self, channel_id: str, archived: bool) -> None: ...

    async def event_apps(self) -> list[EventApp]:
        """Every app that gets the Events API over HTTP (``parley app events``)."""
        ...

    async def oauth_app(self, client_id: str) -> OAuthApp | None:
        """The app installed with OAuth whose client id this is (``parley app oauth``)."""
        ...

    async def add_oauth_grant(self, grant: OAuthGrant, now: int) -> None:
        """Keeps what a person allowed on an app's consent page until its code is
        exchanged; forgets the grants expired before ``now`` (wall µs)."""
        ...

    async def uninstall_app(self, bot_id: str) -> list[tuple[bytes, str]]:
        """Revokes every live token the installations of the app of ``bot_id`` got, in
        one transaction: their keys and users (to be forgotten by every node)."""
        ...

    async def take_oauth_grant(self, code_hash: bytes) -> OAuthGrant | None:
        """The grant of the code whose hash this is, removed as it is read, so a code is
        exchanged at most once (concurrent exchanges included); ``None``: no such."""
        ...

    async def unfurl_domains(self) -> list[AppDomain]:
        """Every app's unfurl domains (``parley app unfurl``), by app and domain."""
        ...

    async def close_conversation(self, user_id: str, channel_id: str, seq: int) -> None:
        """``user_id`` closed the direct or group direct message ``channel_id`` when its
        last message was ``seq`` (``conversations.close``), until
        :meth:`reopen_conversation`."""
        ...

    async def reopen_conversation(self, user_id: str, channel_id: str) -> bool:
        """``user_id`` opened it again; whether it was closed."""
        ...

    async def closed_conversations(self, user_id: str) -> dict[str, int]:
        """The conversations ``user_id`` closed, each with its last ``seq`` then."""
        ...

    async def commands(self, team_id: str) -> list[AppCommand]:
        """The team's slash commands (``parley app command``), by name."""
        ...

    async def shortcuts(self, team_id: str) -> list[AppShortcut]:
        """The team's apps' shortcuts (``parley app shortcut``), by app and name."""
        ...

    async def bot_user(self, bot_id: str) -> User | None:
        """The user of the bot ``bot_id`` (``B…``), deleted or not."""
        ...

    async def user_by_email(self, team_id: str, email: str) -> User | None:
        """The team's user with ``email`` (compared as given: callers lower-case it)."""
        ...

    async def edit_profile(self, user_id: str, changes: dict[str, Any]) -> User | None:
        """Applies ``changes`` to a user's profile (:func:`parley.pipeline.profiles.edit`,
        whose ``invalid_profile`` it raises) in one transaction, so edits made at once
        both count; the user as they are now, or ``None`` for none such."""
        ...

    async def set_avatar(
        self, user_id: str, photo: tuple[str, bytes, str] | None, now: int
    ) -> User | None:
        """Keeps the person's photo ``(media type, bytes, the path it is served at)``, or
        with ``None`` forgets it, and puts its URL in (or takes it out of) their profile
        (:func:`parley.pipeline.profiles.with_image`); the user as they now are, ``None``
        for nobody."""
        ...

    async def avatar(self, user_id: str) -> tuple[str, str, bytes] | None:
        """The person's photo as ``(team, media type, bytes)``, or ``None``."""
        ...

    async def set_away(self, user_id: str, away: bool) -> None:
        """Whether the user set themselves away (``users.setPresence``)."""
        ...

    async def away_users(self, team_id: str) -> set[str]:
        """The team's live users who set themselves away."""
        ...

    async def add_pin(self, pin: Pin, most: int) -> str | None:
        """Pins a message; why not (``already_pinned``; ``too_many_pins`` when the channel
        has ``most``), else ``None``."""
        ...

    async def remove_pin(self, channel_id: str, ts: int) -> bool:
        """Unpins a message; False when it was not pinned."""
        ...

    async def add_star(self, star: Star) -> bool:
        """Saves a message for its person (``stars.add``); ``False``: it was already."""
        ...

    async def remove_star(self, user_id: str, channel_id: str, ts: int) -> bool:
        """Unsaves it; ``False``: it was not saved."""
        ...

    async def stars(self, user_id: str, after: Star | None, limit: int) -> list[Star]:
        """At most ``limit`` of the person's saved messages, the newest saved first,
        after ``after`` (a page's last; ``None``: from the newest)."""
        ...

    async def set_retention(self, policy: RetentionPolicy) -> None:
        """Keeps a workspace's (``channel_id`` empty) or a conversation's messages for
        ``policy.days`` days, replacing the span it had."""
        ...

    async def remove_retention(self, team_id: str, channel_id: str) -> bool:
        """Ends that policy (a conversation then follows its workspace's); ``False``:
        there was none."""
        ...

    async def retention(self) -> list[RetentionPolicy]:
        """Every policy of every workspace, by workspace then conversation (the
        workspace's own first)."""
        ...

    async def pins(self, channel_id: str) -> list[Pin]:
        """The channel's pins, the newest first."""
        ...

    async def add_bookmark(self, b: Bookmark, most: int) -> bool:
        """Adds a bookmark unless its channel has ``most``; whether it did."""
        ...

    async def put_bookmark(self, b: Bookmark) -> None:
        """Writes a bookmark as it now is."""
        ...

    async def remove_bookmark(self, channel_id: str, bookmark_id: str) -> bool:
        """Removes one of the channel's bookmarks; whether there was one."""
        ...

    async def bookmarks(self, channel_id: str) -> list[Bookmark]:
        """The channel's bookmarks, the oldest first."""
        ...

    async def add_emoji(self, e: CustomEmoji, data: bytes) -> None:
        """Adds a workspace's own emoji (``data``: its image; empty for an alias);
        ``error_name_taken`` when the workspace has the name."""
        ...

    async def remove_emoji(self, team_id: str, name: str) -> list[str]:
        """Removes the emoji and every alias of it; the names removed (none: no such)."""
        ...

    async def emoji(self, team_id: str) -> list[CustomEmoji]:
        """The workspace's own emoji, by name."""
        ...

    async def emoji_image(self, team_id: str, name: str) -> tuple[str, bytes] | None:
        """``(mimetype, image)`` of the emoji (an alias: its target's), or ``None``."""
        ...

    async def create_group(self, g: UserGroup) -> None:
        """Creates a user group with its members; ``name_already_exists`` or
        ``handle_already_exists`` when the team has one so named."""
        ...

    async def update_group(
        self, group_id: str, name: str, handle: str, description: str, updated: int
    ) -> None:
        """Renames a group (the same refusals as :meth:`create_group`)."""
        ...

    async def set_group_disabled(self, group_id: str, disabled: bool, updated: int) -> None: ...

    async def set_group_members(self, group_id: str, users: Sequence[str], updated: int) -> None:
        """Replaces a group's members."""
        ...

    async def groups(self, team_id: str, include_disabled: bool = False) -> list[UserGroup]:
        """The team's groups (enabled ones only, unless asked), by id, with members."""
        ...

    async def group(self, group_id: str) -> UserGroup | None: ...

    async def put_view(self, v: AppView, now: int, stale_before: int) -> None:
        """Writes an app's modal or home tab (new, or as it now is), forgetting modals
        not written since before ``stale_before``."""
        ...

    async def view(self, view_id: str) -> AppView | None: ...

    async def view_by_external(self, team_id: str, external_id: str) -> AppView | None:
        """The newest modal of the team the app named ``external_id``."""
        ...

    async def meta_default(self, key: str, value: str) -> str:
        """The installation's ``key`` (a secret shared by every node), set to ``value``
        first if it had none."""
        ...

    async def create_file(self, f: StoredFile, stale_before: int, most: int) -> bool:
        """Records a file announced for upload (its content not received yet), after
        forgetting its uploader's files not completed since before ``stale_before``;
        ``False`` (nothing recorded) when ``most`` of theirs still wait."""
        ...

    async def put_file(self, file_id: str, upload_hash: str, data: bytes) -> bool:
        """Keeps ``data`` as the content of the file whose upload secret hashes to
        ``upload_hash``, once and whole; ``False`` when none waits for it."""
        ...

    async def complete_file(
        self, file_id: str, user_id: str, title: str, channels: tuple[str, ...]
    ) -> bool:
        """Titles ``user_id``'s uploaded file and shares it in ``channels``, once;
        ``False`` when it is not theirs, not uploaded, or completed already."""
        ...

    async def record_share(self, file_ids: Sequence[str], channel_id: str, ts: int) -> None:
        """Records the message (``ts``) that shared the files in ``channel_id``, so their
        deletion leaves a tombstone there."""
        ...

    async def delete_file(self, file_id: str) -> list[tuple[str, int]] | None:
        """Forgets the file, its content and its shares: the messages that shared it
        (``channel, ts``: those recorded), ``None`` when it was not there."""
        ...

    async def set_file_link(self, file_id: str, secret: str | None, now: int) -> None:
        """Gives the file a public link naming ``secret`` (``files.sharedPublicURL``), or
        with ``None`` takes it away; a deleted file's goes with it."""
        ...

    async def file_link(self, file_id: str) -> str | None:
        """The secret of the file's public link, or ``None``."""
        ...

    async def file(self, file_id: str) -> StoredFile | None:
        """The file with the channels it is shared in."""
        ...

    async def file_content(self, file_id: str) -> bytes:
        """The file's content (``b""`` before its upload)."""
        ...

    async def files_older(
        self, team_id: str, before: int, after: tuple[int, str], limit: int
    ) -> list[StoredFile]:
        """At most ``limit`` of the workspace's files (completed or not) created before
        ``before`` (Unix µs), oldest first, after ``after`` (the last's ``(created, id)``;
        ``(-1, "")`` from the first), each with its channels: what retention looks at."""
        ...

    async def files(
        self,
        team_id: str,
        viewer: str,
        before: tuple[int, str],
        limit: int,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> list[StoredFile]:
        """The team's completed files ``viewer`` may see (:func:`.listing_query`), older
        than ``before`` (``(created, id)``), newest first; only ``user_id``'s, only those
        shared in ``channel_id``."""
        ...

    async def search_files(
        self, team_id: str, viewer: str, search: FileSearch, offset: int, limit: int
    ) -> tuple[int, list[StoredFile]]:
        """How many of the team's completed files ``viewer`` may read ``search`` selects
        (:func:`.file_rows.search_query`), and ``limit`` of them from ``offset``."""
        ...

    async def interactivity(self, user_id: str) -> EventApp | None:
        """Where the app of the bot ``user_id`` gets its interactions over HTTP
        (``parley app interactivity``); ``None``: over Socket Mode."""
        ...

    async def add_command_response(
        self, token_hash: str, response: CommandResponse, now: int
    ) -> None:
        """Keeps a slash command's response URL (by its token's hash); forgets those
        that expired by ``now``."""
        ...

    async def use_command_response(
        self, token_hash: str, now: int, most: int
    ) -> CommandResponse | None:
        """The response URL of ``token_hash``, counting this use; ``None`` when there is
        none, it expired by ``now``, or it was used ``most`` times already."""
        ...

    async def mark_read(self, channel_id: str, user_id: str, ts: int) -> bool:
        """Sets ``user_id``'s read mark in ``channel_id`` to ``ts`` (earlier than before
        too: "mark unread"); False, and nothing written, when they are not a member."""
        ...

    async def last_read(self, channel_id: str, user_id: str) -> int | None:
        """``user_id``'s read mark in ``channel_id`` (0: nothing read yet); ``None`` when
        they are not a member."""
        ...

    async def update_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        topic: str | None = None,
        purpose: str | None = None,
    ) -> Channel | None:
        """Sets what is not ``None`` of ``channel_id``'s name, topic and purpose, in one
        transaction; the channel as it is now (``None``: no such channel). A name another
        channel of the team has raises ``name_taken``."""
        ...

    async def members(self, channel_id: str) -> frozenset[str]: ...
    async def members_page(self, channel_id: str, after: str, limit: int) -> Page: ...
    async def dnd(self, user_ids: Sequence[str]) -> dict[str, Dnd]:
        """The Do Not Disturb settings of these users (absent: none)."""
        ...

    async def set_dnd(self, user_id: str, dnd: Dnd) -> None: ...

    async def devices(self, user_ids: Sequence[str]) -> list[Device]:
        """The devices these users registered for push."""
        ...

    async def add_device(self, device: Device, max_per_user: int) -> bool:
        """Registers ``device`` to its user (a token registered before, by anyone, moves
        to them); ``False`` if they already have ``max_per_user`` other devices."""
        ...

    async def remove_device(self, platform: str, token: str, user_id: str | None) -> bool:
        """Forgets the device (only if ``user_id`` owns it, unless ``None``: a provider
        said the token is dead); whether there was one."""
        ...

    async def push_prefs(self, user_ids: Sequence[str] | None) -> dict[str, Prefs]:
        """The notification preferences these users set (``None``: every user who set
        any); a user who set none is absent."""
        ...

    async def set_push_prefs(self, user_id: str, prefs: Prefs) -> None: ...

    async def hold_pushes(self, held: Sequence[tuple[str, Notice]]) -> None:
        """Keeps ``(user id, notice)`` pushes until the user's Do Not Disturb ends (a
        notice held twice, same user, channel and ``ts``, is kept once)."""
        ...

    async def held_users(self) -> list[str]:
        """The users with pushes held."""
        ...

    async def take_held(self, user_id: str) -> list[Notice]:
        """Removes and returns the pushes held for ``user_id``, oldest first (one caller
        gets each)."""
        ...

    async def member_channels(self, user_id: str) -> frozenset[str]:
        """Every channel ``user_id`` is a member of."""
        ...

    async def add_members(self, channel_id: str, user_ids: Sequence[str]) -> list[str]:
        """Adds them; returns those that were not members before."""
        ...

    async def remove_member(self, channel_id: str, user_id: str) -> bool: ...


class MessageStore(Protocol):
    """Messages and reactions, sharded by channel, group-committed per shard."""

    #: How many shards the channels are spread over.
    shards: int

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    def metric_rows(self) -> list[Row]:
        """For ``/metrics``, read when scraped: what the backend times of its own work
        (SQLite: ``parley_store_sync_seconds``, its WALs' syncs); none where a database
        server does the syncing."""
        ...

    async def post(self, req: PostRequest, after_commit: AfterCommit | None = None) -> PostResult:
        """Stores a message, assigning ``seq`` and ``ts``; ``thread_not_found`` when
        ``thread_ts`` names no message. A repeated ``client_msg_id`` (same user, same
        channel) returns the original with ``duplicate=True`` and writes nothing.

        The write is queued before the coroutine first suspends, and queued writes are
        written in order: so posts whose coroutines start in a given order get a
        channel's ``seq`` in that order, whenever each returns (what lets one client
        have several sends in flight, :meth:`.Sender.write_post`)."""
        ...

    async def update(
        self,
        channel: str,
        ts: int,
        user: str,
        text: str,
        expected_version: int | None,
        after_commit: AfterCommit | None = None,
        *,
        rich_patch: str | None = None,
        edited: bool = True,
    ) -> Message:
        """Last writer wins in commit order. ``message_not_found``, ``cant_update_message``,
        ``edit_conflict`` when ``expected_version`` is given and is not the current one.
        ``rich_patch`` (``parley.content.patch``) replaces the blocks or
        attachments it names; without it they stay. ``edited=False``: a change the
        server makes (link previews), which leaves the message's ``edited`` as it was
        (its ``version`` still counts it)."""
        ...

    async def delete(
        self, channel: str, ts: int, user: str, after_commit: AfterCommit | None = None
    ) -> Message:
        """``message_not_found``, ``cant_delete_message``."""
        ...

    async def react(
        self,
        channel: str,
        ts: int,
        user: str,
        name: str,
        add: bool,
        after_commit: AfterCommit | None = None,
    ) -> ReactionChange:
        """``message_not_found``, ``already_reacted`` (add), ``no_reaction`` (remove)."""
        ...

    async def message(self, channel: str, ts: int) -> Message | None: ...

    async def history(self, channel: str, *, before: int, after: int, limit: int) -> Page:
        """Top-level messages (and thread broadcasts) with ``after < ts < before``,
        newest first."""
        ...

    async def replies(
        self, channel: str, thread_ts: int, *, after: int, before: int, limit: int
    ) -> Page:
        """The thread's replies with ``after < ts < before``, oldest first (no parent)."""
        ...

    async def unread(self, channel: str, after_ts: int, not_by: str, cap: int) -> int:
        """How many messages the channel's history shows after ``after_ts``, live and not
        written by ``not_by`` (one's own are read), counting at most ``cap``."""
        ...

    async def last_seq(self, channel: str) -> int:
        """The channel's highest ``seq`` (0 when it has no message)."""
        ...

    async def since(self, channel: str, seq: int, limit: int) -> Page:
        """Messages with ``seq`` greater than the given one, ascending (for resume)."""
        ...

    async def messages_at(self, keys: Sequence[tuple[str, int]]) -> list[Message]:
        """The messages at these ``(channel, ts)`` keys as they are now, deleted ones
        included (``deleted`` set); keys with no message are left out. For the search
        indexer and the check of search hits."""
        ...

    async def reacted(self, user: str, before: Mark | None, limit: int) -> list[Mark]:
        """The messages ``user`` reacted to, each once at its newest reaction of theirs,
        newest first, after ``before`` (the last of the page before; ``None``: from the
        newest), at most ``limit`` (:mod:`parley.storage.reacted`). Their channels are
        not checked: the caller shows only those its caller may see."""
        ...

    async def changed_since(self, after_ts: int) -> list[tuple[str, int]]:
        """``(channel, ts)`` of every message posted, edited or deleted after ``after_ts``
        (a scan: for recovering a search index after a crash, at start-up)."""
        ...

    async def recent_tails(self, after_ts: int) -> list[tuple[str, int, int]]:
        """``(channel, last seq, its ts)`` of every channel whose newest message was
        committed with a ``ts`` above ``after_ts``, from the primaries (for the worker
        that republishes what a dead node committed but never published)."""
        ...

    async def expire(self, channel: str, before: int, limit: int) -> Expired:
        """Message retention: removes up to ``limit`` of ``channel``'s threads written
        before ``before`` (Unix µs), and empties its newest message when that is older
        too, by the rule of :mod:`parley.storage.expiry`, in one transaction that waits
        for the channel's posts in flight. Idempotent; publishes nothing (as Slack's
        retention, the messages are gone for whoever reads next)."""
        ...
