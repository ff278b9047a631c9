"""Rate limits on a fake clock: the bucket arithmetic, the store, and the policy."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import ApiError
from parley.pipeline.limits import (
    LIMITED_METHODS,
    PROXY_BURST,
    PROXY_RATE,
    Limits,
    retry_after,
)
from parley.pipeline.ratelimit import MemoryRateStore, take
from parley.storage.models import Channel, User


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def user(uid: str = "U1", *, bot: bool = False, rate_limit: float | None = None) -> User:
    return User(uid, "T1", uid.lower(), "", bot, "B1" if bot else None, rate_limit, 0)


def channel(cid: str = "C1") -> Channel:
    return Channel(cid, "T1", cid.lower(), False, "U0", 0)


def run(coro):
    return asyncio.run(coro)


def test_a_bucket_allows_the_burst_then_the_rate():
    tokens, at = 10.0, 0.0
    allowed = 0
    for _ in range(15):
        tokens, at, wait = take(tokens, at, 0.0, rate=1.0, burst=10.0)
        allowed += wait == 0
    assert allowed == 10
    assert wait == pytest.approx(1.0)
    tokens, at, wait = take(tokens, at, 0.5, rate=1.0, burst=10.0)
    assert wait == pytest.approx(0.5)  # half a token came back
    tokens, at, wait = take(tokens, at, 1.0, rate=1.0, burst=10.0)
    assert wait == 0


def test_a_bucket_never_holds_more_than_its_burst_and_a_clock_step_back_refills_nothing():
    tokens, at, _ = take(0.0, 0.0, 1e9, rate=1.0, burst=3.0)
    assert tokens == 2.0
    tokens, at, wait = take(0.0, 100.0, 50.0, rate=1.0, burst=3.0)
    assert wait == pytest.approx(1.0) and tokens == 0.0


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.01, 1000),
    burst=st.integers(1, 100),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=200),
)
def test_allowed_calls_never_exceed_burst_plus_rate_times_elapsed(rate, burst, gaps):
    tokens, at, now, allowed = float(burst), 0.0, 0.0, 0
    for gap in gaps:
        now += gap
        tokens, at, wait = take(tokens, at, now, rate, float(burst))
        allowed += wait == 0
        assert wait >= 0 and 0 <= tokens <= burst
    assert allowed <= burst + rate * now + 1e-6


def test_the_store_forgets_full_buckets_when_it_grows():
    clock = Clock()
    store = MemoryRateStore(max_keys=4, clock=clock)
    for i in range(4):
        assert store.take_now(f"k{i}", 1.0, 2.0) == 0
    clock.now += 10  # every bucket is full again: the same as no bucket
    store.take_now("k9", 1.0, 2.0)
    assert len(store) == 1


def test_a_person_gets_bursts_of_ten_then_one_a_second():
    clock = Clock()
    limits = Limits(MemoryRateStore(clock=clock))
    person = user()
    for _ in range(10):
        run(limits.check_message(person, channel()))
    with pytest.raises(ApiError) as err:
        run(limits.check_message(person, channel("C2")))  # across channels
    assert err.value.code == "ratelimited" and err.value.status == 429
    assert retry_after(err.value) == 1
    clock.now += 1.0
    run(limits.check_message(person, channel()))
    with pytest.raises(ApiError):
        run(limits.check_message(person, channel()))


def test_a_bot_is_limited_per_channel():
    clock = Clock()
    limits = Limits(MemoryRateStore(clock=clock), message_burst=1)
    bot = user("U2", bot=True)
    run(limits.check_message(bot, channel("C1")))
    run(limits.check_message(bot, channel("C2")))  # another channel: its own bucket
    with pytest.raises(ApiError):
        run(limits.check_message(bot, channel("C1")))


def test_a_users_own_limit_overrides_the_default():
    clock = Clock()
    limits = Limits(MemoryRateStore(clock=clock))
    fast = user("U3", rate_limit=100)
    for _ in range(100):  # bursts of one second's worth
        run(limits.check_message(fast, channel()))
    with pytest.raises(ApiError) as err:
        run(limits.check_message(fast, channel()))
    assert retry_after(err.value) == 1  # 10 ms, rounded up to whole seconds
    clock.now += 0.051  # five tokens back (and a little float slack)
    for _ in range(5):
        run(limits.check_message(fast, channel()))


def test_lower_tier_methods_allow_sixty_calls_a_minute_per_user_and_method():
    clock = Clock()
    limits = Limits(MemoryRateStore(clock=clock))
    caller = user()
    for _ in range(60):
        run(limits.check_call(caller, "conversations.history"))
    with pytest.raises(ApiError) as err:
        run(limits.check_call(caller, "conversations.history"))
    assert err.value.headers == {"retry-after": "1"}
    run(limits.check_call(caller, "conversations.info"))  # another method
    run(limits.check_call(user("U9"), "conversations.history"))  # another user
    for _ in range(500):  # not a lower-tier method
        run(limits.check_call(caller, "auth.test"))
        run(limits.check_call(caller, "chat.postMessage"))
    clock.now += 1.0
    run(limits.check_call(caller, "conversations.history"))
    assert "chat.postMessage" not in LIMITED_METHODS and "auth.test" not in LIMITED_METHODS


def test_other_sites_images_are_limited_per_user_to_a_burst_then_a_rate():
    clock = Clock()
    limits = Limits(MemoryRateStore(clock=clock), api_calls_per_minute=0)
    caller = user()
    for _ in range(int(PROXY_BURST)):
        run(limits.check_proxy(caller))
    with pytest.raises(ApiError) as err:
        run(limits.check_proxy(caller))
    assert err.value.code == "ratelimited" and err.value.status == 429
    run(limits.check_proxy(user("U9")))  # another user
    clock.now += 1.0 / PROXY_RATE
    run(limits.check_proxy(caller))


def test_zero_calls_a_minute_turns_the_api_limit_off():
    limits = Limits(MemoryRateStore(clock=Clock()), api_calls_per_minute=0)
    for _ in range(200):
        run(limits.check_call(user(), "conversations.history"))
