"""Parley's extension for mobile push: ``push.register``, ``push.unregister`` and
``push.list``, a user's devices (``parley.notify.devices``); ``push.getPrefs`` and
``push.setPrefs``, their notification preferences (``parley.notify.prefs``). Slack registers devices
through its own apps; a Parley client registers the APNs or FCM token it got from the
platform (``device_token``: ``token`` is the API token's argument), and offline members
are pushed to every device they registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import wall_us
from parley.notify import prefs
from parley.notify.devices import MAX_PER_USER, PLATFORMS, Device, valid

if TYPE_CHECKING:
    from parley.app import Services


def _device(args: Args) -> tuple[str, str]:
    platform = (args.str("platform", required=True, max_len=8) or "").lower()
    token = args.str("device_token", required=True, max_len=4096) or ""
    if platform not in PLATFORMS:
        raise ApiError(
            Code.INVALID_ARGUMENTS,
            data={"arg": "platform", "detail": f"platform is one of: {', '.join(PLATFORMS)}"},
        )
    if not valid(platform, token):
        detail = (
            "an APNs token is 64 to 200 hex digits; an FCM token 8 to 4096 of A-Z a-z 0-9 _ : -"
        )
        raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "device_token", "detail": detail})
    return platform, token


def _wire(device: Device) -> dict[str, Any]:
    return {"platform": device.platform, "token": device.token, "created": device.created // 10**6}


def _prefs_wire(p: prefs.Prefs) -> dict[str, Any]:
    return {"level": p.level, "keywords": list(p.keywords), "muted_channels": list(p.muted)}


def _changed_prefs(args: Args, mine: prefs.Prefs) -> prefs.Prefs:
    """``mine`` with what the arguments set (an argument left out keeps its value; an
    empty one clears a list)."""
    level = mine.level
    if args.has("level"):
        level = (args.str("level", max_len=16) or "").lower()
        if level not in prefs.LEVELS:
            detail = f"level is one of: {', '.join(prefs.LEVELS)}"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "level", "detail": detail})
    words = mine.keywords
    if args.has("keywords"):
        found = prefs.keywords(args.list("keywords", max_items=prefs.MAX_KEYWORDS))
        if found is None:
            detail = f"at most {prefs.MAX_KEYWORDS} keywords of 1 to {prefs.MAX_KEYWORD} characters"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "keywords", "detail": detail})
        words = found
    muted = mine.muted
    if args.has("muted_channels"):
        found = prefs.muted(args.list("muted_channels", max_items=prefs.MAX_MUTED))
        if found is None:
            detail = "channel ids, comma-separated"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "muted_channels", "detail": detail})
        muted = found
    return prefs.Prefs(level, words, muted)


def register(api: Api, svc: Services) -> None:
    directory = svc.directory

    async def register_device(ctx: Ctx, args: Args) -> dict[str, Any]:
        platform, token = _device(args)
        device = Device(platform, token, ctx.user.id, wall_us())
        if not await directory.add_device(device, MAX_PER_USER):
            raise ApiError(Code.TOO_MANY_DEVICES, data={"limit": MAX_PER_USER})
        return {"device": _wire(device)}

    async def unregister_device(ctx: Ctx, args: Args) -> dict[str, Any]:
        platform, token = _device(args)
        if not await directory.remove_device(platform, token, ctx.user.id):
            raise ApiError(Code.DEVICE_NOT_FOUND)
        return {}

    async def list_devices(ctx: Ctx, args: Args) -> dict[str, Any]:
        return {"devices": [_wire(d) for d in await directory.devices([ctx.user.id])]}

    async def get_prefs(ctx: Ctx, args: Args) -> dict[str, Any]:
        mine = (await directory.push_prefs([ctx.user.id])).get(ctx.user.id, prefs.DEFAULT)
        return {"prefs": _prefs_wire(mine)}

    async def set_prefs(ctx: Ctx, args: Args) -> dict[str, Any]:
        mine = (await directory.push_prefs([ctx.user.id])).get(ctx.user.id, prefs.DEFAULT)
        changed = _changed_prefs(args, mine)
        await directory.set_push_prefs(ctx.user.id, changed)
        return {"prefs": _prefs_wire(changed)}

    api.add("push.register", register_device)
    api.add("push.getPrefs", get_prefs, read=True)
    api.add("push.setPrefs", set_prefs)
    api.add("push.unregister", unregister_device)
    api.add("push.list", list_devices, read=True)
