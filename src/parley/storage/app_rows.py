"""SQL both directory backends share for apps (``app_commands``, their endpoints and
secrets, their modals' ``views``, their ``app_shortcuts``, their unfurl domains) and
pins."""

from __future__ import annotations

from collections.abc import Sequence

from parley.storage.models import AppCommand, AppShortcut, AppView

#: The columns of an :class:`AppCommand`, in its fields' order.
COMMAND_COLUMNS = "team_id, command, user_id, request_url, signing_secret, description, usage_hint"


#: The columns of an :class:`AppShortcut`, in its fields' order.
SHORTCUT_COLUMNS = "team_id, user_id, callback_id, kind, name, description"
#: The team's shortcuts, by app and name (``{p}``: the backend's placeholder).
SHORTCUTS_QUERY = (
    f"SELECT {SHORTCUT_COLUMNS} FROM app_shortcuts WHERE team_id = {{p}} "
    "ORDER BY user_id, name, callback_id"
)
#: Writes one (new, or as it now is).
SHORTCUT_PUT = "REPLACE INTO app_shortcuts (" + SHORTCUT_COLUMNS + ", created) VALUES ({marks})"


def shortcut_row(s: AppShortcut) -> tuple[str, ...]:
    """``s``'s values for :data:`SHORTCUT_COLUMNS`."""
    return (s.team_id, s.user_id, s.callback_id, s.kind, s.name, s.description)


def command_row(cmd: AppCommand) -> tuple[str, ...]:
    """``cmd``'s values for :data:`COMMAND_COLUMNS`."""
    return (
        cmd.team_id,
        cmd.command,
        cmd.user_id,
        cmd.request_url,
        cmd.signing_secret,
        cmd.description,
        cmd.usage_hint,
    )


#: Every app's unfurl domains (:class:`AppDomain`'s columns), by app.
UNFURL_DOMAINS_QUERY = (
    "SELECT user_id, team_id, domain FROM app_unfurl_domains ORDER BY user_id, domain"
)
#: Forgets an app's unfurl domains (``{p}``: the backend's placeholder), before its new
#: ones are written.
UNFURL_DOMAINS_CLEAR = "DELETE FROM app_unfurl_domains WHERE user_id = {p}"
#: Writes one of an app's unfurl domains (``{p}``: the backend's placeholder).
UNFURL_DOMAIN_PUT = (
    "INSERT INTO app_unfurl_domains (user_id, team_id, domain, created) VALUES ({p}, {p}, {p}, {p})"
)


#: What an app may have registered (``parley app …``): its part's name, the table that
#: keeps it by its bot's ``user_id``, and the columns ``parley app list`` shows (never the
#: signing secret).
APP_PARTS = {
    "events": ("event_apps", "request_url"),
    "interactivity": ("app_interactivity", "request_url"),
    "commands": ("app_commands", "command, request_url"),
    "shortcuts": ("app_shortcuts", "callback_id, kind, name"),
    "unfurl": ("app_unfurl_domains", "domain"),
    "oauth": ("oauth_apps", "client_id, redirect_urls, scopes, user_scopes"),
}


def app_part_query(part: str) -> str:
    """Every app's rows of ``part`` (:data:`APP_PARTS`): its bot's id, then the columns."""
    table, columns = APP_PARTS[part]
    return f"SELECT user_id, {columns} FROM {table} ORDER BY user_id, {columns}"


def app_part_delete(part: str, placeholder: str) -> str:
    """Forgets the bot's (``placeholder``) rows of ``part`` (:data:`APP_PARTS`)."""
    return f"DELETE FROM {APP_PARTS[part][0]} WHERE user_id = {placeholder}"


#: The tables that keep an app's signing secret, each by its bot's ``user_id``.
SECRET_TABLES = ("event_apps", "app_interactivity", "app_commands")


def app_secret_query(placeholder: str) -> str:
    """The signing secret an app already has (from its Events API or interactivity
    registration, or one of its commands), for a query with the bot's id once for each
    of :data:`SECRET_TABLES`."""
    return (
        " UNION ALL ".join(
            f"SELECT signing_secret FROM {t} WHERE user_id = {placeholder}" for t in SECRET_TABLES
        )
        + " LIMIT 1"
    )


def endpoint_query(table: str, placeholder: str) -> str:
    """An app's endpoint (:class:`EventApp`'s columns) in ``table``, by its bot's id."""
    return (
        f"SELECT user_id, team_id, request_url, signing_secret FROM {table} "
        f"WHERE user_id = {placeholder}"
    )


#: The columns of an :class:`AppView`, in its fields' order.
VIEW_COLUMNS = (
    "id, team_id, user_id, app_user_id, channel_id, body, hash, external_id, closed, home, "
    "previous_id, root_id"
)


def view_row(v: AppView) -> tuple:
    """``v``'s values for :data:`VIEW_COLUMNS`."""
    return (
        v.id,
        v.team_id,
        v.user_id,
        v.app_user_id,
        v.channel_id,
        v.body,
        v.hash,
        v.external_id,
        int(v.closed),
        int(v.home),
        v.previous_id,
        v.root_id,
    )


def view_from_row(row: Sequence) -> AppView:
    return AppView(*row[:8], bool(row[8]), bool(row[9]), row[10], row[11])


#: A channel's pins, the newest first (``{p}``: the backend's placeholder).
PINS_QUERY = (
    "SELECT channel_id, ts, user_id, created FROM pins WHERE channel_id = {p} "
    "ORDER BY created DESC, ts DESC"
)
