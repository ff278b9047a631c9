"""Committed offsets per (consumer group, partition): they only move forward. Pure."""

from __future__ import annotations


class Offsets:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, int], int] = {}

    def get(self, group: str, partition: int) -> int:
        """The offset ``group`` committed last in ``partition`` (0 if never)."""
        return self._by_key.get((group, partition), 0)

    def advance(self, group: str, partition: int, offset: int) -> bool:
        """Commits ``offset`` if it is past the committed one; whether it moved."""
        key = (group, partition)
        if offset <= self._by_key.get(key, 0):
            return False
        self._by_key[key] = offset
        return True
