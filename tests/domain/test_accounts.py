"""accounts domain: how secrets are stored, and the cost of the per-request token check."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from tests.conftest import count_queries
from utool_chat.db.engine import get_engine
from utool_chat.domain import accounts
from utool_chat.domain.errors import Conflict, Unauthenticated, ValidationFailed


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
