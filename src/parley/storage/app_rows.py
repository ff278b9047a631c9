"""SQL both directory backends share for apps' slash commands (``app_commands``)."""

from __future__ import annotations

from parley.storage.models import AppCommand

#: The columns of an :class:`AppCommand`, in its fields' order.
COMMAND_COLUMNS = "team_id, command, user_id, request_url, signing_secret, description, usage_hint"


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


def app_secret_query(placeholder: str) -> str:
    """The signing secret an app already has (from its Events API registration or one
    of its commands), for a query with the bot's id twice."""
    return (
        f"SELECT signing_secret FROM event_apps WHERE user_id = {placeholder} UNION ALL "
        f"SELECT signing_secret FROM app_commands WHERE user_id = {placeholder} LIMIT 1"
    )
