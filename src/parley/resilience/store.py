"""Where retries and dead letters live: the directory's database (both backends
implement this beside :class:`~parley.storage.interface.Directory`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from parley.resilience.retries import Backoff, DeadLetter, Retry, after_failure, dead


class RetryStore(Protocol):
    async def retry_later(self, retry: Retry) -> None:
        """Records ``retry`` (replacing the item's previous record)."""
        ...

    async def claim_due(self, step: str, now: int, limit: int, lease_until: int) -> list[Retry]:
        """Up to ``limit`` of ``step``'s retries due at ``now``, oldest due first, each
        leased until ``lease_until`` (not due for anyone else meanwhile)."""
        ...

    async def waiting(self, step: str, prefix: str, after: str, limit: int) -> list[Retry]:
        """``step``'s records whose item starts with ``prefix``, by item, after ``after``
        (whatever their due time: a step that keeps work for later lists it)."""
        ...

    async def retry_done(self, step: str, item: str) -> None:
        """Forgets the item's retry (it succeeded, or no longer needs doing)."""
        ...

    async def bury(self, letter: DeadLetter) -> None:
        """Moves the item from the retries to the dead letters, in one transaction."""
        ...

    async def dead_letters(self, step: str | None, after: str, limit: int) -> list[DeadLetter]:
        """Dead letters (of ``step``, or all), by step and item, after ``after``
        (``"<step>/<item>"``)."""
        ...

    async def dead_letter(self, step: str, item: str) -> DeadLetter | None:
        """One dead letter, or ``None``."""
        ...

    async def replay(self, step: str, items: Sequence[str] | None, now: int) -> int:
        """Moves dead letters (``items``, or all of ``step``) back to the retries, due at
        ``now`` with no attempt made; how many moved."""
        ...

    async def retry_counts(self) -> dict[tuple[str, str], int]:
        """How many items wait, by ``(step, "retries" | "dead_letters")`` (for metrics)."""
        ...

    async def purge(self, step: str, items: Sequence[str] | None) -> int:
        """Deletes dead letters (``items``, or all of ``step``); how many."""
        ...


async def failed_again(
    store: RetryStore,
    retry: Retry,
    error: str,
    now_us: int,
    backoff: Backoff,
    at_least: float | None = None,
) -> tuple[Retry, bool]:
    """Records one more failed attempt at ``retry``: its next attempt, or, past the
    step's limit, its dead letter. The record as it now is, and whether it died."""
    later, last = after_failure(retry, error, now_us, backoff, at_least)
    if last:
        await store.bury(dead(later, now_us))
    else:
        await store.retry_later(later)
    return later, last
