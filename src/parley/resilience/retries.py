"""Durable retries and dead letters for the asynchronous delivery steps (push today).
Pure: the records and the arithmetic; the directory stores them (``retries`` and
``dead_letters`` tables, both backends).

A step that fails an item it will try again records a :class:`Retry` (the seed's
``message_retries``: the item, what redoing it needs, the attempts made, when the next
is due, the errors so far) and forgets it in memory; a worker's retry loop claims the
due ones (each claim leases the row for a while, so two workers never redo one item at
once, and a worker that dies mid-attempt leaves it due again), redoes them, and either
deletes the record (done), records the next attempt (:func:`after_failure`), or, past
the step's attempt limit, moves it with its error history to the dead letters.
``parley dlq replay`` moves dead letters back as fresh retries: the move is one
transaction keyed by ``(step, item)``, so replaying twice schedules one retry, and the
retry, once done, is deleted, so a replay delivers once.
"""

from __future__ import annotations

import datetime as dt
import random

import msgspec

#: The jitter's own generator (not the global one, which tests and libraries may seed
#: or watch); a caller may pass another, seeded, for repeatable waits.
_JITTER = random.Random()
#: Errors kept per item (the newest).
MAX_ERRORS = 20


class Retry(msgspec.Struct, frozen=True):
    step: str
    #: The item's identity within its step (unique: one record per item).
    item: str
    #: What redoing it needs, as the step encodes it.
    payload: bytes
    #: Attempts made so far.
    attempts: int
    #: When the next attempt is due (Unix microseconds).
    next_at: int
    #: ``"<UTC time> <error>"`` per failed attempt, oldest first.
    errors: tuple[str, ...] = ()
    #: When the first attempt failed (Unix microseconds).
    created: int = 0


class DeadLetter(msgspec.Struct, frozen=True):
    step: str
    item: str
    payload: bytes
    attempts: int
    errors: tuple[str, ...]
    created: int
    #: When it was given up (Unix microseconds).
    died: int


class Backoff(msgspec.Struct, frozen=True):
    """A step's retry schedule: ``attempts`` in all (the first included), waits from
    ``base`` seconds growing by ``factor`` up to ``ceiling``, with full jitter."""

    attempts: int = 5
    base: float = 0.5
    factor: float = 2.0
    ceiling: float = 30.0

    def wait(
        self, attempt: int, at_least: float | None = None, rand: random.Random | None = None
    ) -> float:
        """Seconds before attempt ``attempt + 1`` (``attempt`` >= 1 failed): a random
        wait between half and all of the exponential ceiling, never less than
        ``at_least`` (a provider's ``Retry-After``, an open breaker's time left)."""
        ceiling = min(self.ceiling, self.base * self.factor ** (attempt - 1))
        wait = (rand or _JITTER).uniform(ceiling / 2, ceiling)
        return max(wait, min(at_least, self.ceiling * 4)) if at_least is not None else wait


def _stamp(now_us: int, error: str) -> str:
    when = dt.datetime.fromtimestamp(now_us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{when} {error[:500]}"


def first_failure(
    step: str,
    item: str,
    payload: bytes,
    error: str,
    now_us: int,
    backoff: Backoff,
    at_least: float | None = None,
    rand: random.Random | None = None,
) -> Retry:
    """The record of an item whose first attempt failed."""
    wait = backoff.wait(1, at_least, rand)
    return Retry(step, item, payload, 1, now_us + int(wait * 1e6), (_stamp(now_us, error),), now_us)


def after_failure(
    r: Retry,
    error: str,
    now_us: int,
    backoff: Backoff,
    at_least: float | None = None,
    rand: random.Random | None = None,
) -> tuple[Retry, bool]:
    """``r`` after one more failed attempt, and whether that was its last (it goes to
    the dead letters)."""
    attempts = r.attempts + 1
    errors = (*r.errors, _stamp(now_us, error))[-MAX_ERRORS:]
    wait = backoff.wait(attempts, at_least, rand)
    after = msgspec.structs.replace(
        r, attempts=attempts, errors=errors, next_at=now_us + int(wait * 1e6)
    )
    return after, attempts >= backoff.attempts


def refused(
    step: str,
    item: str,
    payload: bytes,
    error: str,
    now_us: int,
    wait: float,
    rand: random.Random | None = None,
) -> Retry:
    """The record of an item whose first attempt was not made (the dependency's circuit
    breaker refused it): no attempt counted, due in ``wait`` seconds (at least a jittered
    half second, so the items refused together do not come back together)."""
    wait = max(wait, (rand or _JITTER).uniform(0.5, 1.0))
    return Retry(step, item, payload, 0, now_us + int(wait * 1e6), (_stamp(now_us, error),), now_us)


def postponed(r: Retry, now_us: int, wait: float, rand: random.Random | None = None) -> Retry:
    """``r`` due again in ``wait`` seconds (at least a jittered half second) with no
    attempt counted: its attempt was not made (a circuit breaker refused it). A breaker
    open for long does not use up an item's attempts: only calls to the dependency do."""
    wait = max(wait, (rand or _JITTER).uniform(0.5, 1.0))
    return msgspec.structs.replace(r, next_at=now_us + int(wait * 1e6))


def describe(d: DeadLetter, *, full: bool) -> dict:
    """A dead letter as ``parley dlq`` and ``admin.dlq.*`` show it: its step, item,
    attempts and last error, times in Unix seconds; ``full`` adds every error and the
    payload."""
    out = {
        "step": d.step,
        "item": d.item,
        "attempts": d.attempts,
        "last_error": d.errors[-1] if d.errors else "",
        "created": d.created // 1_000_000,
        "died": d.died // 1_000_000,
    }
    if full:
        out["errors"] = list(d.errors)
        out["payload"] = d.payload.decode("utf-8", "replace")
    return out


def dead(r: Retry, now_us: int) -> DeadLetter:
    return DeadLetter(r.step, r.item, r.payload, r.attempts, r.errors, r.created, now_us)
