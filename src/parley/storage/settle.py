"""How a group commit reports each operation, the same for every backend."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from parley.storage.interface import AfterCommit

log = logging.getLogger(__name__)


def settle(fut: asyncio.Future, after: AfterCommit | None, ok: bool, value: Any) -> None:
    """On the event loop, once the batch's transaction has ended: a committed op runs its
    after-commit hook (a failing hook is logged, the write stays durable), then its
    caller's future gets the result or the op's error (unless the caller gave up)."""
    if ok and after is not None:
        try:
            after(value)
        except Exception:
            log.exception("after-commit hook failed")
    if fut.cancelled():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)
