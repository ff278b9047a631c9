"""``rtm.connect``: a WebSocket URL carrying a short-lived, single-use ticket (never the
token), plus who the caller is. ``resume`` (a JSON object, channel id -> last seq held)
makes the new connection replay what was missed first (:mod:`parley.gateway.resume`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.gateway.resume import parse_resume
from parley.pipeline.auth import hash_token

if TYPE_CHECKING:
    from parley.app import Services


def gateway_url(svc: Services, ctx: Ctx, ticket: str) -> str:
    """The gateway's WebSocket URL carrying ``ticket``: ``PARLEY_GATEWAY_URL``, or this
    node's gateway port on the host the caller reached."""
    host = urlsplit(ctx.base_url).hostname or svc.settings.host
    if ":" in host:
        host = f"[{host}]"
    base = svc.settings.gateway_url or f"ws://{host}:{svc.gateway_port}/"
    return f"{base}{'&' if '?' in base else '?'}ticket={ticket}"


def register(api: Api, svc: Services) -> None:
    async def connect(ctx: Ctx, args: Args) -> dict[str, Any]:
        resume = parse_resume(args.raw("resume"))
        ticket = await svc.tickets.issue(
            ctx.user, resume, ctx.scopes, hash_token(ctx.token).hex() if ctx.token else ""
        )
        team = await svc.directory.team(ctx.user.team_id)
        return {
            "url": gateway_url(svc, ctx, ticket),
            "self": {"id": ctx.user.id, "name": ctx.user.name},
            "team": {
                "id": ctx.user.team_id,
                "name": team.name if team else "",
                "domain": team.domain if team else "",
            },
        }

    api.add("rtm.connect", connect, read=True)
