"""SQL both directory backends share for the lifecycle of people's accounts: deactivating
and reactivating a user, and ending their web sessions (:mod:`parley.pipeline.accounts`).
Pure: text only, runs nothing; ``{p}`` is the backend's placeholder."""

from __future__ import annotations

#: Marks a user deactivated (1) or active again (0).
SET_DELETED = "UPDATE users SET deleted = {p} WHERE id = {p}"
#: Revokes a user's web sessions (the tokens signing in made), not their other tokens.
END_SESSIONS = "UPDATE tokens SET revoked = 1 WHERE user_id = {p} AND session = 1 AND revoked = 0"
#: Forgets a user's phones: a deactivated account is signed out of them as well.
FORGET_DEVICES = "DELETE FROM devices WHERE user_id = {p}"
#: The keys (SHA-256) of a user's tokens, revoked or not.
TOKEN_KEYS = "SELECT hash FROM tokens WHERE user_id = {p}"
#: The same, of their web sessions only.
SESSION_KEYS = TOKEN_KEYS + " AND session = 1"
