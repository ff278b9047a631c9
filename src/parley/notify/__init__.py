"""Notifications beyond the socket: Do Not Disturb (:mod:`.dnd`)."""
