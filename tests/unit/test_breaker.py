"""The circuit breaker (``parley.resilience.breaker``): a pure state machine, checked
against a plain reference model with hypothesis, and its documented transitions."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import ApiError, Code, StorageError, StorageUnavailable
from parley.resilience.board import Breakers
from parley.resilience.breaker import CLOSED, HALF_OPEN, OPEN, Breaker, Policy

SMALL = Policy(error_rate=0.2, window=10, min_calls=5, open_seconds=30, close_after=3, probes=3)


def test_the_seeds_defaults():
    p = Policy()
    assert (p.error_rate, p.open_seconds, p.close_after) == (0.05, 30.0, 3)
    assert p.valid() and not Policy(min_calls=0).valid() and not Policy(probes=2).valid()


def test_opens_past_the_error_rate_fails_fast_then_probes_and_closes():
    b = Breaker("push:apns", SMALL)
    for _ in range(4):
        assert b.allow(0)
        b.record(False, 0)
    assert b.state == CLOSED  # four calls: fewer than min_calls
    assert b.allow(1)
    b.record(True, 1)  # five calls, four failed: 80% > 20%
    assert b.state == OPEN and b.opened == 1
    assert not b.allow(30.9) and b.retry_after(10) == 21  # opened at 1
    assert b.allow(31) and b.state == HALF_OPEN
    assert b.allow(31) and b.allow(31) and not b.allow(31)  # three probes at a time
    for _ in range(3):
        b.record(True, 32)
    assert b.state == CLOSED and b.failure_rate() == 0 and b.retry_after(32) == 0


def test_a_failed_probe_opens_again_for_the_whole_period():
    b = Breaker("shard-0", SMALL)
    for _ in range(5):
        b.allow(0)
        b.record(False, 0)
    assert b.allow(30)
    b.record(True, 30)
    b.allow(31)
    b.record(False, 31)
    assert b.state == OPEN and b.opened == 2
    assert not b.allow(60) and b.allow(61)


def test_an_outcome_reported_while_open_is_ignored():
    b = Breaker("redis", SMALL)
    for _ in range(5):
        b.allow(0)
    for _ in range(5):
        b.record(False, 0)
    assert b.state == OPEN
    b.record(True, 1)  # a straggler
    assert b.state == OPEN and b.retry_after(1) == 29


def test_the_window_slides():
    b = Breaker("search", SMALL)
    outcomes = [False] + [True] * 9 + [False]  # the first failure leaves the window
    for ok in outcomes:
        b.allow(0)
        b.record(ok, 0)
    assert b.state == CLOSED and b.failure_rate() == 0.1


class Model:
    """The rules, as plainly as they can be written."""

    def __init__(self, p: Policy) -> None:
        self.p, self.state, self.calls, self.opened_at = p, CLOSED, [], 0.0
        self.flight = self.good = 0

    def allow(self, now: float) -> bool:
        if self.state == OPEN and now - self.opened_at >= self.p.open_seconds:
            self.state, self.flight, self.good = HALF_OPEN, 0, 0
        if self.state == OPEN:
            return False
        if self.state == HALF_OPEN:
            if self.flight == self.p.probes:
                return False
            self.flight += 1
        return True

    def record(self, ok: bool, now: float) -> None:
        if self.state == OPEN:
            return
        if self.state == HALF_OPEN:
            self.flight -= 1
            if not ok:
                self.state, self.opened_at, self.calls = OPEN, now, []
            else:
                self.good += 1
                if self.good == self.p.close_after:
                    self.state, self.calls = CLOSED, []
            return
        self.calls = ([*self.calls, not ok])[-self.p.window :]
        n = len(self.calls)
        if n >= self.p.min_calls and sum(self.calls) / n > self.p.error_rate:
            self.state, self.opened_at, self.calls = OPEN, now, []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(0, 20, allow_nan=False), st.integers(0, 2)),
        max_size=300,
    )
)
def test_the_breaker_follows_the_model(steps):
    """Random calls, outcomes and pauses: the breaker and the model agree on every
    answer and state, and an open breaker never lets a call through early."""
    b, m, now, pending = Breaker("x", SMALL), Model(SMALL), 0.0, 0
    for ok, pause, finish in steps:
        now += pause
        allowed = b.allow(now)
        assert allowed == m.allow(now)
        if b.state == OPEN:
            assert not allowed and b.retry_after(now) > 0
        if allowed:
            pending += 1
        for _ in range(min(finish, pending)):  # outcomes arrive later, some together
            b.record(ok, now)
            m.record(ok, now)
            pending -= 1
        assert b.state == m.state


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_board_runs_calls_through_a_named_breaker():
    clock = Clock()
    board = Breakers(SMALL, clock)
    called = []

    async def fails():
        called.append("x")
        raise StorageUnavailable("down")

    async def answers_an_error():
        raise StorageError("UNIQUE constraint failed")  # the dependency works

    async def refuses():
        raise ApiError(Code.CHANNEL_NOT_FOUND)

    async def works():
        called.append("ok")
        return 7

    async def scenario():
        with pytest.raises(ApiError):  # a refusal: the dependency answered
            await board.call("shard:1", refuses)
        for _ in range(3):
            with pytest.raises(StorageError):
                await board.call("shard:0", answers_an_error)
        assert board.states()["shard:0"] == CLOSED
        for _ in range(4):
            with pytest.raises(StorageUnavailable):
                await board.call("shard:1", fails)
        assert board.states()["shard:1"] == OPEN  # 4 of 5 failed
        assert board.all_open("shard:1") and not board.all_open("shard:")  # 0 serves
        assert not board.all_open("push:")
        called.clear()
        clock.now = 10
        with pytest.raises(StorageUnavailable) as fast:
            await board.call("shard:1", works)
        assert called == [] and fast.value.retry_after == 20
        assert await board.call("shard:0", works) == 7  # another breaker: unaffected
        clock.now = 30
        assert board.states()["shard:1"] == OPEN  # until a call probes it
        assert not board.all_open("shard:1")  # but its next call would be a probe
        for _ in range(3):
            assert await board.call("shard:1", works) == 7
        assert board.states() == {"shard:0": CLOSED, "shard:1": CLOSED}
        rows = {row.name: row.samples for row in board.metric_rows()}
        assert rows["parley_breaker_opened"] == [(("shard:0",), 0), (("shard:1",), 1)]

    asyncio.run(scenario())


def test_a_cancelled_probe_frees_its_slot():
    b = Breaker("search", SMALL)
    for _ in range(5):
        b.allow(0)
        b.record(False, 0)
    assert b.allow(30) and b.allow(30) and b.allow(30) and not b.allow(30)
    b.cancel()
    assert b.allow(30) and b.state == HALF_OPEN
