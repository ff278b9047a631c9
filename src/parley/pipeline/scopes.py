"""Stage 1b: what a token may do. OAuth scopes per Web API method, as Slack names them.

Pure data and checks. A token carries a set of scopes, chosen when it is issued
(``parley user create --scopes channels:read,channels:history``; left out, the defaults
for users or bots below). A method names the scopes that allow it: any one of them is
enough, as in Slack, where for example ``conversations.history`` is allowed by
``channels:history`` for public channels and ``groups:history`` for private ones; the
handler then checks the scope of the channel's own kind (:func:`require_for_channel`).

A call without one of its scopes answers ``missing_scope`` with ``needed`` (the scopes
that would allow it, comma-separated) and ``provided`` (the token's), as Slack does.
"""

from __future__ import annotations

from collections.abc import Iterable

from parley.errors import ApiError, Code
from parley.storage.models import Channel

#: Every scope Parley knows.
ALL = frozenset(
    {
        "admin:dlq",
        "admin.conversations:read",
        "admin.conversations:write",
        "admin.teams:write",
        "admin.users:write",
        "bookmarks:read",
        "bookmarks:write",
        "channels:history",
        "channels:join",
        "channels:manage",
        "channels:read",
        "channels:write",
        "chat:write",
        "chat:write.customize",
        "connections:write",
        "dnd:read",
        "emoji:read",
        "reminders:read",
        "reminders:write",
        "dnd:write",
        "email",
        "files:read",
        "files:write",
        "groups:history",
        "groups:read",
        "groups:write",
        "im:history",
        "im:read",
        "im:write",
        "links:read",
        "links:write",
        "mpim:history",
        "mpim:read",
        "mpim:write",
        "openid",
        "pins:read",
        "pins:write",
        "profile",
        "push:write",
        "reactions:read",
        "reactions:write",
        "rtm:stream",
        "search:read",
        "stars:read",
        "stars:write",
        "team:read",
        "usergroups:read",
        "usergroups:write",
        "users:read",
        "users:read.email",
        "users:write",
        "users.profile:read",
        "users.profile:write",
    }
)

#: Operators' scopes: never a default, granted only with ``--scopes`` (``admin:dlq``:
#: the dead letters of the whole installation, ``admin.dlq.*``; ``admin.users:write``,
#: Slack's: deactivating and reactivating the workspace's people, ending their
#: sessions, ``admin.users.*``; ``admin.teams:write``, Slack's: the workspace's own
#: emoji, ``admin.emoji.*``; ``admin.conversations:read`` and ``:write``, Slack's: the
#: conversations' own retention, ``admin.conversations.*CustomRetention``).
ADMIN = frozenset(
    {
        "admin:dlq",
        "admin.users:write",
        "admin.teams:write",
        "admin.conversations:read",
        "admin.conversations:write",
    }
)

#: An app-level token's scope (``apps.connections.open``: Socket Mode); never a default:
#: ``parley user create --bot --app-token`` issues such a token beside the bot's.
APP_LEVEL = frozenset({"connections:write"})

#: An app's scopes for the links on its domains (``link_shared``, ``chat.unfurl``):
#: a bot's, never a person's (Parley's people's tokens belong to no app).
LINKS = frozenset({"links:read", "links:write"})

#: Sign in with Slack's (``openid.connect.userInfo``): granted to an app by the person
#: signing in to it (:mod:`parley.apps.oidc`), never a default.
OPENID = frozenset({"openid", "email", "profile"})

#: A person's token: everything a chat client needs.
DEFAULT_USER = ALL - ADMIN - APP_LEVEL - LINKS - OPENID

#: A bot's token: everything but ``channels:write`` (bots join with ``channels:join``
#: and manage channels with ``channels:manage``, as Slack's bot tokens do),
#: ``search:read`` (search is for people's tokens, as in Slack), ``dnd:write`` and
#: ``push:write`` (Parley's: devices are people's), ``users.profile:write`` (a
#: profile is a person's to set, as in Slack) and ``stars:*`` (saving for later is a
#: person's, as Slack's stars are user tokens').
DEFAULT_BOT = (
    ALL
    - ADMIN
    - APP_LEVEL
    - OPENID
    - {"channels:write", "search:read", "dnd:write", "push:write", "users.profile:write"}
    - {"stars:read", "stars:write"}
)

