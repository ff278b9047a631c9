"""Streamed messages (:mod:`parley.streams`): Slack's ``chat.startStream``,
``chat.appendStream`` and ``chat.stopStream``, for bots' tokens (``chat:write``).

``chat.startStream`` posts the message through the send path (a reply when
``thread_ts`` is given; its checks, durable write and event); every append and the stop
rewrite it, not marked edited, and its members hear ``message_changed`` each time, so a
client shows the reply growing. Outside a direct message the stream names the person it
answers, ``recipient_user_id`` and ``recipient_team_id``, as Slack asks
(``missing_recipient_user_id``, ``missing_recipient_team_id``); they must be of the
caller's workspace (``user_not_found``, ``team_not_found``). Another's message answers
``cant_update_message``; one that is not streaming (never was, stopped, or older than
five minutes), ``message_not_in_streaming_state``.

Parley's extension: the person a stream answers (its recipient, or the person in its
direct message) may call ``chat.stopStream`` with their own token (the web client's
Stop); the app's next call then answers ``stopped_by_user``, as Slack's does when a
person stops an answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from parley import content, streams, wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.chat import CUSTOMIZE
from parley.errors import ApiError, Code
from parley.ids import format_ts, wall_us
from parley.storage.models import Channel, Message

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    sender, store, max_text = svc.sender, svc.store, svc.settings.max_text

    def bot(ctx: Ctx) -> None:
        if not ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)

    def given_chunks(args: Args) -> list[dict]:
        text = args.str("markdown_text", max_len=streams.MAX_CHUNK_TEXT + 1)
        if text is not None and len(text) > streams.MAX_CHUNK_TEXT:
            raise ApiError(Code.MSG_TOO_LONG)
        return streams.chunks(text, args.raw("chunks"))

    async def recipient(ctx: Ctx, args: Args, channel: Channel) -> str:
        """The person a stream outside a direct message answers (checked)."""
        user_id = args.str("recipient_user_id", max_len=32)
        team_id = args.str("recipient_team_id", max_len=32)
        if channel.is_im and not user_id and not team_id:
            return ""
        if not user_id:
            raise ApiError(Code.MISSING_RECIPIENT_USER_ID)
        if not team_id:
            raise ApiError(Code.MISSING_RECIPIENT_TEAM_ID)
        if team_id != ctx.user.team_id:
            raise ApiError(Code.TEAM_NOT_FOUND)
        user = await svc.directory.user(user_id)
        if user is None or user.team_id != ctx.user.team_id:
            raise ApiError(Code.USER_NOT_FOUND)
        return user.id

    def answers(stream: streams.Stream, channel: Channel, user_id: str) -> bool:
        """Whether the stream answers ``user_id``: named its recipient, or in a direct
        message (whose other member is its bot) without one."""
        return stream.recipient_user_id == user_id or (
            channel.is_im and not stream.recipient_user_id
        )

    def checked(text: str) -> str:
        if len(text) > max_text:
            raise ApiError(Code.MSG_TOO_LONG)
        return text

    async def start(ctx: Ctx, args: Args) -> dict[str, Any]:
        bot(ctx)
        channel = await svc.access.writable(ctx.user, args.str("channel", max_len=32))
        mode = args.str("task_display_mode", default="timeline", max_len=16)
        if mode not in streams.DISPLAY_MODES:
            detail = f"task_display_mode is one of {sorted(streams.DISPLAY_MODES)}"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": detail})
        begun = streams.Stream(
            streams.STREAMING,
            wall_us(),
            task_display_mode=mode,
            recipient_user_id=await recipient(ctx, args, channel),
        )
        result = streams.applied("", begun, given_chunks(args))
        rich = streams.patch({}, result)
        if CUSTOMIZE in ctx.scopes:
            rich = content.customize(
                rich,
                args.str("username", max_len=content.MAX_USERNAME + 1),
                args.str("icon_emoji", max_len=100),
                args.str("icon_url", max_len=content.MAX_ICON_URL + 1),
            )
        posted = await sender.post(
            ctx.user,
            channel.id,
            checked(result.text),
            thread_ts=args.ts("thread_ts", invalid=Code.THREAD_NOT_FOUND),
            rich=rich,
        )
        m = posted.message
        return {"channel": m.channel, "ts": format_ts(m.ts)}

    async def named(ctx: Ctx, args: Args) -> tuple[Channel, Message]:
        """The message that ``channel`` and ``ts`` name, in a conversation the caller may
        write in."""
        channel = await svc.access.writable(ctx.user, args.str("channel", max_len=32))
        m = await store.message(channel.id, args.message_ts("ts"))
        if m is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        return channel, m

    async def streamed(ctx: Ctx, args: Args) -> Message:
        """The caller's message that ``channel`` and ``ts`` name."""
        bot(ctx)
        _channel, m = await named(ctx, args)
        if m.user != ctx.user.id:
            raise ApiError(Code.CANT_UPDATE_MESSAGE)
        return m

    async def grow(
        m: Message,
        items: list[dict],
        *,
        stop: bool = False,
        blocks: list | None = None,
        extra: str | None = None,
        by: str = "",
    ) -> Message:
        """``m`` with ``items`` applied (and, to stop it, ``blocks`` added after its
        own and ``extra``, a content change, merged; ``by`` the person who stopped it,
        when not its app), in one write."""

        def change(now: Message) -> tuple[str, str | None]:
            fields = content.fields(now.rich)
            result = streams.applied(now.text, streams.live(fields, wall_us()), items)
            if stop:
                stopped = msgspec.structs.replace(
                    result.stream, state=streams.STOPPED, stopped_by=by
                )
                result = streams.Applied(result.text, stopped, result.blocks)
            change = content.merge(streams.patch(fields, result, blocks or ()), extra)
            return checked(result.text), change

        return await sender.grow(m, change)

    async def append(ctx: Ctx, args: Args) -> dict[str, Any]:
        m = await streamed(ctx, args)
        items = given_chunks(args)
        if not items:
            raise ApiError(Code.NO_TEXT, data={"detail": "markdown_text or chunks is required"})
        m = await grow(m, items)
        return {"channel": m.channel, "ts": format_ts(m.ts)}

    async def stop(ctx: Ctx, args: Args) -> dict[str, Any]:
        if not ctx.user.is_bot:  # Parley's: the person it answers stops it
            channel, m = await named(ctx, args)
            stream = streams.of(content.fields(m.rich))
            if stream is None or not answers(stream, channel, ctx.user.id):
                raise ApiError(Code.CANT_UPDATE_MESSAGE)
            m = await grow(m, [], stop=True, by=ctx.user.id)
            return {"channel": m.channel, "ts": format_ts(m.ts), "message": wire.message(m)}
        m = await streamed(ctx, args)
        final = content.parse(args.raw("blocks"), None)
        blocks = content.fields(final).get("blocks") or []
        metadata = content.with_metadata(None, args.raw("metadata"))
        m = await grow(m, given_chunks(args), stop=True, blocks=blocks, extra=metadata)
        return {"channel": m.channel, "ts": format_ts(m.ts), "message": wire.message(m)}

    api.add("chat.startStream", start)
    api.add("chat.appendStream", append)
    api.add("chat.stopStream", stop)
