"""Parley's extension for mobile push: ``push.register``, ``push.unregister`` and
``push.list``, a user's devices (``parley.notify.devices``). Slack registers devices
through its own apps; a Parley client registers the APNs or FCM token it got from the
platform (``device_token``: ``token`` is the API token's argument), and offline members
are pushed to every device they registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.ids import wall_us
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

    api.add("push.register", register_device)
    api.add("push.unregister", unregister_device)
    api.add("push.list", list_devices, read=True)
