"""Administrative operations on a data dir (or the MySQL directory of ``PARLEY_SHARDS``),
for the CLI and for tests. They open the
directory file directly, so they work whether or not a server is running on it.

Ids made here use Snowflake worker :data:`ADMIN_WORKER` so they never collide with those
of a server process (worker ids 0-1022).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from parley.config import Settings
from parley.errors import ApiError, Code
from parley.ids import Kind, Snowflake, encode_id, wall_us
from parley.pipeline import passwords
from parley.pipeline import scopes as scope_names
from parley.pipeline.accounts import ACTIVE, JOINED, SESSIONS, notice
from parley.pipeline.auth import hash_token, new_app_token, new_token
from parley.resilience.retries import describe
from parley.storage.models import (
    AppCommand,
    AppShortcut,
    Channel,
    EventApp,
    OAuthApp,
    RetentionPolicy,
    StoredFile,
    Team,
    User,
)
from parley.storage.sqlite import backup as sqlite_backup
from parley.storage.sqlite import directory as sqlite_directory

ADMIN_WORKER = 1023
DEFAULT_WORKSPACE = "parley"

_ids = Snowflake(ADMIN_WORKER)


def _directory(settings: Settings) -> ModuleType:
    """The directory ops of the configured backend: the same names on SQLite and MySQL."""
    if settings.shard_urls:
        from parley.storage.mysql import directory

        return directory
    return sqlite_directory


class AdminError(Exception):
    """An admin command that cannot be done; the message says why."""


@dataclass(frozen=True)
class Credentials:
    team_id: str
    user_id: str
    token: str
    bot_id: str | None = None
    #: An app-level token (``xapp-``, scope ``connections:write``) for Socket Mode.
    app_token: str | None = None

    def as_dict(self) -> dict:
        out = {"team_id": self.team_id, "user_id": self.user_id, "token": self.token}
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.app_token:
            out["app_token"] = self.app_token
        return out


def _domain(name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return slug or "workspace"


def create_workspace(settings: Settings, name: str) -> Team:
    d = _directory(settings)
    if not name.strip() or len(name) > 100:
        raise AdminError("a workspace name is 1-100 characters")
    team = Team(encode_id(Kind.TEAM, _ids.next()), name.strip(), _domain(name), wall_us())
    try:
        return d.admin(settings, d.op_create_team, team)
    except ApiError as exc:
        raise AdminError(f"a workspace named {name!r} already exists") from exc


def resolve_workspace(settings: Settings, team_id: str | None) -> Team:
    """``team_id``'s workspace; without one, the only workspace, made if there is none."""
    d = _directory(settings)
    teams = d.admin_read(settings, d.q_teams)
    if team_id:
        for team in teams:
            if team.id == team_id:
                return team
        raise AdminError(f"no workspace {team_id}")
    if not teams:
        return create_workspace(settings, DEFAULT_WORKSPACE)
    if len(teams) > 1:
        raise AdminError("several workspaces exist: pass --team")
    return teams[0]


