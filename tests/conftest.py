"""Shared fixtures live next to the tests that use them; helpers in ``tests/helpers.py``."""
