"""Password guessing is capped: after RATE_LIMIT_LOGIN failed logins for one username, login
for that username answers 429 with Retry-After, even with the right password."""

from __future__ import annotations

import pytest

from utool_chat.domain import ratelimit

LOGIN = "/api/v1/auth/login"


@pytest.fixture()
def three_failures_allowed(db):
    ratelimit.configure(login="3/minute", redis_url=None)
    yield
    ratelimit.reset()


def _login(api_client, username: str, password: str):
    return api_client.post(LOGIN, json={"username": username, "password": password})


def test_failed_logins_beyond_the_limit_are_429_even_with_the_right_password(
    api_client, register, three_failures_allowed
):
    register("alice", password="correct horse")
    for _ in range(3):
        assert _login(api_client, "alice", "wrong horse").status_code == 401
    blocked = _login(api_client, "alice", "correct horse")
    assert blocked.status_code == 429
    assert blocked.json()["success"] is False and blocked.json()["code"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) >= 1


def test_the_limit_is_per_username_and_counts_only_failures(api_client, register, three_failures_allowed):
    register("alice", password="correct horse")
    register("bobby", password="correct horse")
    for _ in range(5):  # successes do not use up the budget
        assert _login(api_client, "alice", "correct horse").status_code == 200
    for _ in range(3):
        assert _login(api_client, "alice", "wrong horse").status_code == 401
    assert _login(api_client, "alice", "correct horse").status_code == 429
    assert _login(api_client, "bobby", "correct horse").status_code == 200


def test_usernames_are_counted_case_insensitively_and_unknown_ones_too(api_client, three_failures_allowed):
    for name in ("Ghost", "GHOST", "ghost"):
        assert _login(api_client, name, "whatever1").status_code == 401
    assert _login(api_client, "gHoSt", "whatever1").status_code == 429
