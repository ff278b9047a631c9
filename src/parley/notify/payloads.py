"""What a push says, in each provider's format. Pure.

A :class:`Notice` is one message worth a push to one user (``parley.notify.policy``
decides who). :func:`apns` and :func:`fcm` render it: a title (the channel), a body
(the sender and a preview cut safely), and the data a client needs to deep-link (the
channel and the message ``ts``). Each push names its message (:func:`collapse_id`:
``apns-collapse-id``, Android's ``tag``): a push sent again (the worker crashed after
sending it and before recording its progress, so at-least-once sent it twice) replaces
the first on the device, and the person sees it once. On the lock screen they group by
channel (iOS's ``thread-id``); an Android device that was offline gets the newest of each
channel (``collapse_key``). :func:`summary` turns the notices held during Do Not
Disturb into one per channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import msgspec
import orjson

from parley.ids import parse_ts

#: APNs and FCM both refuse a payload above 4 KiB.
MAX_PAYLOAD = 4096


class Notice(msgspec.Struct, frozen=True):
    channel: str
    channel_name: str
    ts: str
    sender: str
    sender_name: str
    preview: str
    #: Why this user is pushed: ``mention`` or ``channel`` (``parley.notify.policy``).
    reason: str
    #: How many messages it stands for (a summary after DND: more than one).
    count: int = 1
    #: A direct message: titled with the sender, not the channel; a group one (whose
    #: ``channel_name`` is set) with its members' names.
    direct: bool = False


def group_title(name: str) -> str:
    """A group direct message's name, ``mpdm-ann--ben--cy-1``, as people read it:
    ``ann, ben, cy``."""
    names = name.removeprefix("mpdm-").rpartition("-")[0]
    return ", ".join(names.split("--"))


def _title(n: Notice) -> str:
    if not n.direct:
        return f"#{n.channel_name}"
    return group_title(n.channel_name) if n.channel_name else n.sender_name


def _body(n: Notice) -> str:
    if n.count > 1:
        return f"{n.count} new messages, the last from {n.sender_name}: {n.preview}"
    one_to_one = n.direct and not n.channel_name
    return n.preview if one_to_one else f"{n.sender_name}: {n.preview}"


def _data(n: Notice) -> dict[str, str]:
    return {"channel": n.channel, "ts": n.ts, "sender": n.sender, "count": str(n.count)}


def collapse_id(n: Notice) -> str:
    """The identity of ``n``'s push on the device: its channel and message (at most the
    64 bytes APNs allows)."""
    return f"{n.channel}:{n.ts}"[:64]


def _fit(build: Callable[[str], dict], preview: str) -> bytes:
    """The JSON ``build(preview)`` makes, the preview halved until it fits
    :data:`MAX_PAYLOAD` (a long channel or sender name leaves less room)."""
    encoded = orjson.dumps(build(preview))
    while len(encoded) > MAX_PAYLOAD and preview:
        preview = preview[: len(preview) // 2]
        encoded = orjson.dumps(build(preview))
    return encoded


def apns(n: Notice, topic: str) -> tuple[dict[str, str], bytes]:
    """The HTTP/2 headers and JSON body of an APNs alert for ``n`` (``topic``: the app's
    bundle id)."""
    headers = {
        "apns-push-type": "alert",
        "apns-topic": topic,
        "apns-priority": "10",
        "apns-collapse-id": collapse_id(n),
    }

    def build(preview: str) -> dict:
        shown = msgspec.structs.replace(n, preview=preview)
        return {
            "aps": {
                "alert": {"title": _title(shown), "body": _body(shown)},
                "sound": "default",
                "thread-id": n.channel,
            },
            **_data(shown),
        }

    return headers, _fit(build, n.preview)


def fcm(n: Notice, token: str) -> bytes:
    """The JSON body of an FCM HTTP v1 ``messages:send`` call for ``n`` to ``token``."""

    def build(preview: str) -> dict:
        shown = msgspec.structs.replace(n, preview=preview)
        return {
            "message": {
                "token": token,
                "notification": {"title": _title(shown), "body": _body(shown)},
                "data": _data(shown),
                "android": {"collapse_key": n.channel, "notification": {"tag": collapse_id(n)}},
                "apns": {"headers": {"apns-collapse-id": collapse_id(n)}},
            }
        }

    return _fit(build, n.preview)


def encode_notice(n: Notice) -> bytes:
    """``n`` as stored while held."""
    return msgspec.json.encode(n)


def decode_notices(raw: Iterable[bytes]) -> list[Notice]:
    """The held notices stored as ``raw``, oldest message first."""
    notices = [msgspec.json.decode(r, type=Notice) for r in raw]
    return sorted(notices, key=lambda n: parse_ts(n.ts) or 0)


def summary(held: Sequence[Notice]) -> list[Notice]:
    """One notice per channel for the notices held during DND: the newest message's
    sender and preview, the count of all, ``mention`` if any of them was one."""
    by_channel: dict[str, list[Notice]] = {}
    for n in held:
        by_channel.setdefault(n.channel, []).append(n)
    out = []
    for notices in by_channel.values():
        last = max(notices, key=lambda x: parse_ts(x.ts) or 0)
        reason = "mention" if any(x.reason == "mention" for x in notices) else last.reason
        out.append(msgspec.structs.replace(last, count=len(notices), reason=reason))
    return out
