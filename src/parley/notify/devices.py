"""Devices registered for push (``push.register``): a platform and the provider's device
token, owned by one user."""

from __future__ import annotations

import re

import msgspec

PLATFORMS = ("apns", "fcm")
#: Devices one user may register (a phone, a tablet, a few browsers...).
MAX_PER_USER = 20
#: APNs tokens are hex (64 characters today, longer allowed by Apple); FCM registration
#: tokens are URL-safe base64 with ``:`` (about 160 characters).
_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{8,4096}$")


class Device(msgspec.Struct, frozen=True):
    platform: str
    token: str
    user_id: str
    created: int


def valid(platform: str, token: str) -> bool:
    """Whether ``token`` can be a device token of ``platform``."""
    if platform == "apns":
        return re.fullmatch(r"[0-9a-fA-F]{64,200}", token) is not None
    return platform == "fcm" and _TOKEN.match(token) is not None
