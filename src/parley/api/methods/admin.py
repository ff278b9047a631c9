"""Operator methods. Parley's: the dead letters of the installation (``admin.dlq.list``,
``admin.dlq.info``, ``admin.dlq.replay``, ``admin.dlq.purge``), what ``parley dlq`` does
from the command line, with the ``admin:dlq`` scope. Slack's, for the people of the
caller's own workspace, with ``admin.users:write`` (what ``parley user deactivate``,
``reactivate`` and ``password`` do from the command line): ``admin.users.remove``
deactivates a user, ``admin.users.assign`` makes them active again,
``admin.users.session.reset`` signs them out of the web client
(:mod:`parley.pipeline.accounts`); with ``admin.conversations:write`` (``:read`` to
read it), ``admin.conversations.setCustomRetention``, ``getCustomRetention`` and
``removeCustomRetention`` give one conversation of the workspace its own retention
span (:mod:`parley.retention`; ``parley retention`` from the command line). No token
has these scopes by default: an operator grants them with ``parley user create
--scopes admin:dlq,admin.users:write,...``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import retention
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import wall_us
from parley.resilience.counts import STEPS
from parley.resilience.retries import describe
from parley.resilience.store import RetryStore
from parley.storage.models import RetentionPolicy

if TYPE_CHECKING:
    from parley.app import Services


def _step(args: Args, *, required: bool) -> str | None:
    step = args.str("step", required=required, max_len=32)
    if step is not None and step not in STEPS:
        raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": f"step is one of {list(STEPS)}"})
    return step


def _items(args: Args) -> list[str] | None:
    """``items`` (comma-separated), or ``None`` for ``all=true``; one of the two."""
    items = args.list("items", max_items=1000)
    every = args.bool("all")
    if bool(items) == every:
        raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": "give items, or all=true"})
    return None if every else items


def register(api: Api, svc: Services) -> None:
    retries: RetryStore = svc.directory  # type: ignore[assignment]

    async def dlq_list(ctx: Ctx, args: Args) -> dict[str, Any]:
        step = _step(args, required=False)
        limit = paging.limit(args, default=100, maximum=1000)
        after = paging.after_key(args, "dlq") or ""
        letters = await retries.dead_letters(step, after, limit + 1)
        more = len(letters) > limit
        letters = letters[:limit]
        last = f"{letters[-1].step}/{letters[-1].item}" if letters else None
        return {
            "dead_letters": [describe(d, full=False) for d in letters],
            **paging.metadata("dlq", last, more),
        }

    async def dlq_info(ctx: Ctx, args: Args) -> dict[str, Any]:
        step = _step(args, required=True)
        item = args.str("item", required=True, max_len=1000)
        assert step is not None and item is not None
        letter = await retries.dead_letter(step, item)
        if letter is None:
            raise ApiError(Code.NOT_FOUND)
        return {"dead_letter": describe(letter, full=True)}

    async def dlq_replay(ctx: Ctx, args: Args) -> dict[str, Any]:
        step = _step(args, required=True)
        assert step is not None
        return {"replayed": await retries.replay(step, _items(args), wall_us())}

    async def dlq_purge(ctx: Ctx, args: Args) -> dict[str, Any]:
        step = _step(args, required=True)
        assert step is not None
        return {"purged": await retries.purge(step, _items(args))}

    async def member(ctx: Ctx, args: Args, *, team: bool) -> str:
        """The ``user_id`` argument's user, one of the caller's workspace (``team``: which
        ``team_id`` must name too, as Slack's methods ask)."""
        if team:
            team_id = args.str("team_id", required=True, max_len=64)
            if team_id != ctx.user.team_id:
                raise ApiError(Code.TEAM_NOT_FOUND)
        user_id = args.str("user_id", required=True, max_len=64)
        assert user_id is not None
        user = await svc.directory.user(user_id)
        if user is None or user.team_id != ctx.user.team_id:
            raise ApiError(Code.USER_NOT_FOUND)
        return user_id

    async def users_remove(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.accounts is not None
        await svc.accounts.set_active(await member(ctx, args, team=True), False)
        return {}

    async def users_assign(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.accounts is not None
        await svc.accounts.set_active(await member(ctx, args, team=True), True)
        return {}

    async def users_session_reset(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.accounts is not None
        args.bool("mobile_only")  # Parley's phones hold no session: they get pushes only
        args.bool("web_only")
        await svc.accounts.end_sessions(await member(ctx, args, team=False))
        return {}

    async def conversation(ctx: Ctx, args: Args) -> str:
        """The ``channel_id`` argument's conversation, any of the caller's workspace
        (an operator's scope: members or not)."""
        channel_id = args.str("channel_id", required=True, max_len=64)
        assert channel_id is not None
        channel = await svc.directory.channel(channel_id)
        if channel is None or channel.team_id != ctx.user.team_id:
            raise ApiError(Code.CHANNEL_NOT_FOUND)
        return channel.id

    async def set_retention(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel_id = await conversation(ctx, args)
        args.str("duration_days", required=True)
        days = args.int("duration_days", default=0, lo=retention.MIN_DAYS, hi=retention.MAX_DAYS)
        policy = RetentionPolicy(ctx.user.team_id, channel_id, days)
        await svc.directory.set_retention(policy)
        return {}

    async def get_retention(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel_id = await conversation(ctx, args)
        span = retention.spans(await svc.directory.retention()).get(ctx.user.team_id)
        own = span.channels.get(channel_id) if span is not None else None
        return {"is_policy_enabled": own is not None, "duration_days": own or 0}

    async def remove_retention(ctx: Ctx, args: Args) -> dict[str, Any]:
        channel_id = await conversation(ctx, args)
        await svc.directory.remove_retention(ctx.user.team_id, channel_id)
        return {}

    api.add("admin.conversations.setCustomRetention", set_retention)
    api.add("admin.conversations.getCustomRetention", get_retention, read=True)
    api.add("admin.conversations.removeCustomRetention", remove_retention)
    api.add("admin.users.remove", users_remove)
    api.add("admin.users.assign", users_assign)
    api.add("admin.users.session.reset", users_session_reset)
    api.add("admin.dlq.list", dlq_list, read=True)
    api.add("admin.dlq.info", dlq_info, read=True)
    api.add("admin.dlq.replay", dlq_replay)
    api.add("admin.dlq.purge", dlq_purge)
