"""Per-user rate limits (domain/ratelimit.py) on the `limits` library, in memory and in Redis."""

from __future__ import annotations

import time
import uuid

import pytest

from utool_chat import health
from utool_chat.domain import ratelimit
from utool_chat.domain.errors import RateLimited

REDIS = "redis://127.0.0.1:6379/5"
PREFIX = f"utool_test_limits_{uuid.uuid4().hex[:8]}"  # this run's keys only: reset() deletes under it


@pytest.fixture(autouse=True)
def fresh_limits():
    ratelimit.reset()
    health.reset()
    yield
    ratelimit.reset()
    health.reset()


def user() -> str:
    return uuid.uuid4().hex


def test_sending_is_allowed_up_to_the_limit_then_refused_with_retry_after() -> None:
    ratelimit.configure(send="3/10second", redis_url=None)
    alice = user()
    for _ in range(3):
        ratelimit.check_send(alice)
    with pytest.raises(RateLimited) as refused:
        ratelimit.check_send(alice)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert 1 <= refused.value.retry_after <= 10
    assert "3 per 10 seconds" in refused.value.message


def test_each_user_has_an_own_budget() -> None:
    ratelimit.configure(send="1/10second", redis_url=None)
    alice, bob = user(), user()
    ratelimit.check_send(alice)
    ratelimit.check_send(bob)
    with pytest.raises(RateLimited):
        ratelimit.check_send(alice)


def test_typing_and_sending_are_counted_separately() -> None:
    ratelimit.configure(send="1/10second", typing="2/10second", redis_url=None)
    alice = user()
    ratelimit.check_send(alice)
    ratelimit.check_typing(alice)
    ratelimit.check_typing(alice)
    with pytest.raises(RateLimited):
        ratelimit.check_typing(alice)


def test_the_budget_comes_back_when_the_window_has_passed() -> None:
    ratelimit.configure(send="2/1second", redis_url=None)
    alice = user()
    ratelimit.check_send(alice)
    ratelimit.check_send(alice)
    with pytest.raises(RateLimited):
        ratelimit.check_send(alice)
    time.sleep(1.1)
    ratelimit.check_send(alice)


def test_reset_forgets_the_counters_in_memory(monkeypatch) -> None:
    from utool_chat import config

    monkeypatch.setenv("RATE_LIMIT_SEND", "1/10second")
    monkeypatch.delenv("REDIS_URL", raising=False)
    config.reload_settings()
    try:
        alice = user()
        ratelimit.check_send(alice)
        with pytest.raises(RateLimited):
            ratelimit.check_send(alice)
        ratelimit.reset()  # nothing re-configured by hand: only reset() can forget the hit
        ratelimit.check_send(alice)
    finally:
        monkeypatch.undo()
        config.reload_settings()


def test_reset_forgets_the_counters_in_redis() -> None:
    # A fresh limiter on the same Redis sees the old counters (as another process would):
    # only deleting the keys makes the budget come back.
    alice = user()
    ratelimit.configure(send="1/10second", redis_url=REDIS, key_prefix=PREFIX)
    ratelimit.check_send(alice)
    ratelimit.configure(send="1/10second", redis_url=REDIS, key_prefix=PREFIX)
    with pytest.raises(RateLimited):
        ratelimit.check_send(alice)
    ratelimit.reset()
    ratelimit.configure(send="1/10second", redis_url=REDIS, key_prefix=PREFIX)
    ratelimit.check_send(alice)


def test_limits_default_to_the_settings(monkeypatch) -> None:
    from utool_chat import config

    monkeypatch.setenv("RATE_LIMIT_SEND", "2/minute")
    monkeypatch.delenv("REDIS_URL", raising=False)
    config.reload_settings()
    try:
        ratelimit.reset()
        alice = user()
        ratelimit.check_send(alice)
        ratelimit.check_send(alice)
        with pytest.raises(RateLimited) as refused:
            ratelimit.check_send(alice)
        assert 1 <= refused.value.retry_after <= 60
    finally:
        monkeypatch.undo()
        config.reload_settings()


def test_redis_counters_are_shared_by_every_process() -> None:
    alice = user()
    ratelimit.configure(send="2/10second", redis_url=REDIS, key_prefix=PREFIX)
    ratelimit.check_send(alice)
    # A second limiter with its own connection stands for another backend process.
    ratelimit.configure(send="2/10second", redis_url=REDIS, key_prefix=PREFIX)
    ratelimit.check_send(alice)
    with pytest.raises(RateLimited):
        ratelimit.check_send(alice)


def test_an_unreachable_redis_counts_in_memory_and_waits_for_it_no_more() -> None:
    ratelimit.configure(send="2/10second", redis_url="redis://127.0.0.1:1/0")
    alice, bob = user(), user()
    ratelimit.check_send(alice)  # refused connection: Redis is down, this one counts in memory
    assert health.is_down(health.REDIS)
    started = time.monotonic()
    ratelimit.check_send(alice)  # memory only now: no Redis call
    with pytest.raises(RateLimited):
        ratelimit.check_send(alice)  # the limit still holds during the outage
    ratelimit.check_send(bob)
    assert time.monotonic() - started < 0.1


def test_a_redis_that_comes_back_is_used_again(monkeypatch) -> None:
    ratelimit.configure(send="1/10second", redis_url=REDIS, key_prefix=PREFIX)
    alice = user()
    health.report_down(health.REDIS, "test: pretend it went away")
    ratelimit.check_send(alice)  # counted in memory
    health.watch(health.REDIS, ratelimit._get().storage.check)  # the probe finds it answering
    deadline = time.monotonic() + 5
    while health.is_down(health.REDIS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not health.is_down(health.REDIS)
    ratelimit.check_send(alice)  # Redis's counter had not seen the first one
    with pytest.raises(RateLimited):
        ratelimit.check_send(alice)
