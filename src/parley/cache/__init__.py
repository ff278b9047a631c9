"""Caches in front of the store: tokens, channels and memberships, recent messages."""
