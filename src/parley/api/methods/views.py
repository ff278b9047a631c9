"""``views.open``, ``views.update``, ``views.publish`` (an app's modals and home tab, as
Slack's) and Parley's ``views.submit``, ``views.action``, ``views.close`` and
``views.home`` (the person's side, which Slack's own clients do privately). The rules
are :mod:`parley.apps.views`'s; this module reads the arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.ims import Ims
from parley.apps.commands import NOT_ALLOWED_TOKEN_TYPE
from parley.errors import ApiError, Code

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    views = svc.views
    if views is None:
        return
    ims = Ims(svc.directory, svc.access, svc.bus)

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

    async def publish(ctx: Ctx, args: Args) -> dict[str, Any]:
        app_bot(ctx)
        view = await views.publish(
            ctx.user,
            args.str("user_id", required=True, max_len=32),
            args.raw("view"),
            args.str("hash", max_len=64),
        )
        return {"view": view}

    async def home(ctx: Ctx, args: Args) -> dict[str, Any]:
        if ctx.user.is_bot:
            raise ApiError(NOT_ALLOWED_TOKEN_TYPE)
        bot_id = args.str("app", required=True, max_len=32)
        bot = await svc.directory.user(bot_id)
        if bot is None or not bot.is_bot:
            raise ApiError(Code.USER_NOT_FOUND, data={"user": bot_id})
        channel, _opened = await ims.open(ctx.user, bot_id)  # checks the workspace
        return {"view": await views.home(ctx.user, bot, channel.id), "channel": channel.id}

    async def push(ctx: Ctx, args: Args) -> dict[str, Any]:
        app_bot(ctx)
        trigger = args.str("trigger_id", required=True, missing="invalid_trigger_id")
        return {"view": await views.push(ctx.user, trigger, args.raw("view"))}

    async def submit(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await views.submit(ctx.user, args.str("view_id", max_len=32), args.raw("values"))

    async def action(ctx: Ctx, args: Args) -> dict[str, Any]:
        await views.press(
            ctx.user,
            args.str("view_id", max_len=32),
            args.str("action_id", max_len=255),
            args.str("block_id", max_len=255),
            args.str("value", max_len=2000),
            args.raw("values"),
        )
        return {}

    async def close(ctx: Ctx, args: Args) -> dict[str, Any]:
        await views.close(ctx.user, args.str("view_id", max_len=32))
        return {}

    api.add("views.open", open_)
    api.add("views.update", update)
    api.add("views.publish", publish)
    api.add("views.push", push)
    api.add("views.home", home)
    api.add("views.submit", submit)
    api.add("views.action", action)
    api.add("views.close", close)
