"""Archiving and unarchiving are told, as Slack tells them: a public channel's
(``channel_archive``, ``channel_unarchive``) to the whole team, whose lists show it; a
private one's (``group_archive``, ``group_unarchive``) to its members alone."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import WsClient


def test_an_archive_is_told_to_who_lists_the_channel(server):
    ann, ben, cy = (server.user(f"arch-{n}") for n in ("ann", "ben", "cy"))
    web = server.client(ann.token)
    public = web.conversations_create(name="arch-public")["channel"]["id"]
    private = web.conversations_create(name="arch-private", is_private=True)["channel"]["id"]
    web.conversations_invite(channel=private, users=ben.user_id)

    async def scenario() -> tuple[list[dict], list[dict]]:
        ben_ws = await WsClient.open(server.client(ben.token).rtm_connect()["url"])
        cy_ws = await WsClient.open(server.client(cy.token).rtm_connect()["url"])
        await ben_ws.next(type="hello")
        await cy_ws.next(type="hello")
        web.conversations_archive(channel=public)  # cy is in neither channel
        web.conversations_unarchive(channel=public)
        web.conversations_archive(channel=private)
        heard_ben = [
            await ben_ws.next(type=kind)
            for kind in ("channel_archive", "channel_unarchive", "group_archive")
        ]
        heard_cy = [await cy_ws.next(type=k) for k in ("channel_archive", "channel_unarchive")]
        with pytest.raises(asyncio.TimeoutError):  # not the private one's
            await cy_ws.next(timeout=0.5, type="group_archive")
        ben_ws.close()
        cy_ws.close()
        return heard_ben, heard_cy

    heard_ben, heard_cy = asyncio.run(scenario())
    assert [(e["channel"], e["user"]) for e in heard_ben] == [
        (public, ann.user_id),
        (public, ann.user_id),
        (private, ann.user_id),
    ]
    assert [e["channel"] for e in heard_cy] == [public, public]
