"""Rows as frozen values (msgspec Structs: about ten times cheaper to build than frozen
dataclasses, which matters on the send path). Times are integer microseconds since the
Unix epoch; the API renders them as Slack ``ts`` strings. Ids are Slack-style strings
(``T…``, ``U…``, ``C…``).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec


class Team(msgspec.Struct, frozen=True):
    id: str
    name: str
    domain: str
    created: int


class EventApp(msgspec.Struct, frozen=True):
    """An app's HTTP endpoint: its bot user, where its events (``event_apps``) or its
    interactions (``app_interactivity``) are POSTed, and the secret they are signed with
    (Slack's ``X-Slack-Signature``)."""

    user_id: str
    team_id: str
    request_url: str
    signing_secret: str


class AppCommand(msgspec.Struct, frozen=True):
    """A slash command of a team, served by a bot's app (``parley app command``): over
    HTTP at ``request_url``, signed with ``signing_secret``, or, with no URL, over the
    app's Socket Mode connection."""

    team_id: str
    command: str  # "/deploy": the slash and the lower-case name
    user_id: str  # the app's bot
    request_url: str  # "": Socket Mode
    signing_secret: str
    description: str
    usage_hint: str


class AppDomain(msgspec.Struct, frozen=True):
    """A domain whose links a bot's app unfurls itself (``parley app unfurl``): its
    links in the team's messages reach the app as ``link_shared``."""

    user_id: str
    team_id: str
    domain: str


class OAuthApp(msgspec.Struct, frozen=True):
    """A bot's app that people install with OAuth (``parley app oauth``): its client id
    and a hash of its secret, where it may send people back (``redirect_urls``), and the
    scopes it may ask for its bot (``scopes``) and of the person installing it
    (``user_scopes``), each comma-separated (:mod:`parley.apps.oauth`)."""

    user_id: str
    team_id: str
    client_id: str
    secret_hash: bytes
    redirect_urls: tuple[str, ...]
    scopes: str
    user_scopes: str


class OAuthGrant(msgspec.Struct, frozen=True):
    """What a person allowed on the consent page, until the app exchanges its code
    (``oauth.v2.access``, once, before ``expires``, wall µs): the bot's ``scopes`` and
    the installer's ``user_scopes``, and the ``redirect_uri`` the authorization named
    (empty: none), which the exchange must name again."""

    code_hash: bytes
    client_id: str
    installer_id: str
    scopes: str
    user_scopes: str
    redirect_uri: str
    expires: int
    #: Sign in with Slack's (``openid.connect.token`` exchanges it; ``oauth.v2.access``
    #: does not), with the ``nonce`` its id token is to carry.
    nonce: str = ""
    openid: bool = False


class AppShortcut(msgspec.Struct, frozen=True):
    """A shortcut of a bot's app (``parley app shortcut``): ``global`` (run from
    anywhere) or ``message`` (run on a message), named ``name`` in the client's list;
    its app gets ``callback_id`` (``parley.apps.shortcuts``)."""

    team_id: str
    user_id: str  # the app's bot
    callback_id: str
    kind: str  # "global" | "message"
    name: str
    description: str


class Bookmark(msgspec.Struct, frozen=True):
    """A link kept at the top of a channel (``bookmarks.*``), ``emoji`` ``""`` for none;
    times in microseconds."""

    id: str
    channel_id: str
    title: str
    link: str
    emoji: str
    created_by: str
    updated_by: str
    created: int
    updated: int


class CommandResponse(msgspec.Struct, frozen=True):
    """What a slash command's or an interaction's ``response_url`` may do: answer
    ``user_id`` in ``channel_id`` as the bot ``app_user_id``, until ``expires`` (µs), a
    few times; for an interaction, also replace or delete the message of ``message_ts``
    (the bot's, whose button was pressed; 0 for a command)."""

    team_id: str
    channel_id: str
    user_id: str
    app_user_id: str
    expires: int
    message_ts: int = 0


class Pin(msgspec.Struct, frozen=True):
    """A message pinned in its channel: by whom, when (µs)."""

    channel_id: str
    ts: int
    user_id: str
    created: int


class Star(msgspec.Struct, frozen=True):
    """A message a person saved for later (``stars.add``): when (µs)."""

    user_id: str
    channel_id: str
    ts: int
    created: int


class RetentionPolicy(msgspec.Struct, frozen=True):
    """How many days a workspace keeps its messages (``channel_id`` empty: every
    conversation's), or one conversation's own span, overriding it."""

    team_id: str
    channel_id: str
    days: int


class User(msgspec.Struct, frozen=True):
    id: str
    team_id: str
    name: str
    real_name: str
    is_bot: bool
    bot_id: str | None
    #: Sustained messages/second for this user; ``None`` = the workspace default.
    rate_limit: float | None
    created: int
    deleted: bool = False
    #: Set by the operator (``parley user create --email``); ``""``: none.
    email: str = ""
    #: What the user set of their profile (``users.profile.set``: display name, title,
    #: phone, status), as a JSON object; ``""``: nothing.
    profile: str = ""
    #: Set themselves away (``users.setPresence``): shown away while connected.
    away: bool = False


#: The directory's ``users`` columns, in :class:`User`'s order (:func:`user_from_row`).
USER_COLUMNS = (
    "id, team_id, name, real_name, is_bot, bot_id, rate_limit, created, deleted, email, "
    "profile, away"
)


def user_from_row(row: Sequence) -> User:
    """A user from a row of :data:`USER_COLUMNS`."""
    return User(
        row[0],
        row[1],
        row[2],
        row[3],
        bool(row[4]),
        row[5],
        row[6],
        row[7],
        bool(row[8]),
        row[9] or "",
        row[10] or "",
        bool(row[11]),
    )


class Caller(msgspec.Struct, frozen=True):
    """Who a token speaks for and what it may do."""

    user: User
    #: The token's OAuth scopes (``parley.pipeline.scopes``); ``None`` as stored means
    #: the defaults for the user's kind, which the authenticator fills in.
    scopes: frozenset[str] | None
    revoked: bool = False


class Channel(msgspec.Struct, frozen=True):
    id: str
    team_id: str
    name: str
    is_private: bool
    creator: str
    created: int
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    #: A direct message between two users (``D…``; private, its members fixed).
    is_im: bool = False
    #: A group direct message among 3-9 users (``G…``, Slack's ``mpim``; private, its
    #: members fixed).
    is_mpim: bool = False


#: The directory's ``channels`` columns, in :class:`Channel`'s order
#: (:func:`channel_from_row`), and how many there are.
CHANNEL_COLUMNS = (
    "id, team_id, name, is_private, creator, created, is_archived, topic, purpose, is_im, is_mpim"
)
CHANNEL_WIDTH = 11


def channel_from_row(row: Sequence) -> Channel:
    """A channel from a row of the directory's ``channels`` columns, in the order both
    backends select them (id, team_id, name, is_private, creator, created, is_archived,
    topic, purpose, is_im, is_mpim): :data:`CHANNEL_COLUMNS`."""
    flags = (3, 6, 9, 10)
    return Channel(*(bool(v) if i in flags else v for i, v in enumerate(row[:CHANNEL_WIDTH])))


class AppView(msgspec.Struct, frozen=True):
    """A modal an app opened for a person, or the app's home tab for them (``home``;
    ``parley.apps.views``): shown to ``user_id``, owned by the app of the bot
    ``app_user_id``, opened from ``channel_id`` (where its events go; a home tab's is
    the person's direct message with the bot), ``body`` the view as the app gave it
    (validated JSON). A modal pushed onto another (``views.push``) names it,
    ``previous_id``, and the first of their stack, ``root_id`` (both ``""`` for the
    first). A modal is forgotten a day after it was last written; a home tab is kept."""

    id: str
    team_id: str
    user_id: str
    app_user_id: str
    channel_id: str
    body: str
    hash: str
    external_id: str
    closed: bool = False
    home: bool = False
    previous_id: str = ""
    root_id: str = ""


class UserGroup(msgspec.Struct, frozen=True):
    """A user group (``usergroups.*``): a handle (``@oncall``) that mentions its members."""

    id: str
    team_id: str
    name: str
    handle: str
    description: str
    created_by: str
    created: int
    updated: int
    disabled: bool = False
    #: Its members (read with the group, not a column).
    users: tuple[str, ...] = ()


class StoredFile(msgspec.Struct, frozen=True):
    """A file a user uploads (``parley.files``): announced with its name and length, its
    content received once at its upload URL (whose secret is kept as ``upload_hash``,
    ``""`` once used), then completed (titled, and shared into ``channels``)."""

    id: str
    team_id: str
    user_id: str
    name: str
    title: str
    mimetype: str
    #: The length announced; once ``uploaded``, the content's.
    size: int
    created: int
    upload_hash: str
    uploaded: bool = False
    completed: bool = False
    #: The channels it is shared in (read with the file, not a column).
    channels: tuple[str, ...] = ()


class FileSearch(msgspec.Struct, frozen=True):
    """What ``search.files`` looks for among the files a viewer may read."""

    #: Each in the file's name or its title (lower case; compared without case): a
    #: word, or a phrase's words with a space between (in that order, anything between).
    words: tuple[str, ...] = ()
    #: None of these in either.
    excluded: tuple[str, ...] = ()
    #: Uploaded by one of these (empty: by anyone).
    users: tuple[str, ...] = ()
    #: Shared in one of these (``None``: wherever it is).
    channels: tuple[str, ...] | None = None
    #: Uploaded at ``after_us <= created < before_us`` (microseconds; ``None``: open).
    after_us: int | None = None
    before_us: int | None = None
    #: Oldest first rather than newest first.
    ascending: bool = False


class Reaction(msgspec.Struct, frozen=True):
    name: str
    users: tuple[str, ...]


#: The subtypes of the messages the server writes when a channel's topic, purpose or
#: name changes (Slack's): in the history like any message; never edited or deleted as
#: a person's (``cant_update_message``, ``cant_delete_message``), never a notification.
CHANNEL_NOTICES = frozenset({"channel_topic", "channel_purpose", "channel_name"})


class Message(msgspec.Struct, frozen=True):
    """One message. ``seq`` is its gap-free position in the channel (1, 2, 3, ...);
    ``ts`` is unique in the channel and increases with ``seq``; ``version`` counts edits."""

    id: int
    channel: str
    team: str
    seq: int
    ts: int
    user: str
    bot_id: str | None
    text: str
    thread_ts: int | None = None
    subtype: str | None = None
    client_msg_id: str | None = None
    version: int = 0
    edited_ts: int | None = None
    edited_by: str | None = None
    deleted: bool = False
    reply_count: int = 0
    reply_users: tuple[str, ...] = ()
    latest_reply: int | None = None
    reactions: tuple[Reaction, ...] = ()
    #: Blocks and attachments as stored JSON (``parley.content``), or ``None``.
    rich: str | None = None


class CustomEmoji(msgspec.Struct, frozen=True):
    """One of a workspace's own emoji: an image (``mimetype``), or another name's alias
    (``alias_for``, then no image)."""

    team_id: str
    name: str
    alias_for: str
    mimetype: str
    created_by: str
    created: int


class PostRequest(msgspec.Struct, frozen=True):
    """What the send path asks the store to write; the store assigns id, seq and ts."""

    id: int
    channel: str
    team: str
    user: str
    bot_id: str | None
    text: str
    thread_ts: int | None = None
    reply_broadcast: bool = False
    client_msg_id: str | None = None
    rich: str | None = None
    #: A message the server writes for a change to the channel (``channel_topic``,
    #: ``channel_purpose``, ``channel_name``); ``None`` for a person's or bot's post.
    subtype: str | None = None

    def message(self, seq: int, ts: int, thread_ts: int | None) -> Message:
        """The message this request becomes at ``seq``/``ts``, in ``thread_ts``'s thread
        (the parent's, after a reply to a reply was moved up) (both backends)."""
        return Message(
            id=self.id,
            channel=self.channel,
            team=self.team,
            seq=seq,
            ts=ts,
            user=self.user,
            bot_id=self.bot_id,
            text=self.text,
            thread_ts=thread_ts,
            subtype=self.subtype
            or ("thread_broadcast" if thread_ts is not None and self.reply_broadcast else None),
            client_msg_id=self.client_msg_id,
            rich=self.rich,
        )


class PostResult(msgspec.Struct, frozen=True):
    """The stored message; ``duplicate`` when ``client_msg_id`` matched an earlier one
    (then nothing was written). ``parent`` is the thread parent after this reply."""

    message: Message
    duplicate: bool = False
    parent: Message | None = None


class ReactionChange(msgspec.Struct, frozen=True):
    """A reaction added or removed, with the message it belongs to."""

    message: Message
    name: str
    user: str
    added: bool
    at: int


class Page(msgspec.Struct, frozen=True):
    """A slice of a listing: ``rows``, and ``has_more`` when more follow them."""

    rows: tuple
    has_more: bool


def message_from_row(r: Sequence) -> Message:
    """A message from a row of the ``messages`` columns in schema order (both backends)."""
    return Message(
        id=r[0],
        channel=r[1],
        team=r[2],
        seq=r[3],
        ts=r[4],
        user=r[5],
        bot_id=r[6],
        text=r[7],
        thread_ts=r[8],
        subtype=r[9],
        client_msg_id=r[10],
        version=r[11],
        edited_ts=r[12],
        edited_by=r[13],
        deleted=bool(r[14]),
        reply_count=r[15],
        reply_users=tuple(u for u in r[16].split(",") if u),
        latest_reply=r[17],
        rich=r[18],
    )
