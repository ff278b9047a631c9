"""A user's profile as they set it (``users.profile.set``): which fields, their limits,
and how a change applies. Pure: the stored form is a JSON object of the set fields
(:attr:`parley.storage.models.User.profile`); the real name is the user's own column.

Slack's editable fields are kept: ``real_name``, ``display_name``, ``title``, ``phone``,
``status_text``, ``status_emoji`` (``:name:``) and ``status_expiration`` (Unix seconds, 0:
never). A status past its expiration reads as no status. Unknown fields are refused
(``invalid_profile``), as is a field past its length.
"""

from __future__ import annotations

from typing import Any

import orjson

from parley.content import is_emoji_name
from parley.errors import ApiError

INVALID_PROFILE = "invalid_profile"

#: Each text field and its longest value.
TEXT_FIELDS = {
    "real_name": 80,
    "display_name": 80,
    "title": 100,
    "phone": 50,
    "status_text": 100,
    "status_emoji": 100,
}
#: The status fields, which expire together.
STATUS = ("status_text", "status_emoji", "status_expiration")


def stored(profile: str) -> dict[str, Any]:
    """The stored profile's fields (``{}`` for none)."""
    return orjson.loads(profile) if profile else {}


def edit(real_name: str, profile: str, changes: dict[str, Any]) -> tuple[str, str]:
    """The real name and stored profile after ``changes`` (field -> new value; ``""``
    clears a field), or ``invalid_profile`` naming the first bad field."""
    fields = stored(profile)
    for name, value in changes.items():
        if name == "status_expiration":
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _bad(name)
        elif name in TEXT_FIELDS:
            if not isinstance(value, str) or len(value) > TEXT_FIELDS[name]:
                raise _bad(name)
            if name == "status_emoji" and value and not is_emoji_name(value):
                raise _bad(name)
        else:
            raise _bad(name)
        if name == "real_name":
            real_name = value or real_name
        elif value in ("", 0):
            fields.pop(name, None)
        else:
            fields[name] = value
    return real_name, orjson.dumps(fields).decode() if fields else ""


#: The stored field of a person's photo's path on this server (``users.setPhoto``),
#: which only the server sets: :func:`edit` refuses it as any unknown field.
IMAGE = "image"
#: The sizes Slack's profile names its photo at (each the same image here).
IMAGE_SIZES = ("image_24", "image_32", "image_48", "image_72", "image_192", "image_512")


def with_image(profile: str, path: str | None) -> str:
    """The stored profile with its photo at ``path`` (``None``: no photo)."""
    fields = stored(profile)
    if path is None:
        fields.pop(IMAGE, None)
    else:
        fields[IMAGE] = path
    return orjson.dumps(fields).decode() if fields else ""


def view(fields: dict[str, Any], now_s: int | None, base_url: str = "") -> dict[str, Any]:
    """The set fields as a profile shows them: every status field, empty when none is set
    or it expired by ``now_s`` (``None``: not checked); a photo at each of Slack's sizes
    and ``image_original``, when there is one, its URL on ``base_url`` (the server as
    the reader reached it; ``""``: its path alone, as in an event everyone hears)."""
    out = {k: v for k, v in fields.items() if k not in STATUS and k != IMAGE}
    image = fields.get(IMAGE)
    if image:
        url = base_url.rstrip("/") + image
        out.update((size, url) for size in (*IMAGE_SIZES, "image_original"))
        out["is_custom_image"] = True
    expires = fields.get("status_expiration", 0)
    live = not (expires and now_s is not None and expires <= now_s)
    out["status_text"] = fields.get("status_text", "") if live else ""
    out["status_emoji"] = fields.get("status_emoji", "") if live else ""
    out["status_expiration"] = expires if live else 0
    return out


def _bad(name: str) -> ApiError:
    return ApiError(INVALID_PROFILE, data={"field": name})
