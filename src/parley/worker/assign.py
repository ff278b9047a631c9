"""Which worker owns which event-log partition: rendezvous (highest random weight)
hashing. Pure.

Every worker computes the same answer from the same list of live workers, with no
coordinator: partition ``p`` belongs to the worker ``w`` with the highest
``hash(w, p)``. When a worker joins, it takes about ``1/N`` of the partitions, each from
the worker that had it, and no other partition moves; when one leaves, only its
partitions move, spread over the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def _weight(worker: str, partition: int) -> int:
    digest = hashlib.blake2b(f"{worker}/{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(partition: int, workers: Sequence[str]) -> str | None:
    """The worker that should own ``partition`` (``None`` when there is none); ties,
    which need two equal 64-bit hashes, go to the smaller name."""
    return max(workers, key=lambda w: (_weight(w, partition), w), default=None)


def assigned(partitions: Iterable[int], workers: Sequence[str], me: str) -> set[int]:
    """The partitions among ``partitions`` that ``me`` should own."""
    return {p for p in partitions if owner(p, workers) == me}
