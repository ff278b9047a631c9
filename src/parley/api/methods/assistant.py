"""Slack's assistant threads, as Bolt's ``Assistant`` uses them: bots' tokens
(``chat:write``), in a conversation the bot is in, about one of its messages.

- ``assistant.threads.setStatus``: an app says what it is doing in a thread ("is
  thinking…") before it answers (Bolt's ``set_status``). The conversation's other
  members hear Parley's ``assistant_thread_status`` (not stored); the web client shows
  it under the thread until the app writes there, the status is cleared (an empty
  ``status``) or two minutes pass.
- ``assistant.threads.setTitle`` and ``assistant.threads.setSuggestedPrompts`` (Bolt's
  ``set_title``, ``set_suggested_prompts``): kept on the thread's first message as its
  ``assistant_app_thread`` (``title``, ``suggested_prompts`` of ``title`` and
  ``message``, ``prompts_title``), Slack's field, so every reader sees them and its
  members hear ``message_changed``; the web client shows the title and the prompts,
  which send their message into the thread.
- Parley's ``assistant.threads.start`` (a person's token): a new chat with the app of
  their direct message, as Slack's assistant pane opening one: the app's bot begins the
  thread and the app hears ``assistant_thread_started``, so Bolt's ``thread_started``
  listener greets and suggests prompts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from parley import content
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import format_ts, wall_us
from parley.pipeline import events
from parley.storage.models import Message

if TYPE_CHECKING:
    from parley.app import Services

#: A status's length, at most.
MAX_STATUS = 100
#: Suggested prompts, at most (Slack's), and their texts' lengths.
MAX_PROMPTS = 4
MAX_PROMPT_TITLE = 100
MAX_PROMPT_MESSAGE = 2000
MAX_TITLE = 255
#: The title of a chat an app has not titled yet.
NEW_CHAT = "New chat"
#: Loading messages, at most, and each one's length.
MAX_LOADING = 10


def register(api: Api, svc: Services) -> None:
    async def thread_root(ctx: Ctx, args: Args) -> Message:
        """The message ``channel_id`` and ``thread_ts`` name, for a bot in that
        conversation."""
        if not ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        channel = await svc.access.writable(ctx.user, args.str("channel_id", max_len=32))
        if not args.has("thread_ts"):
            detail = "thread_ts is required"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "thread_ts", "detail": detail})
        m = await svc.store.message(channel.id, args.message_ts("thread_ts"))
        if m is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        return m

    async def set_status(ctx: Ctx, args: Args) -> dict[str, Any]:
        m = await thread_root(ctx, args)
        status = args.str("status", default="", max_len=MAX_STATUS) or ""
        loading = args.list("loading_messages", max_items=MAX_LOADING)
        if any(len(text) > MAX_STATUS for text in loading):
            detail = f"each of loading_messages is at most {MAX_STATUS} characters"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": detail})
        event = events.assistant_status(
            m.channel, m.team, ctx.user.id, m.ts, status, loading, wall_us()
        )
        svc.bus.publish(event)
        return {}

    async def keep(m: Message, **changes: Any) -> None:
        """Writes ``changes`` into the thread's ``assistant_app_thread``, keeping the
        rest of it."""

        def change(now: Message) -> tuple[str, str]:
            kept = content.fields(now.rich).get("assistant_app_thread") or {}
            kept = {**kept, **changes}
            return now.text, orjson.dumps({"assistant_app_thread": kept}).decode()

        await svc.sender.grow(m, change)

    async def set_title(ctx: Ctx, args: Args) -> dict[str, Any]:
        m = await thread_root(ctx, args)
        title = args.str("title", required=True, max_len=MAX_TITLE)
        await keep(m, title=title)
        return {}

    async def set_prompts(ctx: Ctx, args: Args) -> dict[str, Any]:
        m = await thread_root(ctx, args)
        raw = args.raw("prompts")
        if isinstance(raw, str):
            try:
                raw = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raw = None
        if not isinstance(raw, list) or not 0 < len(raw) <= MAX_PROMPTS:
            detail = f"prompts is an array of 1 to {MAX_PROMPTS} objects"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "prompts", "detail": detail})
        prompts = []
        for p in raw:
            title = p.get("title") if isinstance(p, dict) else None
            message = p.get("message") if isinstance(p, dict) else None
            if not (
                isinstance(title, str)
                and isinstance(message, str)
                and 0 < len(title) <= MAX_PROMPT_TITLE
                and 0 < len(message) <= MAX_PROMPT_MESSAGE
            ):
                detail = "each prompt has a title and a message"
                raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "prompts", "detail": detail})
            prompts.append({"title": title, "message": message})
        heading = args.str("title", max_len=MAX_TITLE) or ""
        await keep(m, suggested_prompts=prompts, prompts_title=heading)
        return {}

    async def start_thread(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Parley's ``assistant.threads.start``: the person begins a new chat with the app
        of their direct message ``channel`` (the web client's New chat). The app's bot
        posts the thread's first message (subtype ``assistant_app_thread``, titled "New
        chat"), and the app hears ``assistant_thread_started`` with the conversation the
        person was looking at (``context_channel_id``, if they can see it)."""
        if ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        channel = await svc.access.writable(ctx.user, args.str("channel", max_len=32))
        others = await svc.access.members(channel.id) - {ctx.user.id}
        bot = None
        if channel.is_im and len(others) == 1:
            bot = await svc.directory.user(next(iter(others)))
        if bot is None or not bot.is_bot or bot.deleted:
            detail = "channel is a direct message with an app"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "channel", "detail": detail})
        context = args.str("context_channel_id", max_len=32) or ""
        if context:
            try:
                context = (await svc.access.visible(ctx.user, context)).id
            except ApiError:
                context = ""  # one they cannot see is not told to the app
        first = orjson.dumps({"assistant_app_thread": {"title": NEW_CHAT}}).decode()
        req = await svc.sender.prepare_post(bot, channel.id, "", rich=first)
        req = msgspec.structs.replace(req, subtype="assistant_app_thread")
        m = (await svc.sender.write_post(req)).message
        svc.bus.publish(
            events.assistant_thread_started(
                channel.id, bot.team_id, ctx.user.id, bot.id, m.ts, context, wall_us()
            )
        )
        return {"channel": channel.id, "thread_ts": format_ts(m.ts)}

    api.add("assistant.threads.start", start_thread)
    api.add("assistant.threads.setStatus", set_status)
    api.add("assistant.threads.setTitle", set_title)
    api.add("assistant.threads.setSuggestedPrompts", set_prompts)
