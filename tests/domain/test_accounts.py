"""accounts domain: how secrets are stored, and the cost of the per-request token check."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from tests.conftest import count_queries
from utool_chat.db.engine import get_engine
from utool_chat.domain import accounts
from utool_chat.domain.errors import Conflict, Unauthenticated, ValidationFailed
from utool_chat.events import Event, get_bus


def _rows(sql: str, **params):
    with get_engine().connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_password_is_stored_only_as_an_argon2id_hash(db):
    accounts.register("alice", "correct horse battery")
    (pw_hash,) = _rows("SELECT password_hash FROM users WHERE username = 'alice'")[0]
    assert pw_hash.startswith("$argon2id$")
    assert "correct horse battery" not in pw_hash
    assert PasswordHasher().verify(pw_hash, "correct horse battery")


def test_token_is_stored_hashed_never_raw(db):
    token = accounts.register("alice", "correct horse")["token"]
    stored = _rows("SELECT token_hash FROM auth_sessions")
    assert len(stored) == 1
    assert stored[0][0] != token
    # The raw token appears in no column of auth_sessions.
    dump = _rows("SELECT CAST(auth_sessions.* AS text) FROM auth_sessions")
    assert all(token not in row[0] for row in dump)


def test_authenticate_is_exactly_one_query(db):
    token = accounts.register("alice", "correct horse")["token"]
    with count_queries() as q:
        user = accounts.authenticate(token)
    assert user["username"] == "alice"
    assert q.count == 1, q.statements


def test_authenticate_returns_the_user_object_shape(db):
    created = accounts.register("alice", "correct horse", display_name="Alice A.")
    assert accounts.authenticate(created["token"]) == {
        "_id": created["user"]["_id"], "username": "alice", "displayName": "Alice A.", "avatar": None,
    }


@pytest.mark.parametrize("bad", [None, "", 5, ["x"], "x" * 300, "not-a-real-token"])
def test_authenticate_rejects_bad_tokens(db, bad):
    with pytest.raises(Unauthenticated):
        accounts.authenticate(bad)


def test_each_login_gets_its_own_token_and_logout_revokes_only_that_one(db):
    first = accounts.register("alice", "correct horse")["token"]
    second = accounts.login("ALICE", "correct horse")["token"]
    assert first != second
    accounts.logout(first)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(first)
    assert accounts.authenticate(second)["username"] == "alice"


def test_logout_twice_is_unauthenticated(db):
    token = accounts.register("alice", "correct horse")["token"]
    accounts.logout(token)
    with pytest.raises(Unauthenticated):
        accounts.logout(token)


def test_expired_session_does_not_authenticate(db):
    token = accounts.register("alice", "correct horse")["token"]
    with get_engine().begin() as conn:
        conn.execute(sa.text("UPDATE auth_sessions SET expires_at = now() - interval '1 second'"))
    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


def test_usernames_are_unique_case_insensitively(db):
    accounts.register("Alice", "correct horse")
    with pytest.raises(Conflict):
        accounts.register("ALICE", "correct horse")


@pytest.mark.parametrize(
    "username, password",
    [("ab", "correct horse"), ("a" * 33, "correct horse"), ("al ice", "correct horse"), ("alice!", "correct horse"),
     (5, "correct horse"), ("alice", "short"), ("alice", 12345678), ("alice", "x" * 257)],
)
def test_register_rejects_invalid_input(db, username, password):
    with pytest.raises(ValidationFailed):
        accounts.register(username, password)


def test_wrong_password_and_unknown_user_fail_alike(db):
    accounts.register("alice", "correct horse")
    with pytest.raises(Unauthenticated) as wrong_pw:
        accounts.login("alice", "wrong horse")
    with pytest.raises(Unauthenticated) as no_user:
        accounts.login("nobody", "wrong horse")
    assert wrong_pw.value.message == no_user.value.message


def test_authenticate_session_returns_the_user_and_the_session_id_in_one_query(db):
    first = accounts.register("alice", "correct horse")
    second = accounts.login("alice", "correct horse")
    with count_queries() as q:
        user, session_id = accounts.authenticate_session(second["token"])
    assert q.count == 1, q.statements
    assert user == first["user"]
    (expected_id,) = _session_row(second["token"])
    assert session_id == expected_id
    assert accounts.authenticate_session(first["token"])[1] != session_id


def _session_row(token: str):
    """(id,) of the auth_sessions row of `token`, looked up by its stored hash."""
    return _rows("SELECT id FROM auth_sessions WHERE token_hash = :h", h=accounts._hash_token(token))[0]


def test_logout_publishes_session_revoked_after_commit_naming_the_session_never_the_token(db, monkeypatch):
    created = accounts.register("alice", "correct horse")
    token = created["token"]
    (session_id,) = _session_row(token)
    published: list[tuple[Event, Any]] = []
    deliver = get_bus().publish_encoded

    def publish_encoded(raw: str) -> None:
        # Read from another connection: the revocation must already be committed.
        (revoked_at,) = _rows("SELECT revoked_at FROM auth_sessions WHERE id = :id", id=session_id)[0]
        published.append((Event.from_json(raw), revoked_at))
        deliver(raw)

    monkeypatch.setattr(get_bus(), "publish_encoded", publish_encoded)
    accounts.logout(token)

    assert len(published) == 1
    evt, revoked_at_publish_time = published[0]
    assert revoked_at_publish_time is not None, "published before the revocation was committed"
    assert (evt.name, evt.payload, evt.user_ids) == (
        accounts.SESSION_REVOKED, {"sessionId": session_id}, [created["user"]["_id"]],
    )
    assert token not in evt.to_json()


def test_a_refused_logout_publishes_nothing(db, events):
    token = accounts.register("alice", "correct horse")["token"]
    accounts.logout(token)
    assert [e.name for e in events] == [accounts.SESSION_REVOKED]
    for bad in (token, "not-a-real-token"):
        with pytest.raises(Unauthenticated):
            accounts.logout(bad)
    assert len(events) == 1
