"""``views.open``, ``views.update`` (an app's modals, as Slack's) and Parley's
``views.submit``, ``views.action`` and ``views.close`` (the person's side, which Slack's
own clients do privately). The rules are :mod:`parley.apps.views`'s; this module reads
the arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.apps.commands import NOT_ALLOWED_TOKEN_TYPE
from parley.errors import ApiError

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    views = svc.views
    if views is None:
        return

    def app_bot(ctx: Ctx) -> None:
        if not ctx.user.is_bot:
            raise ApiError(NOT_ALLOWED_TOKEN_TYPE)

    async def open_(ctx: Ctx, args: Args) -> dict[str, Any]:
        app_bot(ctx)
        trigger = args.str("trigger_id", required=True, missing="invalid_trigger_id")
        return {"view": await views.open(ctx.user, trigger, args.raw("view"))}

    async def update(ctx: Ctx, args: Args) -> dict[str, Any]:
        app_bot(ctx)
        view = await views.update(
            ctx.user,
            args.str("view_id", max_len=32),
            args.str("external_id", max_len=255),
            args.raw("view"),
            args.str("hash", max_len=64),
        )
        return {"view": view}

    async def push(ctx: Ctx, args: Args) -> dict[str, Any]:
        raise ApiError("not_supported", data={"detail": "a stack of views: use views.update"})

    async def submit(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await views.submit(ctx.user, args.str("view_id", max_len=32), args.raw("values"))

    async def action(ctx: Ctx, args: Args) -> dict[str, Any]:
        await views.press(
            ctx.user,
            args.str("view_id", max_len=32),
            args.str("action_id", max_len=255),
            args.str("block_id", max_len=255),
            args.raw("values"),
        )
        return {}

    async def close(ctx: Ctx, args: Args) -> dict[str, Any]:
        await views.close(ctx.user, args.str("view_id", max_len=32))
        return {}

    api.add("views.open", open_)
    api.add("views.update", update)
    api.add("views.push", push)
    api.add("views.submit", submit)
    api.add("views.action", action)
    api.add("views.close", close)
