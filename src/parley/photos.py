"""People's photos: Slack's ``users.setPhoto`` and ``users.deletePhoto``.

A photo is an image (PNG, GIF, JPEG or WebP, told by its first bytes, never by what the
caller says) of at most :data:`MAX_PHOTO` bytes. It is kept in the directory and served
to anyone who has its URL (as Slack's are, from a public CDN) at :func:`path`, which
names the moment it was set, so a new photo has a new URL and a browser may keep each
for good. The profile keeps its path; the Web API shows it at each of Slack's sizes
(``image_24`` ... ``image_512``, ``image_original``: the same image; a client scales it)
as a URL on the server as the caller reached it, and ``user_change``, which the whole
workspace hears, as the path alone, so no one's ``Host`` header names where others fetch
it from. Pure.
"""

from __future__ import annotations

from parley.custom_emoji import image_type
from parley.errors import ApiError

#: A photo's largest size.
MAX_PHOTO = 512 * 1024
#: Where photos are served, below the file routes.
PREFIX = "/files/avatars/"


def path(team_id: str, user_id: str, version: int) -> str:
    """The path a photo set at ``version`` (µs) is served at (after the base URL)."""
    return f"{PREFIX}{team_id}/{user_id}/{version}"


def parse_path(rest: str) -> tuple[str, str] | None:
    """The team and user of a photo's path after :data:`PREFIX`, or ``None``."""
    parts = rest.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1]


def checked(data: bytes | None) -> str:
    """The photo's media type: ``bad_image`` when there is none or it is no image of the
    four kinds, ``too_large`` past :data:`MAX_PHOTO`."""
    if not data:
        raise ApiError("bad_image", data={"detail": "image: the photo, as a file"})
    if len(data) > MAX_PHOTO:
        raise ApiError("too_large", data={"detail": f"at most {MAX_PHOTO} bytes"})
    kind = image_type(data)
    if kind is None:
        raise ApiError("bad_image", data={"detail": "a PNG, GIF, JPEG or WebP image"})
    return kind
