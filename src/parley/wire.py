"""Slack's wire shapes for Parley's rows: what the Web API returns and events carry.

Pure functions from frozen rows to JSON-ready dicts. Parley's extensions to Slack's
message object: ``seq`` (the gap-free position in the channel) and ``edit_version``
(how many times it was edited; ``chat.update`` takes it as a precondition).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import orjson

from parley.ids import format_ts
from parley.pipeline import profiles
from parley.storage.models import Bookmark, Channel, Message, StoredFile, Team, User, UserGroup

#: What a deleted message that keeps its thread says instead of its text (Slack's).
TOMBSTONE_TEXT = "This message was deleted."


def message(m: Message) -> dict[str, Any]:
    if m.deleted:
        return tombstone(m)
    out: dict[str, Any] = {
        "type": "message",
        "user": m.user,
        "text": m.text,
        "ts": format_ts(m.ts),
        "team": m.team,
        "channel": m.channel,
        "seq": m.seq,
        "edit_version": m.version,
    }
    if m.bot_id:
        out["bot_id"] = m.bot_id
    if m.subtype:
        out["subtype"] = m.subtype
    if m.client_msg_id:
        out["client_msg_id"] = m.client_msg_id
    _thread(m, out)
    if m.edited_ts is not None and not m.deleted:
        out["edited"] = {"user": m.edited_by or m.user, "ts": format_ts(m.edited_ts)}
    if m.rich:
        out.update(orjson.loads(m.rich))  # blocks, attachments: stored as validated JSON
    if m.reactions:
        out["reactions"] = [
            {"name": r.name, "users": list(r.users), "count": len(r.users)} for r in m.reactions
        ]
    return out


def tombstone(m: Message) -> dict[str, Any]:
    """A deleted message as Slack shows one whose thread lives on: no text, author,
    reactions or content of its own; its place, ``seq`` and thread."""
    out: dict[str, Any] = {
        "type": "message",
        "subtype": "tombstone",
        "hidden": True,
        "user": "USLACKBOT",
        "text": TOMBSTONE_TEXT,
        "ts": format_ts(m.ts),
        "team": m.team,
        "channel": m.channel,
        "seq": m.seq,
        "edit_version": m.version,
    }
    _thread(m, out)
    return out


def _thread(m: Message, out: dict[str, Any]) -> None:
    """The thread a message is in, or that it leads (with its replies' summary)."""
    if m.thread_ts is not None:
        out["thread_ts"] = format_ts(m.thread_ts)
    if m.reply_count or m.latest_reply is not None:
        out["thread_ts"] = format_ts(m.ts)
        out["reply_count"] = m.reply_count
        out["reply_users"] = list(m.reply_users[:5])
        out["reply_users_count"] = len(m.reply_users)
        if m.latest_reply is not None:
            out["latest_reply"] = format_ts(m.latest_reply)


def im_user(c: Channel, members: Iterable[str], viewer: str) -> str | None:
    """For a direct message, the member other than ``viewer`` (``viewer`` for a note to
    self); ``None`` for a channel."""
    if not c.is_im:
        return None
    return next((m for m in members if m != viewer), viewer)


def channel(
    c: Channel,
    *,
    is_member: bool,
    num_members: int | None = None,
    im_user: str | None = None,
    is_open: bool = True,
) -> dict[str, Any]:
    """``c`` as Slack shows a conversation; ``is_open``: for a direct or group direct
    message, whether the caller has it open (not closed, ``conversations.close``)."""
    if c.is_im:
        return {
            "id": c.id,
            "is_im": True,
            "is_channel": False,
            "is_group": False,
            "is_mpim": False,
            "is_private": True,
            "is_archived": c.is_archived,
            "is_org_shared": False,
            "is_member": is_member,
            "is_open": is_open,
            "user": im_user or "",
            "created": c.created // 1_000_000,
            "context_team_id": c.team_id,
            "priority": 0,
        }
    out: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "name_normalized": c.name,
        "is_channel": not c.is_mpim,
        "is_group": c.is_mpim,  # Slack's group direct messages began as groups
        "is_im": False,
        "is_mpim": c.is_mpim,
        "is_private": c.is_private,
        "is_archived": c.is_archived,
        "is_general": False,
        "is_shared": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "is_member": is_member,
        "created": c.created // 1_000_000,
        "creator": c.creator,
        "context_team_id": c.team_id,
        "topic": {"value": c.topic, "creator": "", "last_set": 0},
        "purpose": {"value": c.purpose, "creator": "", "last_set": 0},
    }
    if c.is_mpim:
        out["is_open"] = is_open
    if num_members is not None:
        out["num_members"] = num_members
    return out