#: What passes for an email address: something, ``@``, a domain with a dot.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_user(
    settings: Settings,
    name: str,
    *,
    team_id: str | None = None,
    bot: bool = False,
    rate_limit: float | None = None,
    scopes: str | None = None,
    password: str | None = None,
    app_token: bool = False,
    email: str | None = None,
    announce: bool = True,
) -> Credentials:
    """A new user and its first token; a person (not a bot) is announced to the team as
    Slack's ``team_join`` by a running server within a second (``announce`` false: not;
    for load generators' own users). ``scopes``: the token's scopes, comma-separated as
    Slack writes them (``None``: the defaults for users or bots, see
    :mod:`parley.pipeline.scopes`). ``rate_limit``: the user's own messages/second (Slack's
    enterprise custom limits go to 100/s; Parley allows up to 100,000 for trusted
    integrations and load generators). ``password``: lets the user sign in to the web
    client (stored as a slow hash, :mod:`parley.pipeline.passwords`). ``app_token``: a bot
    also gets an app-level token (``xapp-``), which only opens Socket Mode connections
    (``apps.connections.open``). ``email``: the user's address (lower-cased; one user a
    workspace), which ``users.lookupByEmail`` finds."""
    d = _directory(settings)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._\-]{0,79}", name):
        raise AdminError("a user name is 1-80 of a-z 0-9 . _ - and starts with a letter or digit")
    if rate_limit is not None and not 0 < rate_limit <= 100_000:
        raise AdminError("--rate-limit is messages/second, above 0")
    if app_token and not bot:
        raise AdminError("--app-token is for a bot (--bot): an app's connection is its bot's")
    chosen = _scopes(scopes)
    stored = _password(password)
    team = resolve_workspace(settings, team_id)
    address = (email or "").strip().lower()
    if address and (len(address) > 254 or not EMAIL.match(address)):
        raise AdminError(f"{email!r} is not an email address")
    if address and d.admin_read(settings, d.q_user_by_email, team.id, address) is not None:
        raise AdminError(f"a user of {team.id} already has the address {address}")
    user = User(
        id=encode_id(Kind.USER, _ids.next()),
        team_id=team.id,
        name=name,
        real_name=name,
        is_bot=bot,
        bot_id=encode_id(Kind.BOT, _ids.next()) if bot else None,
        rate_limit=rate_limit,
        created=wall_us(),
        email=address,
    )
    token = new_token(bot)
    try:
        joined = notice(user.id, JOINED, user.created) if announce and not bot else None
        d.admin(settings, d.op_create_user, user, hash_token(token), chosen, joined)
        if stored is not None:
            d.admin(settings, d.op_set_password, user.id, stored)
    except ApiError as exc:
        if exc.code == Code.NAME_TAKEN:
            raise AdminError(f"a user named {name!r} already exists in {team.id}") from exc
        raise AdminError(exc.code) from exc
    app = issue_app_token(settings, team.id, name) if app_token else None
    return Credentials(team.id, user.id, token, user.bot_id, app)


def _password(password: str | None) -> str | None:
    if password is None:
        return None
    try:
        return passwords.hash_password(password)
    except ValueError as exc:
        raise AdminError(str(exc)) from exc


def set_password(settings: Settings, team_id: str, name: str, password: str) -> None:
    """Sets (or replaces) the web sign-in password of an existing user."""
    d = _directory(settings)
    user = d.admin_read(settings, d.q_user_by_name, team_id, name)
    if user is None:
        raise AdminError(f"no user {name!r} in {team_id}")
    d.admin(settings, d.op_set_password, user.id, _password(password))


def find_user(settings: Settings, team_id: str | None, who: str) -> User:
    """The user ``who`` names: their id (``U…``), or their name in the workspace
    ``team_id`` (which may be left out when there is one)."""
    d = _directory(settings)
    if re.fullmatch(r"U[A-Z0-9]+", who):
        user = d.admin_read(settings, d.q_user, who)
        if user is not None and (team_id is None or user.team_id == team_id):
            return user
        raise AdminError(f"no user {who}")
    team = resolve_workspace(settings, team_id)
    user = d.admin_read(settings, d.q_user_by_name, team.id, who)
    if user is None:
        raise AdminError(f"no user {who!r} in {team.id}")
    return user


def set_active(settings: Settings, team_id: str | None, who: str, active: bool) -> User:
    """``parley user deactivate`` / ``reactivate``: as ``admin.users.remove`` and
    ``admin.users.assign`` (:mod:`parley.pipeline.accounts`); a running server's workers
    apply it within ``PARLEY_SCHEDULE_INTERVAL`` seconds. The user as they now are."""
    d = _directory(settings)
    user = find_user(settings, team_id, who)
    d.admin(settings, d.op_set_deleted, user.id, not active, notice(user.id, ACTIVE, wall_us()))
    return d.admin_read(settings, d.q_user, user.id)


def change_password(settings: Settings, team_id: str | None, who: str, password: str) -> int:
    """``parley user password``: a new web sign-in password, and every web session the
    user had ended (as ``admin.users.session.reset``); how many were live."""
    d = _directory(settings)
    user = find_user(settings, team_id, who)
    d.admin(settings, d.op_set_password, user.id, _password(password))
    return d.admin(settings, d.op_end_sessions, user.id, notice(user.id, SESSIONS, wall_us()))


