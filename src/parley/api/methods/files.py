"""``files.getUploadURLExternal``, ``files.completeUploadExternal``, ``files.info``,
``files.list``, ``files.delete``: files as ``slack_sdk``'s ``files_upload_v2`` uploads
them. The rules are :mod:`parley.files.service`'s; this module reads the arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.files.routes import UPLOAD_PREFIX
from parley.files.service import parse_items

if TYPE_CHECKING:
    from parley.app import Services

#: Where a listing starts: before every file.
_NEWEST = (1 << 62, "")


def _cursor_key(created: int, file_id: str) -> str:
    return f"{created}.{file_id}"


def _before(args: Args) -> tuple[int, str]:
    """The ``cursor``'s ``(created, id)``: a page starts after it."""
    key = paging.after_key(args, "files")
    if key is None:
        return _NEWEST
    created, _, file_id = key.partition(".")
    if not created.isdigit() or not file_id:
        raise ApiError(Code.INVALID_CURSOR)
    return int(created), file_id


def register(api: Api, svc: Services) -> None:
    files = svc.files
    if files is None:
        return

    async def get_upload_url(ctx: Ctx, args: Args) -> dict[str, Any]:
        name = args.str("filename", required=True, max_len=10_000)
        length = args.int("length", default=-1, lo=-1, hi=1 << 62)
        file_id, secret = await files.announce(ctx.user, name, None if length < 0 else length)
        return {
            "upload_url": f"{ctx.base_url}{UPLOAD_PREFIX[1:]}{file_id}/{secret}",
            "file_id": file_id,
        }

    async def complete(ctx: Ctx, args: Args) -> dict[str, Any]:
        items = parse_items(args.raw("files"))
        channel = args.str("channel_id", max_len=32)
        many = args.list("channels", max_items=100)
        if many:
            if len(many) > 1 or (channel is not None and many != [channel]):
                detail = "one channel (channel_id) a completion"
                raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "channels", "detail": detail})
            channel = many[0]
        shown = await files.complete(
            ctx.user,
            items,
            ctx.base_url,
            channel_id=channel,
            comment=args.str("initial_comment", max_len=40_000),
            thread_ts=args.ts("thread_ts") if channel is not None else None,
        )
        return {"files": shown}

    async def info(ctx: Ctx, args: Args) -> dict[str, Any]:
        found = await files.readable(ctx.user, args.str("file", max_len=32))
        return {
            "file": await files.shown(ctx.user, found, ctx.base_url),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    async def list_(ctx: Ctx, args: Args) -> dict[str, Any]:
        limit = paging.limit(args, default=100, maximum=1000)
        page = await files.listing(
            ctx.user,
            _before(args),
            limit + 1,
            user_id=args.str("user", max_len=32),
            channel_id=args.str("channel", max_len=32),
        )
        more = len(page) > limit
        page = page[:limit]
        last = _cursor_key(page[-1].created, page[-1].id) if page else None
        return {
            "files": [await files.shown(ctx.user, f, ctx.base_url) for f in page],
            **paging.metadata("files", last, more),
        }

    async def delete(ctx: Ctx, args: Args) -> dict[str, Any]:
        await files.delete(ctx.user, args.str("file", max_len=32))
        return {}

    async def share_public(ctx: Ctx, args: Args) -> dict[str, Any]:
        """A public link for one of the caller's files (``permalink_public``)."""
        found = await files.share_publicly(ctx.user, args.str("file", max_len=32))
        return {"file": await files.shown(ctx.user, found, ctx.base_url)}

    async def revoke_public(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The caller's file's public link taken away."""
        found = await files.revoke_public(ctx.user, args.str("file", max_len=32))
        return {"file": await files.shown(ctx.user, found, ctx.base_url)}

    api.add("files.getUploadURLExternal", get_upload_url, read=True)
    api.add("files.sharedPublicURL", share_public)
    api.add("files.revokePublicURL", revoke_public)
    api.add("files.completeUploadExternal", complete)
    api.add("files.info", info, read=True)
    api.add("files.list", list_, read=True)
    api.add("files.delete", delete)