def user(
    u: User, *, now_s: int | None = None, email: bool = False, base_url: str = ""
) -> dict[str, Any]:
    """``u`` as Slack's user object. ``now_s``: a status expired by then reads as none;
    ``email``: the caller may see email addresses (scope ``users:read.email``);
    ``base_url``: the server as the caller reached it, for the photo's URL (``""``: its
    path)."""
    profile_of = profile(u, now_s=now_s, email=email, base_url=base_url)
    return {**_user_fields(u), "profile": profile_of}


def profile(
    u: User, *, now_s: int | None = None, email: bool = False, base_url: str = ""
) -> dict[str, Any]:
    """``u``'s profile as Slack shows it, with what the user set of it
    (:mod:`parley.pipeline.profiles`)."""
    out: dict[str, Any] = {
        "real_name": u.real_name or u.name,
        "display_name": u.name,  # until the user sets one
        "real_name_normalized": u.real_name or u.name,
        "team": u.team_id,
        **profiles.view(profiles.stored(u.profile), now_s, base_url),
    }
    out["display_name_normalized"] = out["display_name"]
    if email and u.email:
        out["email"] = u.email
    if u.bot_id:
        out["bot_id"] = u.bot_id
    return out


def _user_fields(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "team_id": u.team_id,
        "name": u.name,
        "real_name": u.real_name or u.name,
        "deleted": u.deleted,
        "is_bot": u.is_bot,
        "is_app_user": False,
        "is_admin": False,
        "is_owner": False,
        "updated": u.created // 1_000_000,
    }


def team(t: Team) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "domain": t.domain}


def file(
    f: StoredFile,
    base_url: str,
    shared_in: Iterable[Channel] = (),
    public_secret: str | None = None,
) -> dict[str, Any]:
    """``f`` as Slack's file object, its URLs on ``base_url`` (the server as the caller
    reached it): ``url_private`` needs the caller's token (or session), as Slack's.
    ``shared_in``: the channels of ``f.channels`` the caller may see, listed by kind
    (``channels`` public, ``groups`` private and group direct messages, ``ims``);
    ``public_secret``: its public link's (``permalink_public``), when it has one."""
    url = f"{base_url}files/{f.id}/{quote(f.name, safe='')}"
    kinds: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
    for c in shared_in:
        kinds["ims" if c.is_im else "groups" if c.is_private else "channels"].append(c.id)
    extension = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else ""
    return {
        "id": f.id,
        "created": f.created // 1_000_000,
        "timestamp": f.created // 1_000_000,
        "name": f.name,
        "title": f.title,
        "mimetype": f.mimetype,
        "filetype": extension or "binary",
        "pretty_type": extension.upper() or "Binary",
        "user": f.user_id,
        "user_team": f.team_id,
        "editable": False,
        "size": f.size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": bool(kinds["channels"]),
        "public_url_shared": public_secret is not None,
        **(
            {"permalink_public": f"{base_url}files/public/{f.id}/{public_secret}"}
            if public_secret is not None
            else {}
        ),
        "display_as_bot": False,
        "username": "",
        "url_private": url,
        "url_private_download": f"{url}?download=1",
        "permalink": url,
        "comments_count": 0,
        "is_starred": False,
        "has_rich_preview": False,
        **kinds,
    }


def bookmark(b: Bookmark, team_id: str) -> dict[str, Any]:
    """A channel's bookmark, as Slack's ``bookmarks.*`` show it."""
    return {
        "id": b.id,
        "channel_id": b.channel_id,
        "title": b.title,
        "link": b.link,
        "emoji": b.emoji or None,
        "icon_url": None,
        "type": "link",
        "entity_id": None,
        "date_created": b.created // 1_000_000,
        "date_updated": b.updated // 1_000_000,
        "rank": "",
        "last_updated_by_user_id": b.updated_by,
        "last_updated_by_team_id": team_id,
        "shortcut_id": None,
        "app_id": None,
    }


def usergroup(g: UserGroup, *, include_users: bool = False) -> dict[str, Any]:
    """``g`` as Slack's user group object (``users`` with ``include_users``)."""
    out: dict[str, Any] = {
        "id": g.id,
        "team_id": g.team_id,
        "is_usergroup": True,
        "is_subteam": True,
        "name": g.name,
        "description": g.description,
        "handle": g.handle,
        "is_external": False,
        "date_create": g.created // 1_000_000,
        "date_update": g.updated // 1_000_000,
        "date_delete": g.updated // 1_000_000 if g.disabled else 0,
        "auto_type": None,
        "created_by": g.created_by,
        "updated_by": g.created_by,
        "deleted_by": None,
        "prefs": {"channels": [], "groups": []},
        "user_count": len(g.users),
    }
    if include_users:
        out["users"] = list(g.users)
    return out