def list_users(settings: Settings, team_id: str | None) -> list[User]:
    """``parley user list``: the workspace's users, bots and deactivated ones included."""
    d = _directory(settings)
    team = resolve_workspace(settings, team_id)
    found: list[User] = []
    while True:
        page = d.admin_read(settings, d.q_users, team.id, found[-1].id if found else "", 1000)
        found.extend(page.rows)
        if not page.has_more:
            return found


def backup(settings: Settings, dest: str) -> dict:
    """``parley backup DEST``: the embedded data dir copied into ``dest`` while it serves
    (:mod:`parley.storage.sqlite.backup`); what was copied."""
    return _copied(settings, "backup", dest, lambda d, o: sqlite_backup.backup(d, o))


def restore(settings: Settings, src: str) -> dict:
    """``parley restore SRC``: the backup at ``src``, checked, copied into the (empty,
    unserved) data dir; what was copied."""
    return _copied(settings, "restored", src, lambda d, o: sqlite_backup.restore(o, d))


def _copied(settings: Settings, key: str, where: str, copy) -> dict:
    if settings.shard_urls:
        raise AdminError(
            "the data is in MariaDB (PARLEY_SHARDS): back each database up with "
            "mariadb-dump --single-transaction or mariabackup"
        )
    data_dir, other = Path(settings.data_dir), Path(where)
    try:
        manifest = copy(data_dir, other)
    except (sqlite_backup.BackupError, OSError, sqlite3.Error) as exc:
        raise AdminError(str(exc)) from exc
    return {
        key: str(other.resolve()),
        "data_dir": str(data_dir.resolve()),
        "created": manifest["created"],
        "files": [f["name"] for f in manifest["files"]],
        "bytes": sum(f["bytes"] for f in manifest["files"]),
    }


def import_slack(settings: Settings, path: str, team_id: str | None) -> dict:
    """``parley import slack EXPORT.zip``: Slack's export written into the workspace
    (:mod:`parley.slackexport`), then the search index rebuilt; what was done. The server
    must be stopped: on embedded defaults the store holds the data dir's lock meanwhile."""
    from parley.slackexport import read as slack_export

    try:
        export = slack_export.read(path)
    except slack_export.ExportError as exc:
        raise AdminError(str(exc)) from exc
    team = resolve_workspace(settings, team_id)
    # the store takes the data dir's lock: ConfigError, naming the server, when one runs
    report = asyncio.run(_load(settings, export, team))
    return {"team_id": team.id, **dataclasses.asdict(report)}


def export_slack(settings: Settings, path: str, team_id: str | None) -> dict:
    """``parley export slack OUT.zip``: the workspace as Slack's workspace export
    (:mod:`parley.slackexport.write`); what was written. The server must be stopped (or
    ``settings`` name a backup's copy): the store holds the data dir's lock."""
    team = resolve_workspace(settings, team_id)
    written = asyncio.run(_write(settings, team, Path(path)))
    return {"team_id": team.id, "export": str(Path(path).resolve()), **dataclasses.asdict(written)}


async def _write(settings: Settings, team: Team, path: Path):
    from parley.app import open_storage
    from parley.slackexport.write import write

    directory, store = await open_storage(settings)
    try:
        return await write(directory, store, team, path)
    finally:
        await store.close()
        await directory.close()


async def _load(settings: Settings, export, team: Team):
    from parley.app import open_search, open_storage
    from parley.search.indexer import rebuild
    from parley.slackexport.load import ImportClock, Loader

    clock = ImportClock(wall_us)
    # each post commits without waiting for the disk (WAL, NORMAL): a crash loses at
    # most the last few, and importing again writes what is missing, nothing twice
    quick = dataclasses.replace(settings, sqlite_synchronous="NORMAL")
    directory, store = await open_storage(quick, clock_us=clock)
    try:
        report = await Loader(directory, store, team, clock, _ids, wall_us).load(export)
        index = await open_search(settings, store)
        try:
            await rebuild(store, index)
        finally:
            await index.close()
        return report
    finally:
        await store.close()
        await directory.close()


