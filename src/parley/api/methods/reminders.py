"""Slack's ``reminders.add``, ``reminders.list``, ``reminders.info``,
``reminders.complete`` and ``reminders.delete`` (:mod:`parley.pipeline.reminders`), each
for the caller's own reminders (scopes ``reminders:write`` and ``reminders:read``).
``reminders.add`` takes Parley's ``tz_offset`` (minutes east of UTC) for times such as
``at 3pm``, and, without ``time``, reads it from the end of ``text`` (what the web
client's ``/remind me to stretch in 10 minutes`` sends)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.pipeline.reminders import shown

if TYPE_CHECKING:
    from parley.app import Services

#: The longest reminder.
MAX_TEXT = 4000


def register(api: Api, svc: Services) -> None:
    def own(ctx: Ctx, args: Args) -> None:
        """Slack no longer sets reminders for others: ``user``, if given, is the caller."""
        user = args.str("user", max_len=32)
        if user and user != ctx.user.id:
            raise ApiError("cannot_add_others")

    async def add(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.reminders is not None
        own(ctx, args)
        text = (args.str("text", required=True, max_len=MAX_TEXT) or "").strip()
        if not text:
            raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": "text"})
        time = args.raw("time")
        if time is not None and not isinstance(time, (str, int)):
            raise ApiError("cannot_parse")
        offset = args.int("tz_offset", default=0, lo=-14 * 60, hi=14 * 60)
        recurrence = args.json_object("recurrence")
        reminder = await svc.reminders.add(
            ctx.user, text, None if time is None else str(time), recurrence, offset
        )
        return {"reminder": shown(reminder)}

    async def listing(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.reminders is not None
        return {"reminders": [shown(r) for r in await svc.reminders.of(ctx.user.id)]}

    async def info(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.reminders is not None
        found = await svc.reminders.get(
            ctx.user.id, args.str("reminder", required=True, max_len=64)
        )
        return {"reminder": shown(found)}

    async def complete(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.reminders is not None
        await svc.reminders.complete(ctx.user.id, args.str("reminder", required=True, max_len=64))
        return {}

    async def delete(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.reminders is not None
        await svc.reminders.delete(ctx.user.id, args.str("reminder", required=True, max_len=64))
        return {}

    api.add("reminders.add", add)
    api.add("reminders.list", listing, read=True)
    api.add("reminders.info", info, read=True)
    api.add("reminders.complete", complete)
    api.add("reminders.delete", delete)
