"""``usergroups.create``, ``list``, ``update``, ``disable``, ``enable``,
``usergroups.users.list`` and ``usergroups.users.update``: user groups, as Slack's.

A group has a name and a handle, each unique in the workspace (``name_already_exists``,
``handle_already_exists``); a message that mentions it (``<!subteam^S…>``, typed as
``@handle`` in the web client) mentions each of its members: they are pushed as for a
mention of themselves. A disabled group is kept (``enable`` brings it back) but listed
only with ``include_disabled`` and mentions nobody. Every change reaches the team as
``subteam_created`` or ``subteam_updated`` (with the members). Anyone in the workspace
may manage groups (Parley has no workspace admins)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from parley import wire
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError
from parley.ids import Kind, decode_id, encode_id, wall_us
from parley.pipeline import events
from parley.storage.models import UserGroup

if TYPE_CHECKING:
    from parley.app import Services

_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,20}$")
NO_SUCH_SUBTEAM = "no_such_subteam"
#: Members a group has at most.
MAX_USERS = 1000


def check_handle(handle: str) -> str:
    """A handle: lower-case letters, digits, ``.``, ``_`` and ``-``, at most 21."""
    if not _HANDLE.match(handle):
        detail = "lower-case letters, digits, '.', '_' and '-', at most 21"
        raise ApiError("invalid_handle", data={"detail": detail})
    return handle


def handle_of(name: str) -> str:
    """The handle a group named ``name`` gets when it is given none."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:21]


def register(api: Api, svc: Services) -> None:
    directory, bus = svc.directory, svc.bus

    async def of_team(ctx: Ctx, args: Args) -> UserGroup:
        group_id = args.str("usergroup", required=True, missing=NO_SUCH_SUBTEAM, max_len=32)
        group = await directory.group(group_id) if decode_id(Kind.SUBTEAM, group_id) else None
        if group is None or group.team_id != ctx.user.team_id:
            raise ApiError(NO_SUCH_SUBTEAM)
        return group

    async def changed(group_id: str, kind: str = "subteam_updated") -> dict[str, Any]:
        group = await directory.group(group_id)
        assert group is not None
        bus.publish(events.usergroup_changed(kind, group, wall_us()))
        return {"usergroup": wire.usergroup(group, include_users=True)}

    async def create(ctx: Ctx, args: Args) -> dict[str, Any]:
        name = args.str("name", required=True, missing="missing_subteam_name", max_len=255) or ""
        name = name.strip()
        if not name:
            raise ApiError("missing_subteam_name")
        handle = check_handle(args.str("handle", max_len=64) or handle_of(name))
        now = wall_us()
        group = UserGroup(
            id=encode_id(Kind.SUBTEAM, svc.ids.next()),
            team_id=ctx.user.team_id,
            name=name,
            handle=handle,
            description=args.str("description", default="", max_len=1000) or "",
            created_by=ctx.user.id,
            created=now,
            updated=now,
        )
        await directory.create_group(group)
        return await changed(group.id, "subteam_created")

    async def list_(ctx: Ctx, args: Args) -> dict[str, Any]:
        groups = await directory.groups(ctx.user.team_id, args.bool("include_disabled"))
        users = args.bool("include_users")
        return {"usergroups": [wire.usergroup(g, include_users=users) for g in groups]}

    async def update(ctx: Ctx, args: Args) -> dict[str, Any]:
        group = await of_team(ctx, args)
        name = (args.str("name", max_len=255) or group.name).strip() or group.name
        handle = check_handle(args.str("handle", max_len=64) or group.handle)
        description = args.str("description", max_len=1000)
        description = group.description if description is None else description
        await directory.update_group(group.id, name, handle, description, wall_us())
        return await changed(group.id)

    async def set_disabled(ctx: Ctx, args: Args, disabled: bool) -> dict[str, Any]:
        group = await of_team(ctx, args)
        await directory.set_group_disabled(group.id, disabled, wall_us())
        return await changed(group.id)

    async def disable(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await set_disabled(ctx, args, True)

    async def enable(ctx: Ctx, args: Args) -> dict[str, Any]:
        return await set_disabled(ctx, args, False)

    async def users_list(ctx: Ctx, args: Args) -> dict[str, Any]:
        group = await of_team(ctx, args)
        if group.disabled and not args.bool("include_disabled"):
            raise ApiError(NO_SUCH_SUBTEAM)
        return {"users": list(group.users)}

    async def users_update(ctx: Ctx, args: Args) -> dict[str, Any]:
        group = await of_team(ctx, args)
        ids = args.list("users", required=True, missing="invalid_users", max_items=MAX_USERS)
        for user_id in dict.fromkeys(ids):
            user = await directory.user(user_id) if decode_id(Kind.USER, user_id) else None
            if user is None or user.team_id != ctx.user.team_id or user.deleted:
                raise ApiError("invalid_users", data={"user": user_id})
        await directory.set_group_members(group.id, list(dict.fromkeys(ids)), wall_us())
        return await changed(group.id)

    api.add("usergroups.create", create)
    api.add("usergroups.list", list_, read=True)
    api.add("usergroups.update", update)
    api.add("usergroups.disable", disable)
    api.add("usergroups.enable", enable)
    api.add("usergroups.users.list", users_list, read=True)
    api.add("usergroups.users.update", users_update)
