"""``apps.connections.open``: a Socket Mode connection's URL for an app-level token
(scope ``connections:write``); see :mod:`parley.gateway.socket_mode`. And
``oauth.v2.access``: an app installed with OAuth exchanges its code for tokens, and
``apps.uninstall``: it revokes them; Sign in with Slack's ``openid.connect.token`` and
``openid.connect.userInfo`` (:mod:`parley.apps.installs`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.api.methods.rtm import gateway_url
from parley.pipeline.auth import hash_token

if TYPE_CHECKING:
    from parley.app import Services


def register(api: Api, svc: Services) -> None:
    async def connections_open(ctx: Ctx, args: Args) -> dict[str, Any]:
        """A single-use URL, valid for a short while, that opens one Socket Mode
        connection for the token's app (its bot user)."""
        token = hash_token(ctx.token).hex() if ctx.token else ""
        ticket = await svc.tickets.issue(ctx.user, None, ctx.scopes, token, socket=True)
        return {"url": gateway_url(svc, ctx, ticket) + "&socket=1"}

    api.add("apps.connections.open", connections_open)
    if svc.installs is not None:
        api.add_public("oauth.v2.access", svc.installs.access)
        api.add("apps.uninstall", svc.installs.uninstall)
        api.add_public("openid.connect.token", svc.installs.openid_token)
        api.add("openid.connect.userInfo", svc.installs.user_info, read=True)
