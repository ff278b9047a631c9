"""Slack's ``assistant.threads.setStatus``: an app says what it is doing in a thread
("is thinking…") before it answers, as Bolt's ``set_status`` does. Bots' tokens
(``chat:write``), in a conversation the bot is in, about one of its messages. The
conversation's other members hear Parley's ``assistant_thread_status`` (not stored);
the web client shows it under the thread until the app writes there, the status is
cleared (an empty ``status``) or two minutes pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import wall_us
from parley.pipeline import events

if TYPE_CHECKING:
    from parley.app import Services

#: A status's length, at most.
MAX_STATUS = 100
#: Loading messages, at most, and each one's length.
MAX_LOADING = 10


def register(api: Api, svc: Services) -> None:
    async def set_status(ctx: Ctx, args: Args) -> dict[str, Any]:
        if not ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        channel = await svc.access.writable(ctx.user, args.str("channel_id", max_len=32))
        thread_ts = args.message_ts("thread_ts")
        if await svc.store.message(channel.id, thread_ts) is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        status = args.str("status", default="", max_len=MAX_STATUS) or ""
        loading = args.list("loading_messages", max_items=MAX_LOADING)
        if any(len(text) > MAX_STATUS for text in loading):
            detail = f"each of loading_messages is at most {MAX_STATUS} characters"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": detail})
        event = events.assistant_status(
            channel.id, channel.team_id, ctx.user.id, thread_ts, status, loading, wall_us()
        )
        svc.bus.publish(event)
        return {}

    api.add("assistant.threads.setStatus", set_status)
