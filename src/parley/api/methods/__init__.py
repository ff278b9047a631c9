"""One module per method family; each has ``register(api, svc)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.api.methods import (
    admin,
    apps,
    assistant,
    auth,
    bookmarks,
    chat,
    conversations,
    dnd,
    emoji,
    files,
    pins,
    push,
    reactions,
    reminders,
    rtm,
    search,
    stars,
    streams,
    team,
    usergroups,
    users,
    views,
)

if TYPE_CHECKING:
    from parley.api.dispatch import Api
    from parley.app import Services


def register_all(api: Api, svc: Services) -> None:
    for family in (
        auth,
        team,
        users,
        conversations,
        chat,
        streams,
        assistant,
        reactions,
        pins,
        stars,
        bookmarks,
        files,
        rtm,
        search,
        dnd,
        push,
        admin,
        apps,
        views,
        usergroups,
        emoji,
        reminders,
    ):
        family.register(api, svc)
