"""Accounts: register, log in, log out, and token → user (the hot path of every request).

Tokens are 32 random bytes (urlsafe); only HMAC-SHA256(secret, token) is stored, so a
database leak yields no usable tokens. Passwords are hashed with argon2id.

Logging out ends the session everywhere: after the revocation commits, `logout` publishes
SESSION_REVOKED {"sessionId": <col(AuthSession.id)>} to the user. The id names the login, never
its token; the realtime doors use it to close that session's open connections (the /chat
sockets, see realtime/fanout.py; the browser tabs, see state/auth.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from utool_chat import config
from utool_chat.db import async_pg
from utool_chat.db.engine import is_postgres, session_scope
from utool_chat.db.models import AuthSession, User, utcnow
from utool_chat.domain import ratelimit
from utool_chat.domain.errors import Conflict, Unauthenticated, ValidationFailed
from utool_chat.domain.serializers import user_out
from utool_chat.domain.text import is_storable_text, storable_text_problem
from utool_chat.events import Event, publish_on_commit

USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256  # argon2 is slow on purpose; do not let one request hash megabytes
MAX_DISPLAY_NAME = 64

# Bus event published when a session is revoked: {"sessionId"} to its user.
SESSION_REVOKED = "auth:session_revoked"

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _hash_token(token: str) -> str:
    return hmac.new(config.settings.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def normalise_username(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed("username must be a string.", code="invalid_username")
    return raw.strip().lower()


def check_username(raw: Any) -> str:
    username = normalise_username(raw)
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed(
            "username must be 3–32 characters of a-z, 0-9, '_', '.' or '-'.", code="invalid_username"
        )
    return username


def check_password(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed("password must be a string.", code="invalid_password")
    problem = storable_text_problem(raw)
    if problem:  # argon2 hashes UTF-8: a lone surrogate cannot be hashed
        raise ValidationFailed(f"password {problem}.", code="invalid_password")
    if len(raw) < MIN_PASSWORD:
        raise ValidationFailed(f"password must be at least {MIN_PASSWORD} characters.", code="invalid_password")
    if len(raw) > MAX_PASSWORD:
        raise ValidationFailed(f"password must be at most {MAX_PASSWORD} characters.", code="invalid_password")
    return raw


def check_display_name(raw: Any, fallback: str) -> str:
    if raw is None:
        return fallback
    if not isinstance(raw, str):
        raise ValidationFailed("displayName must be a string.", code="invalid_display_name")
    problem = storable_text_problem(raw)
    if problem:
        raise ValidationFailed(f"displayName {problem}.", code="invalid_display_name")
    name = " ".join(raw.split())
    if not name:
        return fallback
    if len(name) > MAX_DISPLAY_NAME:
        raise ValidationFailed(f"displayName must be at most {MAX_DISPLAY_NAME} characters.",
                               code="invalid_display_name")
    return name


def _new_session(session: Session, user_id: str) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            user_id=user_id,
            token_hash=_hash_token(token),
            expires_at=utcnow() + timedelta(days=config.settings.session_ttl_days),
        )
    )
    return token


def register(username: Any, password: Any, display_name: Any = None) -> dict[str, Any]:
    """Create an account and log it in: {"user", "token"}. 409 if the username is taken."""
    name = check_username(username)
    pw = check_password(password)
    shown = check_display_name(display_name, fallback=name)
    pw_hash = _hasher.hash(pw)
    try:
        with session_scope() as session:
            if session.execute(sa.select(col(User.id)).where(col(User.username) == name)).first():
                raise Conflict("That username is already taken.", code="username_taken")
            user = User(username=name, display_name=shown, password_hash=pw_hash)
            session.add(user)
            session.flush()
            token = _new_session(session, user.id)
            out = user_out(user)
    except IntegrityError:  # lost a race for the same username
        raise Conflict("That username is already taken.", code="username_taken") from None
    return {"user": out, "token": token}


def login(username: Any, password: Any) -> dict[str, Any]:
    """{"user", "token"} for the right password; 401 (same message) for any wrong pair."""
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValidationFailed("username and password must be strings.", code="validation_error")
    if not (is_storable_text(username) and is_storable_text(password)):
        raise ValidationFailed("username and password must be valid text without NUL characters.",
                               code="validation_error")
    name = normalise_username(username)
    # Checked before the password, so a guesser who has used up the budget learns nothing
    # more, not even from a right guess. Unknown usernames count too (no enumeration).
    ratelimit.check_login_allowed(name)
    with session_scope() as session:
        user = session.execute(sa.select(User).where(col(User.username) == name)).scalars().first()
        if user is None or not _password_matches(user, password):  # (hashes anyway when None)
            ratelimit.record_failed_login(name)
            raise Unauthenticated("Wrong username or password.", code="invalid_credentials")
        token = _new_session(session, user.id)
        return {"user": user_out(user), "token": token}


def _password_matches(user: User | None, password: str) -> bool:
    if user is None or len(password) > MAX_PASSWORD:
        # Hash anyway so an unknown username takes as long as a wrong password.
        try:
            _hasher.verify(_DUMMY_HASH, password[:MAX_PASSWORD] or "x")
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def logout(token: str) -> None:
    """Revoke the session behind `token`: it stops working at once, and SESSION_REVOKED
    (after the commit) tells every process to drop that session's open connections."""
    if not is_storable_text(token):
        raise Unauthenticated("Invalid or expired token.", code="invalid_token")
    with session_scope() as session:
        revoked = session.exec(
            sa.update(AuthSession)
            .where(col(AuthSession.token_hash) == _hash_token(token), col(AuthSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
            .returning(col(AuthSession.id), col(AuthSession.user_id))
        ).first()
        if revoked is None:
            raise Unauthenticated("Invalid or expired token.", code="invalid_token")
        publish_on_commit(session, Event(SESSION_REVOKED, {"sessionId": revoked.id}, [revoked.user_id]))


def authenticate_session(token: Any) -> tuple[dict[str, Any], str]:
    """(user object, session id) behind a live token, in one query; 401 otherwise.

    For doors that hold a connection open: they keep the session id to close the
    connection when SESSION_REVOKED names it."""
    token_hash = _hash_of_offered(token)
    with session_scope() as session:
        return _authenticated(session.execute(_LIVE_SESSION, {"token_hash": token_hash, "now": utcnow()}).first())


async def authenticate_async(token: Any) -> dict[str, Any]:
    """authenticate for doors on the event loop (the HTTP API): on Postgres the query runs on
    the loop (db.async_pg), elsewhere in a worker thread."""
    if not is_postgres():
        return await asyncio.to_thread(authenticate, token)
    token_hash = _hash_of_offered(token)
    async with async_pg.connection() as conn:
        row = await conn.fetchrow(_LIVE_SESSION_SQL, {"token_hash": token_hash, "now": utcnow()})
    return _authenticated(row)[0]


# The user and session behind a token's hash that is neither revoked nor expired.
_LIVE_SESSION = (
    sa.select(col(User.id), col(User.username), col(User.display_name), col(User.avatar), col(AuthSession.id))
    .join(AuthSession, col(AuthSession.user_id) == col(User.id))
    .where(col(AuthSession.token_hash) == sa.bindparam("token_hash"), col(AuthSession.revoked_at).is_(None),
           col(AuthSession.expires_at) > sa.bindparam("now"))
)
_LIVE_SESSION_SQL = async_pg.compiled(_LIVE_SESSION)


def _hash_of_offered(token: Any) -> str:
    if not is_storable_text(token) or not token or len(token) > 256:
        raise Unauthenticated("Missing or invalid token.", code="invalid_token")
    return _hash_token(token)


def _authenticated(row: Any) -> tuple[dict[str, Any], str]:
    if row is None:
        raise Unauthenticated("Invalid or expired token.", code="invalid_token")
    user_id, username, display_name, avatar, session_id = row
    return user_out(User.model_construct(id=user_id, username=username, display_name=display_name,
                                         avatar=avatar)), session_id


def authenticate(token: Any) -> dict[str, Any]:
    """The user object behind a live token, in one query; 401 otherwise."""
    return authenticate_session(token)[0]
