"""``chat.postMessage``, ``chat.postEphemeral``, ``chat.meMessage``, ``chat.update``,
``chat.delete``, ``chat.unfurl`` (apps' unfurls: :mod:`parley.apps.unfurls`),
``chat.getPermalink``, ``chat.scheduleMessage``, ``chat.scheduledMessages.list``,
``chat.deleteScheduledMessage``, ``chat.command`` (a slash command:
:mod:`parley.apps.commands`), Parley's ``chat.action`` (a button pressed:
:mod:`parley.apps.actions`), ``chat.shortcut`` and ``shortcuts.list`` (apps' shortcuts:
:mod:`parley.apps.shortcuts`).

``chat.postMessage`` to a user id (``U…``) posts in the direct message with that user,
opened if need be, as Slack's does; the answer names the ``D…`` channel. With
``link_names`` (it and ``chat.update``), the names the text writes become mentions and
channel links (:mod:`parley.pipeline.linknames`).

``chat.postEphemeral`` shows a message to one member of a channel, on the connections
they have open at the time; it is not stored (:meth:`.Sender.ephemeral`).

A scheduled message is checked when scheduled and posted at its time through the same
send path, once (:mod:`parley.pipeline.schedule`).

``chat.postMessage``, ``chat.update``, ``chat.postEphemeral`` and
``chat.scheduleMessage`` take Slack's ``markdown_text``, kept as a ``markdown`` block
(:func:`with_markdown`).

Parley's extension: ``chat.update`` takes an optional ``edit_version`` (the message's
``edit_version`` the client last saw); a stale one answers ``edit_conflict`` with the
current ``version``, and nothing is written. Without it, the last writer wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from parley import content, wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.ims import Ims
from parley.apps import unfurls as app_unfurls
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id, format_ts, wall_us
from parley.pipeline import linknames, scopes
from parley.pipeline.schedule import Scheduled
from parley.unfurl import links

if TYPE_CHECKING:
    from parley.app import Services

_MAX_CLIENT_MSG_ID = 128


def with_markdown(args: Args) -> Args:
    """A post's ``markdown_text`` (Slack's, for AI apps' answers) as Slack keeps it: a
    ``markdown`` block holding it, and the same text as the message's ``text`` (what
    notifications and search read). Given alone, never with ``text`` or ``blocks``
    (``invalid_arguments``); at most :data:`parley.content.MAX_MARKDOWN` characters
    (``msg_too_long``). Without it, ``args`` as they are."""
    markdown = args.str("markdown_text", max_len=content.MAX_MARKDOWN + 1)
    if markdown is None:
        return args
    if args.has("text") or args.has("blocks"):
        detail = "markdown_text is given alone, without text or blocks"
        raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "markdown_text", "detail": detail})
    if len(markdown) > content.MAX_MARKDOWN:
        raise ApiError(
            Code.MSG_TOO_LONG, data={"detail": f"markdown_text: {content.MAX_MARKDOWN} at most"}
        )
    return Args(
        {**args.all(), "text": markdown, "blocks": [{"type": "markdown", "text": markdown}]}
    )


def opt_bool(args: Args, name: str) -> bool | None:
    """A boolean argument, ``None`` when not given."""
    return args.bool(name) if args.has(name) else None


#: The most names of each kind ``link_names`` looks up in one message.
MAX_LINKED = 50

#: The scope that lets a bot's post show another name and icon (``username``, ...).
CUSTOMIZE = "chat:write.customize"


def register(api: Api, svc: Services) -> None:
    sender, max_text = svc.sender, svc.settings.max_text
    ims = Ims(svc.directory, svc.access, svc.bus)

    async def target(ctx: Ctx, channel: str | None) -> str | None:
        """``channel``, or for a user id (``U…``) the direct message with that user,
        opened if need be (Slack's: a bot or person writes to someone by their id)."""
        if channel and decode_id(Kind.USER, channel):
            try:
                return (await ims.open(ctx.user, channel))[0].id
            except ApiError as exc:
                if exc.code == Code.USER_NOT_FOUND:
                    raise ApiError(Code.CHANNEL_NOT_FOUND) from None
                raise
        return channel

    def text_of(args: Args) -> str | None:
        # one past the limit, so msg_too_long is told apart from a plain bad argument
        return args.str("text", max_len=max_text + 1)

    async def linked_text(ctx: Ctx, args: Args) -> str | None:
        """The text, with ``link_names`` its names as markup (:mod:`.linknames`): the
        first :data:`MAX_LINKED` of each kind are looked up; a channel only if the
        caller can see it."""
        text = text_of(args)
        if not text or not args.bool("link_names"):
            return text
        team = ctx.user.team_id
        wanted_people, wanted_channels = linknames.names(text)
        people: dict[str, str] = {}
        for name in sorted(wanted_people - linknames.SPECIAL.keys())[:MAX_LINKED]:
            found = await svc.directory.user_by_name(team, name)
            if found is not None and not found.deleted:
                people[name] = found.id
        groups = {}
        if wanted_people - people.keys() - linknames.SPECIAL.keys():
            groups = {g.handle.lower(): g.id for g in await svc.directory.groups(team)}
        channels: dict[str, str] = {}
        for name in sorted(wanted_channels)[:MAX_LINKED]:
            found_channel = await svc.directory.channel_by_name(team, name)
            if found_channel is None or found_channel.is_mpim:
                continue
            try:
                await svc.access.visible(ctx.user, found_channel.id)
            except ApiError:  # a private channel the caller is not in: stays as text
                continue
            channels[name] = found_channel.id
        return linknames.linked(text, people, groups, channels)

    def rich_of(ctx: Ctx, args: Args) -> str | None:
        """A post's blocks and attachments, and for a bot's token with
        ``chat:write.customize`` the name and icon it shows (ignored for others, as
        Slack ignores them)."""
        rich = content.parse(args.raw("blocks"), args.raw("attachments"))
        rich = content.with_metadata(rich, args.raw("metadata"))
        if not ctx.user.is_bot or CUSTOMIZE not in ctx.scopes:
            return rich
        return content.customize(
            rich,
            args.str("username", max_len=content.MAX_USERNAME + 1),
            args.str("icon_emoji", max_len=100),
            args.str("icon_url", max_len=content.MAX_ICON_URL + 1),
        )

    async def post_message(ctx: Ctx, args: Args) -> dict[str, Any]:
        args = with_markdown(args)
        result = await sender.post(
            ctx.user,
            await target(ctx, args.str("channel", max_len=32)),
            await linked_text(ctx, args),
            thread_ts=args.ts("thread_ts", invalid=Code.THREAD_NOT_FOUND),
            reply_broadcast=args.bool("reply_broadcast"),
            client_msg_id=args.str("client_msg_id", max_len=_MAX_CLIENT_MSG_ID),
            rich=rich_of(ctx, args),
            unfurl=links.wanted(
                ctx.user.is_bot, opt_bool(args, "unfurl_links"), opt_bool(args, "unfurl_media")
            ),
        )
        m = result.message
        return {"channel": m.channel, "ts": format_ts(m.ts), "message": wire.message(m)}

    async def post_ephemeral(ctx: Ctx, args: Args) -> dict[str, Any]:
        args = with_markdown(args)
        ts = await sender.ephemeral(
            ctx.user,
            args.str("channel", max_len=32),
            args.str("user", max_len=32),
            text_of(args),
            thread_ts=args.ts("thread_ts", invalid=Code.THREAD_NOT_FOUND),
            rich=content.parse(args.raw("blocks"), args.raw("attachments")),
        )
        return {"message_ts": format_ts(ts)}

    async def me_message(ctx: Ctx, args: Args) -> dict[str, Any]:
        """A message about the caller in the third person (``/me waves``: subtype
        ``me_message``), through the same checks and durable write as a post."""
        req = await sender.prepare_post(
            ctx.user, await target(ctx, args.str("channel", max_len=32)), text_of(args)
        )
        m = (await sender.write_post(msgspec.structs.replace(req, subtype="me_message"))).message
        return {"channel": m.channel, "ts": format_ts(m.ts)}

    async def get_permalink(ctx: Ctx, args: Args) -> dict[str, Any]:
        """A link to a message the caller can see: ``<server>/archives/<channel>/p<ts
        without its dot>``, Slack's shape, which the web client opens."""
        channel = await svc.access.visible(ctx.user, args.str("channel", max_len=32))
        scopes.require_for_channel("history", scopes.kind_of(channel), ctx.scopes)
        ts = args.message_ts("message_ts")
        if await svc.store.message(channel.id, ts) is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        digits = format_ts(ts).replace(".", "")
        return {
            "channel": channel.id,
            "permalink": f"{ctx.base_url}archives/{channel.id}/p{digits}",
        }

    async def schedule_message(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Checks the post now (the channel, the text, the rate limit, as
        ``chat.postMessage`` would), keeps it until ``post_at`` (Unix seconds), then the
        scheduler posts it (:mod:`parley.pipeline.schedule`)."""
        post_at = args.ts("post_at", required=True, missing="invalid_time", invalid="invalid_time")
        args = with_markdown(args)
        req = await sender.prepare_post(
            ctx.user,
            await target(ctx, args.str("channel", max_len=32)),
            text_of(args),
            thread_ts=args.ts("thread_ts", invalid=Code.THREAD_NOT_FOUND),
            reply_broadcast=args.bool("reply_broadcast"),
            rich=content.parse(args.raw("blocks"), args.raw("attachments")),
        )
        scheduled = Scheduled(
            id=f"Q{req.id:X}",
            user=ctx.user.id,
            channel=req.channel,
            text=req.text,
            post_at=post_at,
            created=wall_us(),
            thread_ts=req.thread_ts,
            reply_broadcast=req.reply_broadcast,
            rich=req.rich,
        )
        await svc.scheduler.add(scheduled)
        message = {"type": "delayed_message", "user": ctx.user.id, "text": req.text}
        if ctx.user.bot_id:
            message["bot_id"] = ctx.user.bot_id
        return {
            "channel": req.channel,
            "scheduled_message_id": scheduled.id,
            "post_at": post_at // 1_000_000,
            "message": message,
        }

    async def scheduled_list(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The caller's scheduled messages not yet posted (of ``channel``, when given),
        a page at a time, by id."""
        channel = args.str("channel", max_len=32)
        limit = paging.limit(args, default=100, maximum=1000)
        after = paging.after_key(args, "scheduled") or ""
        rows = await svc.scheduler.of(ctx.user.id, after, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        listed = [
            {
                "id": m.id,
                "channel_id": m.channel,
                "post_at": m.post_at // 1_000_000,
                "date_created": m.created // 1_000_000,
                "text": m.text,
            }
            for m in page
            if channel is None or m.channel == channel
        ]
        last = page[-1].id if page else None
        return {"scheduled_messages": listed, **paging.metadata("scheduled", last, more)}

    async def delete_scheduled(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Cancels one of the caller's scheduled messages before it is posted
        (``invalid_scheduled_message_id``: none such, someone else's, or posted)."""
        channel = args.str("channel", max_len=32)
        ident = args.str("scheduled_message_id", max_len=64)
        if not ident or not await svc.scheduler.cancel(ctx.user.id, ident, channel):
            raise ApiError("invalid_scheduled_message_id")
        return {}

    async def update(ctx: Ctx, args: Args) -> dict[str, Any]:
        args = with_markdown(args)
        channel = args.str("channel", max_len=32)
        ts = args.message_ts("ts")
        version = (
            args.int("edit_version", default=-1, lo=0, hi=1 << 31)
            if args.has("edit_version")
            else None
        )
        blocks, attachments = args.raw("blocks"), args.raw("attachments")
        m = await sender.update(
            ctx.user,
            channel,
            ts,
            await linked_text(ctx, args),
            version,
            rich_patch=content.with_metadata(
                content.patch(blocks, attachments), args.raw("metadata")
            ),
            # an edit that gives the attachments has them as given: no previews added
            unfurl=None if attachments is not None else links.wanted(ctx.user.is_bot, None, None),
        )
        return {
            "channel": m.channel,
            "ts": format_ts(m.ts),
            "text": m.text,
            "message": wire.message(m),
        }

    async def unfurl(ctx: Ctx, args: Args) -> dict[str, Any]:
        """An app's unfurls of the links on its domains in a message
        (:mod:`parley.apps.unfurls`), named by ``channel`` and ``ts`` or by the
        ``unfurl_id`` and ``source`` its ``link_shared`` gave."""
        assert svc.app_links is not None
        if not ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        prompt = None
        auth_text = args.str("user_auth_message", max_len=max_text)
        auth_url = args.str("user_auth_url", max_len=2000)
        if auth_url and links.links(f"<{auth_url}>") != [auth_url]:
            detail = "user_auth_url: an http(s) URL"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "user_auth_url", "detail": detail})
        auth_blocks = args.raw("user_auth_blocks")
        if auth_text or auth_blocks is not None or args.bool("user_auth_required"):
            text = auth_text or f"Connect <@{ctx.user.id}> to see its previews of links."
            if auth_url:
                text += f" <{auth_url}|Connect>"
            prompt = (text, content.parse(auth_blocks, None))
        raw = args.raw("unfurls")
        given = {} if raw is None or raw == "" else app_unfurls.parse_unfurls(raw)
        if not given and prompt is None:
            raise ApiError("missing_unfurls")
        await svc.app_links.unfurl(
            ctx.user,
            args.str("channel", max_len=32),
            args.ts("ts", invalid="cannot_find_message"),
            args.str("unfurl_id", max_len=300),
            args.str("source", max_len=32),
            given,
            prompt,
        )
        return {}

    async def delete(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = args.str("channel", max_len=32)
        ts = args.message_ts("ts")
        m = await sender.delete(ctx.user, channel, ts)
        return {"channel": m.channel, "ts": format_ts(m.ts)}

    async def command(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Runs a slash command in a channel (Slack's clients' method): its app gets it
        and answers (:mod:`parley.apps.commands`)."""
        assert svc.commands is not None
        await svc.commands.run(
            ctx.user,
            args.str("channel", max_len=32),
            args.str("command", max_len=64),
            args.str("text", max_len=max_text) or "",
            ctx.base_url,
        )
        return {}

    async def action(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Parley's: presses a button of an app's message, or picks an option of its
        menu; the app gets it (:mod:`parley.apps.actions`)."""
        assert svc.actions is not None
        await svc.actions.press(
            ctx.user,
            args.str("channel", max_len=32),
            args.message_ts("ts"),
            args.str("action_id", max_len=255),
            args.str("block_id", max_len=255),
            args.str("value", max_len=2000),
            ctx.base_url,
        )
        return {}

    async def shortcut(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Parley's: runs an app's shortcut, global or on the message ``ts``; the app gets
        it (:mod:`parley.apps.shortcuts`)."""
        assert svc.shortcuts is not None
        ts = args.ts("ts", invalid=Code.MESSAGE_NOT_FOUND)
        await svc.shortcuts.run(
            ctx.user,
            args.str("app", required=True, max_len=32),
            args.str("callback_id", required=True, max_len=255),
            args.str("channel", max_len=32),
            ts,
            ctx.base_url,
        )
        return {}

    async def shortcuts(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Parley's: the team's apps' shortcuts, for the client's menus."""
        assert svc.shortcuts is not None
        return {"shortcuts": await svc.shortcuts.list(ctx.user)}

    api.add("chat.postMessage", post_message)
    api.add("chat.command", command)
    api.add("chat.action", action)
    api.add("chat.shortcut", shortcut)
    api.add("shortcuts.list", shortcuts, read=True)
    api.add("chat.postEphemeral", post_ephemeral)
    api.add("chat.meMessage", me_message)
    api.add("chat.update", update)
    api.add("chat.unfurl", unfurl)
    api.add("chat.getPermalink", get_permalink, read=True)
    api.add("chat.delete", delete)
    api.add("chat.scheduleMessage", schedule_message)
    api.add("chat.scheduledMessages.list", scheduled_list)
    api.add("chat.deleteScheduledMessage", delete_scheduled)
