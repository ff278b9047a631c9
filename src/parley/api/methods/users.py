"""``users.list``, ``users.info``, ``users.getPresence``, ``users.setPresence``,
``users.conversations``, ``users.lookupByEmail``, ``users.profile.get``,
``users.profile.set``, ``users.setPhoto``, ``users.deletePhoto``, ``bots.info``.

Email addresses show only to tokens with ``users:read.email``, as in Slack. A user sets
their own profile (:mod:`parley.pipeline.profiles`); the team hears of it
(``user_change``). A user who sets themselves away shows away while connected
(:mod:`parley.gateway.presence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from parley import photos, wire
from parley.api import paging
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.conversations import types_filter
from parley.api.methods.ims import Closing
from parley.apps.callback import app_id
from parley.errors import ApiError, Code
from parley.gateway import presence
from parley.ids import Kind, decode_id, wall_us
from parley.pipeline import events, profiles
from parley.storage.models import User

if TYPE_CHECKING:
    from parley.app import Services

INVALID_PRESENCE = "invalid_presence"


def register(api: Api, svc: Services) -> None:
    closing = Closing(svc.directory, svc.store, svc.bus)

    def shown(ctx: Ctx, u: User) -> dict[str, Any]:
        """``u`` as the caller may see them (their email with ``users:read.email``)."""
        email = "users:read.email" in ctx.scopes
        return wire.user(u, now_s=wall_us() // 1_000_000, email=email, base_url=ctx.base_url)

    async def team_user(ctx: Ctx, user_id: str | None) -> User:
        """The caller's teammate ``user_id``, else ``user_not_found``."""
        user = None
        if user_id and decode_id(Kind.USER, user_id) is not None:
            user = await svc.directory.user(user_id)
        if user is None or user.team_id != ctx.user.team_id:
            raise ApiError(Code.USER_NOT_FOUND)
        return user

    async def users_list(ctx: Ctx, args: Args) -> dict[str, Any]:
        limit = paging.limit(args, default=200, maximum=1000)
        after = paging.after_key(args, "users") or ""
        page = await svc.directory.users(ctx.user.team_id, after, limit)
        last = page.rows[-1].id if page.rows else None
        return {
            "members": [shown(ctx, u) for u in page.rows],
            "cache_ts": 0,
            **paging.metadata("users", last, page.has_more),
        }

    async def conversations(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The conversations ``user`` (the caller when left out) is a member of, of the
        ``types`` asked (``public_channel`` by default), by id. For another user, private
        channels and direct messages only where the caller is a member too: nothing the
        caller could not see."""
        types = types_filter(args)
        types.require(ctx.scopes)
        user_id = args.str("user", max_len=32) or ctx.user.id
        if user_id != ctx.user.id:
            await team_user(ctx, user_id)
        limit = paging.limit(args, default=100, maximum=1000)
        page = await svc.directory.channels(
            ctx.user.team_id,
            user_id,
            exclude_archived=args.bool("exclude_archived"),
            after=paging.after_key(args, "channels") or "",
            limit=limit,
            member_only=True,
            viewer=ctx.user.id,
            **types._asdict(),
        )
        direct = [c for c, _n, _m in page.rows if c.is_im or c.is_mpim]
        # is_open is the caller's own: what another closed is theirs to know
        own = user_id == ctx.user.id and direct
        shut = await closing.closed(ctx.user.id, direct) if own else set()
        listed = []
        for c, n, mine in page.rows:  # is_member, as everywhere, says the caller's
            other = (
                wire.im_user(c, await svc.access.members(c.id), ctx.user.id) if c.is_im else None
            )
            listed.append(
                wire.channel(
                    c, is_member=mine, num_members=n, im_user=other, is_open=c.id not in shut
                )
            )
        last = page.rows[-1][0].id if page.rows else None
        return {"channels": listed, **paging.metadata("channels", last, page.has_more)}

    async def users_info(ctx: Ctx, args: Args) -> dict[str, Any]:
        user_id = args.str("user", required=True, missing=Code.USER_NOT_FOUND, max_len=32)
        return {"user": shown(ctx, await team_user(ctx, user_id))}

    async def bots_info(ctx: Ctx, args: Args) -> dict[str, Any]:
        """A bot of the caller's team (``bot``: its ``B…`` id; ``bot_not_found``)."""
        bot_id = args.str("bot", max_len=32)
        user = await svc.directory.bot_user(bot_id) if bot_id else None
        if user is None or user.team_id != ctx.user.team_id:
            raise ApiError("bot_not_found")
        return {
            "bot": {
                "id": user.bot_id,
                "deleted": user.deleted,
                "name": user.name,
                "updated": user.created // 1_000_000,
                "app_id": app_id(user),
                "user_id": user.id,
                "icons": {},
            }
        }

    async def lookup_by_email(ctx: Ctx, args: Args) -> dict[str, Any]:
        email = args.str("email", required=True, missing="users_not_found", max_len=254)
        user = await svc.directory.user_by_email(ctx.user.team_id, email.strip().lower())
        if user is None:
            raise ApiError("users_not_found")
        return {"user": shown(ctx, user)}

    async def profile_get(ctx: Ctx, args: Args) -> dict[str, Any]:
        user = await team_user(ctx, args.str("user", max_len=32) or ctx.user.id)
        return {"profile": shown(ctx, user)["profile"]}

    async def profile_set(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The caller's own profile (another ``user``'s: ``not_authorized``; in Slack
        only admins may): ``profile``, a JSON object of fields, or ``name`` and ``value``
        for one (:mod:`parley.pipeline.profiles`). The team gets ``user_change``."""
        target = args.str("user", max_len=32)
        if target and target != ctx.user.id:
            raise ApiError(Code.NOT_AUTHORIZED)
        raw, name = args.raw("profile"), args.str("name", max_len=64)
        if isinstance(raw, str) and raw:
            try:
                raw = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ApiError(profiles.INVALID_PROFILE) from None
        if isinstance(raw, dict) and raw:
            changes = raw
        elif name:
            changes = {name: args.raw("value") or ""}
        else:
            raise ApiError(profiles.INVALID_PROFILE)
        user = await svc.directory.edit_profile(ctx.user.id, changes)
        if user is None:
            raise ApiError(Code.USER_NOT_FOUND)
        svc.bus.publish(events.user_change(user, wall_us()))
        return {"profile": shown(ctx, user)["profile"]}

    async def photo(ctx: Ctx, image: bytes | None) -> dict[str, Any]:
        """The caller's photo set to ``image`` (checked: :func:`.photos.checked`), or
        with ``None`` gone; the team hears ``user_change``."""
        if ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        now = wall_us()
        if image is None:
            change = None
        else:
            kind = photos.checked(image)
            change = (kind, image, photos.path(ctx.user.team_id, ctx.user.id, now))
        user = await svc.directory.set_avatar(ctx.user.id, change, now)
        if user is None:
            raise ApiError(Code.USER_NOT_FOUND)
        svc.bus.publish(events.user_change(user, now))
        return {"profile": shown(ctx, user)["profile"]}

    async def set_photo(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The caller's photo, ``image`` (a file; :mod:`parley.photos`); Slack's crop
        arguments are taken and ignored. The team gets ``user_change``."""
        return await photo(ctx, args.file("image") or b"")

    async def delete_photo(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The caller's photo gone; the team gets ``user_change``."""
        return await photo(ctx, None)

    async def get_presence(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Presence anywhere in the fleet (:mod:`parley.gateway.presence`), not only on
        the node that answers, as people see it; for the caller also whether they are
        connected (``online``) and set themselves away (``manual_away``), as Slack's."""
        user = await team_user(ctx, args.str("user", max_len=32) or ctx.user.id)
        online = await svc.presence.online(ctx.user.team_id, [user.id])
        away = {user.id} if user.away else set()
        answer: dict[str, Any] = {"presence": presence.shown(online, away, user.id)}
        if user.id == ctx.user.id:
            answer.update(online=user.id in online, auto_away=False, manual_away=user.away)
        return answer

    async def set_presence(ctx: Ctx, args: Args) -> dict[str, Any]:
        """``auto`` (shown by their connections) or ``away`` (shown away until set
        ``auto``): those watching see the change at once if the caller is connected."""
        wanted = args.str("presence", required=True, missing=INVALID_PRESENCE, max_len=8)
        if wanted not in ("auto", "away"):
            raise ApiError(INVALID_PRESENCE)
        user = ctx.user
        await svc.directory.set_away(user.id, wanted == "away")
        if user.id in await svc.presence.online(user.team_id, [user.id]):
            state = "away" if wanted == "away" else "active"
            svc.bus.publish(events.presence(user.team_id, user.id, state, wall_us()))
        return {}

    api.add("users.list", users_list, read=True)
    api.add("users.conversations", conversations, read=True)
    api.add("users.info", users_info, read=True)
    api.add("users.getPresence", get_presence, read=True)
    api.add("users.setPresence", set_presence)
    api.add("users.lookupByEmail", lookup_by_email, read=True)
    api.add("bots.info", bots_info, read=True)
    api.add("users.profile.get", profile_get, read=True)
    api.add("users.profile.set", profile_set)
    api.add("users.setPhoto", set_photo)
    api.add("users.deletePhoto", delete_photo)
