"""The retry arithmetic (``parley.resilience.retries``): pure, told the time."""

from __future__ import annotations

import random

from parley.resilience.retries import (
    MAX_ERRORS,
    Backoff,
    after_failure,
    dead,
    first_failure,
    postponed,
    refused,
)

NOW = 1_800_000_000_000_000  # microseconds
SECOND = 1_000_000


def test_waits_grow_with_full_jitter_under_a_ceiling_and_honour_at_least():
    b = Backoff(attempts=5, base=0.5, factor=2.0, ceiling=30.0)
    rand = random.Random(7)
    for attempt, top in ((1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (20, 30.0)):
        waits = [b.wait(attempt, rand=rand) for _ in range(200)]
        assert all(top / 2 <= w <= top for w in waits), attempt
    assert b.wait(1, at_least=12.0, rand=rand) == 12.0  # a Retry-After
    assert b.wait(1, at_least=1e9, rand=rand) == 120.0  # but never past 4 ceilings


def test_an_item_fails_its_attempts_then_is_a_dead_letter_with_its_history():
    b = Backoff(attempts=3, base=0.5)
    r = first_failure("push", "C1:1.0:fcm:x", b"{}", "HTTP 500", NOW, b)
    assert r.attempts == 1 and NOW + SECOND // 4 <= r.next_at <= NOW + SECOND // 2
    r, last = after_failure(r, "HTTP 503", NOW + SECOND, b)
    assert (r.attempts, last) == (2, False)
    r, last = after_failure(r, "timeout", NOW + 3 * SECOND, b)
    assert (r.attempts, last) == (3, True)
    letter = dead(r, NOW + 4 * SECOND)
    assert letter.attempts == 3 and letter.created == NOW and letter.died == NOW + 4 * SECOND
    assert [e.split(" ", 1)[1] for e in letter.errors] == ["HTTP 500", "HTTP 503", "timeout"]
    assert letter.errors[0].startswith("2027-01-15T08:00:00.000000Z")


def test_the_error_history_keeps_the_newest():
    b = Backoff(attempts=100)
    r = first_failure("push", "i", b"", "e0", NOW, b)
    for n in range(1, 30):
        r, _ = after_failure(r, f"e{n}", NOW, b)
    assert len(r.errors) == MAX_ERRORS and r.errors[-1].endswith(" e29")


def test_a_refusal_by_an_open_breaker_uses_no_attempt():
    rand = random.Random(1)
    r = refused("push", "i", b"{}", "circuit breaker open", NOW, 20.0, rand)
    assert r.attempts == 0 and r.next_at == NOW + 20 * SECOND
    again = postponed(r, NOW + 20 * SECOND, 0.0, rand)  # half-open, its probes out
    assert again.attempts == 0 and again.errors == r.errors
    assert NOW + 20.5 * SECOND <= again.next_at <= NOW + 21 * SECOND  # jittered, not at once
