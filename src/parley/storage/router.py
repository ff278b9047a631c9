"""Stable placement: which shard holds a channel, which bus partition carries it.

The hash is CRC-32 of the channel id, the same in every process and every release, so
placement never changes under a running fleet. Changing ``n`` re-homes channels, which
is why the shard count of a data dir is fixed once created.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def stable_hash(key: str) -> int:
    return zlib.crc32(key.encode())


def shard_for(channel_id: str, n: int) -> int:
    """The index (0..n-1) of the shard that stores ``channel_id``."""
    return stable_hash(channel_id) % n


def partition_for(channel_id: str, n: int) -> int:
    """The bus partition (0..n-1) that carries ``channel_id``'s events, in order."""
    return stable_hash(channel_id) % n


def by_shard(items: Iterable[T], n: int, channel: Callable[[T], str]) -> dict[int, list[T]]:
    """``items`` grouped by the shard of their channel, in their order."""
    out: dict[int, list[T]] = {}
    for item in items:
        out.setdefault(shard_for(channel(item), n), []).append(item)
    return out
