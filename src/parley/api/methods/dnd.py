"""Do Not Disturb: Slack's ``dnd.info``, ``dnd.teamInfo``, ``dnd.setSnooze``,
``dnd.endSnooze`` and ``dnd.endDnd`` (ends the snooze and the scheduled window that
holds now; the next holds as scheduled), and Parley's ``dnd.setSchedule`` (Slack keeps
the daily schedule in user preferences that its Web API does not expose). The rules:
:mod:`parley.notify.dnd`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import Kind, decode_id, wall_us
from parley.notify import dnd
from parley.storage.models import User

if TYPE_CHECKING:
    from parley.app import Services

#: ``dnd.teamInfo`` answers for at most this many users at once.
MAX_USERS = 50
#: A snooze lasts at most a week.
MAX_SNOOZE_MINUTES = 7 * 24 * 60


def _now() -> int:
    return wall_us() // 1_000_000


def _public(status: dnd.Status) -> dict[str, Any]:
    return {
        "dnd_enabled": status.dnd_enabled,
        "next_dnd_start_ts": status.next_dnd_start_ts,
        "next_dnd_end_ts": status.next_dnd_end_ts,
    }


def _snooze(status: dnd.Status) -> dict[str, Any]:
    out: dict[str, Any] = {"snooze_enabled": status.snooze_enabled}
    if status.snooze_enabled:
        out["snooze_endtime"] = status.snooze_endtime
        out["snooze_remaining"] = status.snooze_remaining
        out["snooze_is_indefinite"] = False
    return out


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def register(api: Api, svc: Services) -> None:
    directory = svc.directory

    async def settings_of(user_id: str) -> dnd.Dnd:
        return (await directory.dnd([user_id])).get(user_id, dnd.Dnd())

    async def teammate(ctx: Ctx, user_id: str) -> User:
        user = await directory.user(user_id) if decode_id(Kind.USER, user_id) else None
        if user is None or user.team_id != ctx.user.team_id or user.deleted:
            raise ApiError(Code.USER_NOT_FOUND, data={"user": user_id})
        return user

    async def info(ctx: Ctx, args: Args) -> dict[str, Any]:
        user_id = args.str("user", max_len=32) or ctx.user.id
        if user_id != ctx.user.id:
            await teammate(ctx, user_id)
        mine = await settings_of(user_id)
        status = dnd.status(mine, _now())
        out = _public(status)
        if user_id == ctx.user.id:
            out.update(_snooze(status))
            if mine.schedule is not None:  # Parley's extension
                s = mine.schedule
                out["dnd_schedule"] = {"start": _clock(s.start), "end": _clock(s.end), "tz": s.tz}
        return out

    async def team_info(ctx: Ctx, args: Args) -> dict[str, Any]:
        user_ids = args.list("users", required=True, max_items=MAX_USERS)
        for user_id in user_ids:
            await teammate(ctx, user_id)
        found = await directory.dnd(user_ids)
        now = _now()
        return {"users": {u: _public(dnd.status(found.get(u, dnd.Dnd()), now)) for u in user_ids}}

    async def set_snooze(ctx: Ctx, args: Args) -> dict[str, Any]:
        minutes = args.int("num_minutes", default=0, lo=0, hi=MAX_SNOOZE_MINUTES)
        if not minutes:
            raise ApiError(
                Code.INVALID_ARGUMENTS,
                data={"arg": "num_minutes", "detail": "num_minutes (1 or more) is required"},
            )
        mine = await settings_of(ctx.user.id)
        now = _now()
        updated = dnd.Dnd(now + minutes * 60, mine.schedule, mine.off_until)
        await directory.set_dnd(ctx.user.id, updated)
        return _snooze(dnd.status(updated, now))

    async def end_snooze(ctx: Ctx, args: Args) -> dict[str, Any]:
        mine = await settings_of(ctx.user.id)
        now = _now()
        if mine.snooze_until <= now:
            raise ApiError(Code.SNOOZE_NOT_ACTIVE)
        updated = dnd.Dnd(0, mine.schedule, mine.off_until)
        await directory.set_dnd(ctx.user.id, updated)
        status = dnd.status(updated, now)
        return {**_public(status), "snooze_enabled": False}

    async def end_dnd(ctx: Ctx, args: Args) -> dict[str, Any]:
        mine = await settings_of(ctx.user.id)
        updated = dnd.ended(mine, _now())
        if updated != mine:
            await directory.set_dnd(ctx.user.id, updated)
        return {}

    async def set_schedule(ctx: Ctx, args: Args) -> dict[str, Any]:
        start_text = args.str("start", max_len=5)
        end_text = args.str("end", max_len=5)
        mine = await settings_of(ctx.user.id)
        schedule = None
        if start_text or end_text:
            start = dnd.parse_clock(start_text or "")
            end = dnd.parse_clock(end_text or "")
            if start is None or end is None:
                raise ApiError(
                    Code.INVALID_ARGUMENTS,
                    data={"arg": "start", "detail": "start and end are HH:MM, 00:00 to 23:59"},
                )
            tz = args.str("tz", default="UTC", max_len=64) or "UTC"
            if dnd.zone(tz) is None:
                raise ApiError(
                    Code.INVALID_ARGUMENTS,
                    data={"arg": "tz", "detail": "tz is an IANA time zone, as Europe/Paris"},
                )
            schedule = dnd.Schedule(start, end, tz)
        updated = dnd.Dnd(mine.snooze_until, schedule)
        await directory.set_dnd(ctx.user.id, updated)
        return _public(dnd.status(updated, _now()))

    api.add("dnd.info", info, read=True)
    api.add("dnd.teamInfo", team_info, read=True)
    api.add("dnd.setSnooze", set_snooze)
    api.add("dnd.endSnooze", end_snooze)
    api.add("dnd.endDnd", end_dnd)
    api.add("dnd.setSchedule", set_schedule)
