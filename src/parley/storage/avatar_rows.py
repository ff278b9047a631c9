"""SQL both directory backends share for people's photos (``avatars``: ``users.setPhoto``).
Pure: builds text, runs nothing; ``{p}`` is the backend's placeholder."""

from __future__ import annotations

#: A person's photo, replacing the one they had (parameters: user, team, media type,
#: bytes, when).
PUT = (
    "REPLACE INTO avatars (user_id, team_id, mimetype, data, updated) "
    "VALUES ({p}, {p}, {p}, {p}, {p})"
)
#: Their photo gone (parameter: user).
REMOVE = "DELETE FROM avatars WHERE user_id = {p}"
#: Their photo, as ``(team, media type, bytes)`` (parameter: user).
IMAGE_QUERY = "SELECT team_id, mimetype, data FROM avatars WHERE user_id = {p}"
#: Their stored profile, to change its ``image`` with the photo (parameter: user).
PROFILE_QUERY = "SELECT profile FROM users WHERE id = {p}"
#: Writes it back (parameters: profile, user).
PROFILE_SET = "UPDATE users SET profile = {p} WHERE id = {p}"
