"""The one interface of push providers (APNs, FCM), and what a send comes to.

A provider sends one notice to one device and says what became of it as a
:class:`Result`: ``sent``; ``gone`` (the provider says the token is dead: the device is
forgotten); ``retry`` (429, 5xx, a connection failure: try again later, after
``after`` seconds when the provider said); ``failed`` (refused for good, such as a
payload the provider will never take: logged, not retried). A provider never raises for
what the network or the provider did; it raises only for a bug of ours.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from parley.notify.devices import Device
from parley.notify.payloads import Notice

SENT, GONE, RETRY, FAILED = "sent", "gone", "retry", "failed"


class Result(msgspec.Struct, frozen=True):
    outcome: str  # SENT | GONE | RETRY | FAILED
    #: The provider's reason (``BadDeviceToken``, ``UNREGISTERED``, ``503``...), for logs.
    reason: str = ""
    #: Seconds the provider asked us to wait (``Retry-After``), when it did.
    after: float | None = None


class Provider(Protocol):
    #: The devices' platform it serves (``apns`` or ``fcm``).
    platform: str

    async def send(self, device: Device, notice: Notice) -> Result:
        """Pushes ``notice`` to ``device``; never raises for the network or the provider."""
        ...

    async def close(self) -> None: ...


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header's seconds (the HTTP-date form is not used by APNs or FCM
    and reads as absent)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None
