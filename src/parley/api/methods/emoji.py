"""A workspace's own emoji (:mod:`parley.custom_emoji`): Slack's ``emoji.list`` for
everyone (scope ``emoji:read``), and the operator's ``admin.emoji.add`` (``name`` and
Slack's ``url``, which the server fetches, or Parley's ``image``: the image's bytes in
base64), ``admin.emoji.addAlias`` (``name``, ``alias_for``), ``admin.emoji.remove``
(``name``) and ``admin.emoji.list`` (scope ``admin.teams:write``, which no token has by
default), each for the caller's own workspace."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.custom_emoji import MAX_IMAGE
from parley.errors import ApiError
from parley.ids import format_ts, wall_us

if TYPE_CHECKING:
    from parley.app import Services


def _image(args: Args) -> bytes | None:
    text = args.str("image", max_len=(MAX_IMAGE * 4) // 3 + 8)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("error_bad_format") from exc


def register(api: Api, svc: Services) -> None:
    async def listing(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.custom_emoji is not None
        emoji = await svc.custom_emoji.listing(ctx.user.team_id, ctx.base_url)
        return {"emoji": emoji, "cache_ts": format_ts(wall_us())}

    async def admin_list(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.custom_emoji is not None
        emoji = await svc.custom_emoji.listing(ctx.user.team_id, ctx.base_url)
        return {"emoji": {name: {"url": value} for name, value in emoji.items()}}

    async def add(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.custom_emoji is not None
        name = args.str("name", required=True, max_len=102)
        url = args.str("url", max_len=2000)
        await svc.custom_emoji.add(ctx.user, name, ctx.base_url, url=url, image=_image(args))
        return {}

    async def add_alias(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.custom_emoji is not None
        name = args.str("name", required=True, max_len=102)
        target = args.str("alias_for", required=True, max_len=102)
        await svc.custom_emoji.alias(ctx.user, name, target, ctx.base_url)
        return {}

    async def remove(ctx: Ctx, args: Args) -> dict[str, Any]:
        assert svc.custom_emoji is not None
        await svc.custom_emoji.remove(ctx.user, args.str("name", required=True, max_len=102))
        return {}

    api.add("emoji.list", listing, read=True)
    api.add("admin.emoji.list", admin_list, read=True)
    api.add("admin.emoji.add", add)
    api.add("admin.emoji.addAlias", add_alias)
    api.add("admin.emoji.remove", remove)