_READ = ("channels:read", "groups:read", "im:read", "mpim:read")
_HISTORY = ("channels:history", "groups:history", "im:history", "mpim:history")
_WRITE = ("channels:write", "channels:manage", "groups:write", "mpim:write")

#: Method -> the scopes that allow it (any one). A method missing here needs none.
METHODS: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.command": ("chat:write",),
    "chat.meMessage": ("chat:write",),
    "chat.action": ("chat:write",),
    "chat.shortcut": ("chat:write",),
    "bookmarks.add": ("bookmarks:write",),
    "bookmarks.edit": ("bookmarks:write",),
    "bookmarks.remove": ("bookmarks:write",),
    "bookmarks.list": ("bookmarks:read",),
    "chat.update": ("chat:write",),
    "chat.startStream": ("chat:write",),
    "chat.appendStream": ("chat:write",),
    "chat.stopStream": ("chat:write",),
    "assistant.threads.setStatus": ("chat:write",),
    "assistant.threads.start": ("chat:write",),
    "assistant.threads.setTitle": ("chat:write",),
    "assistant.threads.setSuggestedPrompts": ("chat:write",),
    "chat.unfurl": ("links:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": _HISTORY,
    "chat.scheduleMessage": ("chat:write",),
    "chat.scheduledMessages.list": ("chat:write",),
    "chat.deleteScheduledMessage": ("chat:write",),
    "conversations.create": ("channels:manage", "channels:write", "groups:write"),
    "conversations.list": _READ,
    "conversations.info": _READ,
    "conversations.members": _READ,
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
    "conversations.join": ("channels:join", "channels:write"),
    "conversations.open": ("im:write", "mpim:write"),
    "conversations.close": ("im:write", "mpim:write"),
    "conversations.leave": _WRITE,
    "conversations.invite": _WRITE,
    "conversations.archive": _WRITE,
    "conversations.unarchive": _WRITE,
    "conversations.mark": (*_WRITE, "im:write"),
    "conversations.setTopic": _WRITE,
    "conversations.setPurpose": _WRITE,
    "conversations.rename": _WRITE,
    "conversations.kick": _WRITE,
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.delete": ("files:write",),
    "files.sharedPublicURL": ("files:write",),
    "files.revokePublicURL": ("files:write",),
    "files.info": ("files:read",),
    "files.list": ("files:read",),
    "pins.add": ("pins:write",),
    "pins.remove": ("pins:write",),
    "pins.list": ("pins:read",),
    "stars.add": ("stars:write",),
    "stars.remove": ("stars:write",),
    "stars.list": ("stars:read",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "reactions.get": ("reactions:read",),
    "reactions.list": ("reactions:read",),
    "rtm.connect": ("rtm:stream",),
    "apps.connections.open": ("connections:write",),
    "openid.connect.userInfo": ("openid",),
    "search.messages": ("search:read",),
    "search.files": ("search:read",),
    "search.all": ("search:read",),
    "push.register": ("push:write",),
    "push.unregister": ("push:write",),
    "push.list": ("push:write",),
    "push.getPrefs": ("push:write",),
    "push.setPrefs": ("push:write",),
    "dnd.info": ("dnd:read",),
    "dnd.teamInfo": ("dnd:read",),
    "dnd.setSnooze": ("dnd:write",),
    "dnd.endSnooze": ("dnd:write",),
    "dnd.endDnd": ("dnd:write",),
    "dnd.setSchedule": ("dnd:write",),
    "admin.dlq.list": ("admin:dlq",),
    "admin.dlq.info": ("admin:dlq",),
    "admin.dlq.replay": ("admin:dlq",),
    "admin.dlq.purge": ("admin:dlq",),
    "admin.users.remove": ("admin.users:write",),
    "admin.conversations.setCustomRetention": ("admin.conversations:write",),
    "admin.conversations.getCustomRetention": ("admin.conversations:read",),
    "admin.conversations.removeCustomRetention": ("admin.conversations:write",),
    "admin.emoji.add": ("admin.teams:write",),
    "admin.emoji.addAlias": ("admin.teams:write",),
    "admin.emoji.remove": ("admin.teams:write",),
    "admin.emoji.list": ("admin.teams:write",),
    "emoji.list": ("emoji:read",),
    "reminders.add": ("reminders:write",),
    "reminders.complete": ("reminders:write",),
    "reminders.delete": ("reminders:write",),
    "reminders.list": ("reminders:read",),
    "reminders.info": ("reminders:read",),
    "admin.users.assign": ("admin.users:write",),
    "admin.users.session.reset": ("admin.users:write",),
    "team.info": ("team:read",),
    "team.profile.get": ("users.profile:read",),
    "users.list": ("users:read",),
    "users.info": ("users:read",),
    "users.conversations": _READ,
    "users.getPresence": ("users:read",),
    "users.setPresence": ("users:write",),
    "users.lookupByEmail": ("users:read.email",),
    "usergroups.create": ("usergroups:write",),
    "usergroups.update": ("usergroups:write",),
    "usergroups.disable": ("usergroups:write",),
    "usergroups.enable": ("usergroups:write",),
    "usergroups.users.update": ("usergroups:write",),
    "usergroups.list": ("usergroups:read",),
    "usergroups.users.list": ("usergroups:read",),
    "bots.info": ("users:read",),
    "users.profile.get": ("users.profile:read",),
    "users.profile.set": ("users.profile:write",),
    "users.setPhoto": ("users.profile:write",),
    "users.deletePhoto": ("users.profile:write",),
}

#: For the channel families: the scope a public channel, a private one, a direct
#: message or a group one needs.
_BY_KIND = {
    "read": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "write": ("channels:write", "groups:write", "im:write", "mpim:write"),
}

#: The kinds of channel, as :func:`require_for_channel` takes them.
PUBLIC, PRIVATE, IM, MPIM = "public", "private", "im", "mpim"


def kind_of(channel: Channel) -> str:
    """``channel``'s kind: :data:`IM`, :data:`MPIM`, :data:`PRIVATE` or :data:`PUBLIC`."""
    if channel.is_im:
        return IM
    if channel.is_mpim:
        return MPIM
    return PRIVATE if channel.is_private else PUBLIC


def parse(text: str) -> frozenset[str]:
    """``"channels:read,channels:history"`` -> the set; unknown names raise ValueError
    naming them (an empty string is an empty set: a token that can only ``auth.test``)."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - ALL)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(sorted(ALL))}")
    return frozenset(names)


def encode(scopes: Iterable[str]) -> str:
    """The stored and displayed form: sorted, comma-separated."""
    return ",".join(sorted(scopes))


def default(is_bot: bool) -> frozenset[str]:
    return DEFAULT_BOT if is_bot else DEFAULT_USER


def _missing(needed: Iterable[str], provided: frozenset[str]) -> ApiError:
    return ApiError(
        Code.MISSING_SCOPE, data={"needed": ",".join(needed), "provided": encode(provided)}
    )


def require(method: str, provided: frozenset[str]) -> None:
    """Raises ``missing_scope`` unless ``provided`` holds one of ``method``'s scopes."""
    needed = METHODS.get(method)
    if needed is not None and provided.isdisjoint(needed):
        raise _missing(needed, provided)


def require_for_channel(
    family: str, kind: str, provided: frozenset[str], *, manage: bool = True
) -> None:
    """Raises ``missing_scope`` unless ``provided`` allows ``family`` (``read``,
    ``history`` or ``write``) on a channel of ``kind`` (:func:`kind_of`). ``write`` on a
    public channel is also allowed by ``channels:manage`` (a bot's way) unless ``manage``
    is False.

    Call it only once the caller may see the channel, so a non-member of a private
    channel still gets ``channel_not_found``, never a hint that it exists.
    """
    public, private, im, mpim = _BY_KIND[family]
    if kind == IM:
        ok: tuple[str, ...] = (im,)
    elif kind == MPIM:
        ok = (mpim,)
    elif kind == PRIVATE:
        ok = (private,)
    elif family == "write" and manage:
        ok = (public, "channels:manage")
    else:
        ok = (public,)
    if provided.isdisjoint(ok):
        raise _missing(ok, provided)
