"""``chat.postMessage``, ``chat.update``, ``chat.delete``.

Parley's extension: ``chat.update`` takes an optional ``edit_version`` (the message's
``edit_version`` the client last saw); a stale one answers ``edit_conflict`` with the
current ``version``, and nothing is written. Without it, the last writer wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import content, wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import Code
from parley.ids import format_ts

if TYPE_CHECKING:
    from parley.app import Services

_MAX_CLIENT_MSG_ID = 128


def register(api: Api, svc: Services) -> None:
    sender, max_text = svc.sender, svc.settings.max_text

    def text_of(args: Args) -> str | None:
        # one past the limit, so msg_too_long is told apart from a plain bad argument
        return args.str("text", max_len=max_text + 1)

    async def post_message(ctx: Ctx, args: Args) -> dict[str, Any]:
        result = await sender.post(
            ctx.user,
            args.str("channel", max_len=32),
            text_of(args),
            thread_ts=args.ts("thread_ts", invalid=Code.THREAD_NOT_FOUND),
            reply_broadcast=args.bool("reply_broadcast"),
            client_msg_id=args.str("client_msg_id", max_len=_MAX_CLIENT_MSG_ID),
            rich=content.parse(args.raw("blocks"), args.raw("attachments")),
        )
        m = result.message
        return {"channel": m.channel, "ts": format_ts(m.ts), "message": wire.message(m)}

    async def update(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = args.str("channel", max_len=32)
        ts = args.ts(
            "ts", required=True, missing=Code.MESSAGE_NOT_FOUND, invalid=Code.MESSAGE_NOT_FOUND
        )
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
            text_of(args),
            version,
            rich_patch=content.patch(blocks, attachments),
        )
        return {
            "channel": m.channel,
            "ts": format_ts(m.ts),
            "text": m.text,
            "message": wire.message(m),
        }

    async def delete(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel = args.str("channel", max_len=32)
        ts = args.ts(
            "ts", required=True, missing=Code.MESSAGE_NOT_FOUND, invalid=Code.MESSAGE_NOT_FOUND
        )
        m = await sender.delete(ctx.user, channel, ts)
        return {"channel": m.channel, "ts": format_ts(m.ts)}

    api.add("chat.postMessage", post_message)
    api.add("chat.update", update)
    api.add("chat.delete", delete)