def _scopes(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return scope_names.encode(scope_names.parse(text))
    except ValueError as exc:
        raise AdminError(str(exc)) from exc


def issue_token(
    settings: Settings, team_id: str, name: str, scopes: str | None = None
) -> Credentials:
    """A new token for an existing user (the old ones stay valid)."""
    d = _directory(settings)
    chosen = _scopes(scopes)
    user = d.admin_read(settings, d.q_user_by_name, team_id, name)
    if user is None:
        raise AdminError(f"no user {name!r} in {team_id}")
    token = new_token(user.is_bot)
    d.admin(settings, d.op_add_token, user.id, hash_token(token), wall_us(), chosen)
    return Credentials(team_id, user.id, token, user.bot_id)


def issue_app_token(settings: Settings, team_id: str, name: str) -> str:
    """A new app-level token (``xapp-``, scope ``connections:write``: it only opens Socket
    Mode connections) for the bot ``name``'s app."""
    d = _directory(settings)
    user = d.admin_read(settings, d.q_user_by_name, team_id, name)
    if user is None or not user.is_bot:
        raise AdminError(f"no bot {name!r} in {team_id}: an app's connection is its bot's")
    token = new_app_token()
    level = scope_names.encode(scope_names.APP_LEVEL)
    d.admin(settings, d.op_add_token, user.id, hash_token(token), wall_us(), level)
    return token


def ensure_channel(
    settings: Settings, team_id: str, name: str, creator: str, members: list[str]
) -> Channel:
    """The channel ``name`` (created if missing) with ``members`` in it."""
    d = _directory(settings)
    channel = d.admin_read(settings, d.q_channel_by_name, team_id, name)
    if channel is None:
        channel = Channel(
            encode_id(Kind.CHANNEL, _ids.next()), team_id, name, False, creator, wall_us()
        )
        d.admin(settings, d.op_create_channel, channel)
    d.admin(settings, d.op_add_members, channel.id, members, wall_us())
    return channel


@dataclass(frozen=True)
class Demo:
    team: Team
    alice: Credentials
    bob: Credentials
    alice_bot: Credentials
    bob_bot: Credentials
    general: Channel
    #: alice's and bob's web sign-in password (new every call)
    password: str
    #: alice-bot's app-level token, for a Slack app over Socket Mode (new every call)
    app_token: str


def demo(settings: Settings) -> Demo:
    """A demo workspace: users alice and bob and bots alice-bot and bob-bot (for RTM
    clients, which need bot tokens), all in #general; fresh tokens every call."""
    d = _directory(settings)
    teams = [t for t in d.admin_read(settings, d.q_teams) if t.domain == "demo"]
    team = teams[0] if teams else create_workspace(settings, "demo")
    creds = {}
    for name, bot in (("alice", False), ("bob", False), ("alice-bot", True), ("bob-bot", True)):
        if d.admin_read(settings, d.q_user_by_name, team.id, name) is None:
            creds[name] = create_user(settings, name, team_id=team.id, bot=bot)
        else:
            creds[name] = issue_token(settings, team.id, name)
    general = ensure_channel(
        settings, team.id, "general", creds["alice"].user_id, [c.user_id for c in creds.values()]
    )
    password = secrets.token_urlsafe(9)
    for name in ("alice", "bob"):
        set_password(settings, team.id, name, password)
    app_token = issue_app_token(settings, team.id, "alice-bot")
    return Demo(
        team,
        creds["alice"],
        creds["bob"],
        creds["alice-bot"],
        creds["bob-bot"],
        general,
        password,
        app_token,
    )


# -- dead letters (parley dlq) -------------------------------------------------------------


def dead_letters(settings: Settings, step: str | None, limit: int = 1000) -> list[dict]:
    """``parley dlq list``: the dead letters (of ``step``, or all), oldest step first."""
    d = _directory(settings)
    return [
        describe(x, full=False) for x in d.admin_read(settings, d.q_dead_letters, step, "", limit)
    ]


def dead_letter(settings: Settings, step: str, item: str) -> dict:
    """``parley dlq show``: one dead letter with its error history and payload."""
    d = _directory(settings)
    letter = d.admin_read(settings, d.q_dead_letter, step, item)
    if letter is None:
        raise AdminError(f"no dead letter {step}/{item}")
    return describe(letter, full=True)


def replay(settings: Settings, step: str, items: list[str] | None) -> int:
    """``parley dlq replay``: dead letters back to the retries, due now (idempotent: a
    letter replayed is no longer one, so replaying again moves nothing)."""
    d = _directory(settings)
    return d.admin(settings, d.op_replay, step, items, wall_us())


def purge(settings: Settings, step: str, items: list[str] | None) -> int:
    """``parley dlq purge``: deletes dead letters."""
    d = _directory(settings)
    return d.admin(settings, d.op_purge, step, items)


def register_event_app(
    settings: Settings, user_id: str, request_url: str, *, verify: bool = True
) -> dict:
    """Has the bot ``user_id``'s app get the Events API over HTTP at ``request_url``
    (:mod:`parley.apps.events`): first, with ``verify``, the URL must answer Slack's
    ``url_verification`` challenge (signed, as every event is). Keeps the app's signing
    secret when it had one (a new URL does not break the running app), else makes one.
    What it printed: the bot, the URL and the signing secret."""
    import httpx

    from parley.apps.events import signature

    d = _directory(settings)
    user = _app_bot(settings, user_id, "the Events API goes to a bot's app")
    _check_url(request_url)
    secret = _app_secret(settings, user_id)
    if verify:
        challenge = secrets.token_urlsafe(24)
        body = json.dumps({"token": "", "challenge": challenge, "type": "url_verification"})
        stamp = str(int(wall_us() // 1_000_000))
        headers = {
            "content-type": "application/json",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature(secret, stamp, body.encode()),
        }
        try:
            answer = httpx.post(request_url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise AdminError(f"the request URL did not answer: {exc}") from exc
        if answer.status_code != 200 or challenge not in answer.text:
            raise AdminError(
                f"the request URL did not return the challenge (HTTP {answer.status_code})"
            )
    app = EventApp(user.id, user.team_id, request_url, secret)
    d.admin(settings, d.op_set_event_app, app, wall_us())
    return {"user_id": user.id, "request_url": request_url, "signing_secret": secret}


#: A slash command's name: a slash, then letters, digits, ``-`` and ``_`` (Slack's).
COMMAND_NAME = re.compile(r"^/[a-z0-9_\-]{1,31}$")


def register_command(
    settings: Settings,
    user_id: str,
    command: str,
    request_url: str = "",
    *,
    description: str = "",
    usage_hint: str = "",
) -> dict:
    """Gives the bot ``user_id``'s app the slash command ``command`` in its team
    (:mod:`parley.apps.commands`): POSTed to ``request_url``, signed with the app's
    signing secret (the one its Events API registration has, if any), or with no URL
    sent over the app's Socket Mode connection. Registering a command the team has
    already moves it to this app. What it printed: the command, the bot, the URL and the
    signing secret."""
    d = _directory(settings)
    user = _app_bot(settings, user_id, "a slash command is served by a bot's app")
    command = command.lower()
    if not COMMAND_NAME.match(command):
        raise AdminError("a command is a slash and 1 to 31 letters, digits, - or _: /deploy")
    if request_url:
        _check_url(request_url)
    secret = _app_secret(settings, user_id)
    cmd = AppCommand(user.team_id, command, user.id, request_url, secret, description, usage_hint)
    d.admin(settings, d.op_set_command, cmd, wall_us())
    return {
        "command": command,
        "user_id": user.id,
        "request_url": request_url or None,
        "socket_mode": not request_url,
        "signing_secret": secret,
    }


def register_shortcut(
    settings: Settings,
    user_id: str,
    callback_id: str,
    name: str,
    *,
    kind: str = "global",
    description: str = "",
) -> dict:
    """Gives the bot ``user_id``'s app a shortcut (:mod:`parley.apps.shortcuts`):
    ``global`` (run from anywhere) or ``message`` (run on a message), listed as ``name``;
    its app gets ``callback_id`` (Bolt's ``@app.shortcut(callback_id)``) over Socket Mode
    or at its interactivity URL. Registering the app's ``callback_id`` again replaces
    it. What it printed: the shortcut and the bot."""
    d = _directory(settings)
    user = _app_bot(settings, user_id, "a shortcut is served by a bot's app")
    from parley.apps.shortcuts import KINDS

    if kind not in KINDS:
        raise AdminError(f"a shortcut is one of {', '.join(KINDS)}")
    if not 0 < len(callback_id) <= 255 or not 0 < len(name.strip()) <= 80:
        raise AdminError("a callback id is 1 to 255 characters, a name 1 to 80")
    if len(description) > 1000:
        raise AdminError("a description is at most 1,000 characters")
    shortcut = AppShortcut(user.team_id, user.id, callback_id, kind, name.strip(), description)
    d.admin(settings, d.op_set_shortcut, shortcut, wall_us())
    return {"callback_id": callback_id, "kind": kind, "name": shortcut.name, "user_id": user.id}


def register_interactivity(settings: Settings, user_id: str, request_url: str) -> dict:
    """Has the bot ``user_id``'s app get its interactions (a button of its message
    pressed: ``block_actions``) POSTed to ``request_url``, signed with the app's signing
    secret, instead of over its Socket Mode connection (:mod:`parley.apps.commands`).
    What it printed: the bot, the URL and the signing secret."""
    d = _directory(settings)
    user = _app_bot(settings, user_id, "interactions go to a bot's app")
    _check_url(request_url)
    secret = _app_secret(settings, user_id)
    app = EventApp(user.id, user.team_id, request_url, secret)
    d.admin(settings, d.op_set_interactivity, app, wall_us())
    return {"user_id": user.id, "request_url": request_url, "signing_secret": secret}


def set_unfurl_domains(settings: Settings, user_id: str, domains: list[str]) -> dict:
    """Has the bot ``user_id``'s app unfurl the links on ``domains`` (and their
    subdomains; :mod:`parley.apps.unfurls`): it gets ``link_shared`` for them and
    answers with ``chat.unfurl``; they replace the ones it had (none: it unfurls no
    more). Running servers see them within seconds. What it printed: the bot and its
    domains."""
    from parley.apps.unfurls import MAX_DOMAINS, domain

    d = _directory(settings)
    user = _app_bot(settings, user_id, "links are unfurled by a bot's app")
    try:
        names = sorted({domain(text) for text in domains})
    except ValueError as exc:
        raise AdminError(f"{exc}: give host names, such as example.com") from None
    if len(names) > MAX_DOMAINS:
        raise AdminError(f"an app unfurls at most {MAX_DOMAINS} domains")
    d.admin(settings, d.op_set_unfurl_domains, user.id, user.team_id, names, wall_us())
    return {"user_id": user.id, "domains": names}


def register_oauth(
    settings: Settings,
    user_id: str,
    redirect_urls: list[str],
    scopes: str,
    user_scopes: str = "",
    *,
    new_secret: bool = False,
) -> dict:
    """Lets people install the bot ``user_id``'s app with OAuth
    (:mod:`parley.apps.oauth`): it may send them back to ``redirect_urls`` and ask for
    ``scopes`` for its bot and ``user_scopes`` of theirs. The first time, or with
    ``new_secret``, it gets a client secret, printed then only (Parley keeps its hash);
    again, its URLs and scopes change and its client id and secret stay. Running servers
    see it at once. What it printed: the bot, ``client_id``, the URLs and scopes, and
    ``client_secret`` when new."""
    from parley.apps import oauth

    d = _directory(settings)
    user = _app_bot(settings, user_id, "an app installed with OAuth is a bot's")
    if not 0 < len(redirect_urls) <= oauth.MAX_REDIRECT_URLS:
        raise AdminError(f"give 1 to {oauth.MAX_REDIRECT_URLS} redirect URLs")
    for url in redirect_urls:
        _check_url(url)
        if not oauth.redirect_allowed(url, [url]):
            raise AdminError(f"{url}: a redirect URL has no fragment and no ..")
    try:
        bot_scopes = oauth.allowed_scopes(scopes, user=False)
        person_scopes = oauth.allowed_scopes(user_scopes, user=True)
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    if not bot_scopes and not person_scopes:
        raise AdminError("give the scopes the app may ask for (--scopes, --user-scopes)")
    known = d.admin_read(settings, d.q_oauth_app_of, user.id)
    secret = oauth.new_secret() if known is None or new_secret else None
    app = OAuthApp(
        user.id,
        user.team_id,
        known.client_id if known else oauth.new_client_id(),
        oauth.digest(secret) if secret else known.secret_hash,
        tuple(dict.fromkeys(redirect_urls)),
        bot_scopes,
        person_scopes,
    )
    d.admin(settings, d.op_set_oauth_app, app, wall_us())
    out = {
        "user_id": user.id,
        "client_id": app.client_id,
        "redirect_urls": list(app.redirect_urls),
        "scopes": bot_scopes,
        "user_scopes": person_scopes,
    }
    if secret:
        out["client_secret"] = secret
    return out


def list_apps(settings: Settings) -> list[dict]:
    """Every bot's app with what is registered for it (``parley app list``): its Events
    API and interactivity URLs, slash commands, shortcuts, unfurl domains and OAuth
    registration; never its signing or client secret. By bot id."""
    from parley.storage.app_rows import APP_PARTS

    d = _directory(settings)
    parts = d.admin_read(settings, d.q_app_parts)
    apps: dict[str, dict] = {}

    def app(user_id: str) -> dict:
        if user_id not in apps:
            user = d.admin_read(settings, d.q_user, user_id)
            apps[user_id] = {"user_id": user_id, "name": user.name if user else ""}
            apps[user_id].update({part: [] for part in APP_PARTS if part not in _URL_PARTS})
        return apps[user_id]

    for user_id, url in parts["events"]:
        app(user_id)["events"] = url
    for user_id, url in parts["interactivity"]:
        app(user_id)["interactivity"] = url
    for user_id, command, url in parts["commands"]:
        app(user_id)["commands"].append({"command": command, "url": url})
    for user_id, callback_id, kind, name in parts["shortcuts"]:
        app(user_id)["shortcuts"].append({"callback_id": callback_id, "kind": kind, "name": name})
    for user_id, domain in parts["unfurl"]:
        app(user_id)["unfurl"].append(domain)
    for user_id, client_id, urls, scopes, user_scopes in parts["oauth"]:
        app(user_id)["oauth"] = {
            "client_id": client_id,
            "redirect_urls": json.loads(urls),
            "scopes": scopes,
            "user_scopes": user_scopes,
        }
    return [apps[k] for k in sorted(apps)]


#: The parts of an app that are one registration each, not a list.
_URL_PARTS = ("events", "interactivity", "oauth")


def remove_app(settings: Settings, user_id: str, parts: list[str] | None = None) -> dict:
    """Forgets what is registered for the bot ``user_id``'s app (``parley app
    remove``): every part of :data:`~parley.storage.app_rows.APP_PARTS`, or only
    ``parts``. The bot stays (``parley user deactivate`` removes it); its signing
    secret goes with the last registration that kept it. Running servers see it within
    seconds. What it printed: the bot, the parts and how many registrations went."""
    from parley.storage.app_rows import APP_PARTS

    parts = sorted(set(parts or APP_PARTS))
    unknown = [p for p in parts if p not in APP_PARTS]
    if unknown:
        raise AdminError(f"an app's parts are {', '.join(APP_PARTS)}, not {', '.join(unknown)}")
    d = _directory(settings)
    removed = d.admin(settings, d.op_remove_app_parts, user_id, parts)
    return {"user_id": user_id, "parts": parts, "removed": removed}


def _app_bot(settings: Settings, user_id: str, why: str) -> User:
    """The bot ``user_id`` (an app is a bot), else :class:`AdminError` saying ``why``."""
    d = _directory(settings)
    user = d.admin_read(settings, d.q_user, user_id)
    if user is None or user.deleted or not user.is_bot:
        raise AdminError(f"{user_id} is not a bot: {why}")
    return user


def _check_url(request_url: str) -> None:
    if not request_url.startswith(("http://", "https://")):
        raise AdminError("the request URL must be http:// or https://")


def _app_secret(settings: Settings, user_id: str) -> str:
    """The app's one signing secret: the one it has, else a new one."""
    from parley.apps.events import new_secret

    d = _directory(settings)
    return d.admin_read(settings, d.q_app_secret, user_id) or new_secret()


def _conversation(settings: Settings, team: Team, channel: str) -> Channel:
    """The workspace's conversation with id ``channel``, or a channel named so."""
    d = _directory(settings)
    found = d.admin_read(settings, d.q_channel, channel)
    if found is None or found.team_id != team.id:
        found = d.admin_read(settings, d.q_channel_by_name, team.id, channel.lstrip("#"))
    if found is None:
        raise AdminError(f"no conversation {channel} in workspace {team.id}")
    return found


def set_retention(
    settings: Settings, days: int, channel: str | None = None, team_id: str | None = None
) -> dict:
    """Keeps the workspace's messages (or, with ``channel``, one conversation's) for
    ``days`` days (:mod:`parley.retention`): running servers remove older ones at their
    next sweep, within ``PARLEY_RETENTION_INTERVAL`` seconds. What it printed."""
    from parley.retention import MAX_DAYS, MIN_DAYS

    if not MIN_DAYS <= days <= MAX_DAYS:
        raise AdminError(f"--days is {MIN_DAYS} to {MAX_DAYS}")
    d = _directory(settings)
    team = resolve_workspace(settings, team_id)
    channel_id = _conversation(settings, team, channel).id if channel else ""
    d.admin(settings, d.retention_ops.op_set_retention, RetentionPolicy(team.id, channel_id, days))
    return {"team_id": team.id, "channel_id": channel_id or None, "days": days}


def remove_retention(
    settings: Settings, channel: str | None = None, team_id: str | None = None
) -> dict:
    """Ends the workspace's retention (messages are then kept for ever, but in the
    conversations with their own) or, with ``channel``, that conversation's own (it then
    follows the workspace's). What it printed."""
    d = _directory(settings)
    team = resolve_workspace(settings, team_id)
    channel_id = _conversation(settings, team, channel).id if channel else ""
    removed = d.admin(settings, d.retention_ops.op_remove_retention, team.id, channel_id)
    return {"team_id": team.id, "channel_id": channel_id or None, "removed": removed}


def list_retention(settings: Settings) -> list[dict]:
    """Every workspace's retention policies, the workspace's own first."""
    d = _directory(settings)
    return [
        {"team_id": p.team_id, "channel_id": p.channel_id or None, "days": p.days}
        for p in d.admin_read(settings, d.retention_ops.q_retention)
    ]


def sweep_retention(settings: Settings) -> dict:
    """``parley retention sweep``: one sweep now, as a running server's worker does
    every ``PARLEY_RETENTION_INTERVAL`` seconds; what it removed. On embedded defaults
    the server must be stopped (its store holds the data dir's lock)."""
    return asyncio.run(_sweep(settings))


async def _sweep(settings: Settings) -> dict:
    from parley.app import open_recent, open_search, open_storage
    from parley.retention import Retention

    async with contextlib.AsyncExitStack() as opened:  # closed in the reverse order
        directory, store = await open_storage(settings)
        opened.push_async_callback(directory.close)
        opened.push_async_callback(store.close)
        search = await open_search(settings, store)
        opened.push_async_callback(search.close)
        recent, close_recent = await open_recent(settings, store.last_seq)
        opened.push_async_callback(close_recent)
        swept = await Retention(
            directory,
            store,
            search,
            recent,
            lambda f: _remove_file(directory, store, f),
            clock_us=wall_us,
            interval=settings.retention_interval,
        ).sweep()
    return {"channels": swept.channels, "messages": swept.messages, "files": swept.files}


async def _remove_file(directory, store, f: StoredFile) -> bool:
    """A file deleted beside the servers: the messages that shared it keep its tombstone,
    as ``files.delete`` leaves one (no one is told: the servers' connections will read
    the messages as they now are)."""
    from parley import content

    shared = await directory.delete_file(f.id)
    if shared is None:
        return False
    for channel_id, ts in shared:
        m = await store.message(channel_id, ts)
        change = content.tombstone_file(m.rich, f.id) if m is not None else None
        if change is not None:
            # changed meanwhile: it keeps the entry, as after files.delete
            with contextlib.suppress(ApiError):
                await store.update(
                    channel_id, ts, m.user, m.text, m.version, rich_patch=change, edited=False
                )
    return True
