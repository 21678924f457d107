"""Helpers for chat tests: users, friendships and bulk history written straight to the
database (fast), so each test spends its time on the behaviour it is about."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from utool_chat.db.engine import get_engine, session_scope
from utool_chat.db.models import AuthSession, Conversation, Friendship, Message, User, new_id, utcnow
from utool_chat.domain import accounts, conversations
from utool_chat.domain.serializers import user_out
from utool_chat.events.bus import get_bus


def make_user(username: str) -> dict[str, Any]:
    """A user row (no password hashing: these users never log in by password)."""
    with session_scope() as session:
        user = User(username=username, display_name=username.title(), password_hash="!")
        session.add(user)
        session.flush()
        return user_out(user)


def auth_headers(user_id: str) -> dict[str, str]:
    """A live bearer token for the user, as login would create it."""
    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        session.add(AuthSession(user_id=user_id, token_hash=accounts._hash_token(token),
                                expires_at=utcnow() + timedelta(days=1)))
    return {"Authorization": f"Bearer {token}"}


def befriend(a: str, b: str) -> None:
    with session_scope() as session:
        session.add_all([Friendship(user_id=a, friend_id=b), Friendship(user_id=b, friend_id=a)])


def direct_between(a: str, b: str) -> dict[str, Any]:
    befriend(a, b)
    conversation, created = conversations.create_conversation(a, [b])
    assert created
    return conversation


def bulk_messages(conversation_id: str, sender_id: str, count: int, *, text: str = "message") -> list[str]:
    """Append `count` messages (seq continues) in one executemany; returns their ids in order."""
    with get_engine().begin() as conn:
        start = conn.execute(
            sa.update(Conversation.__table__).where(Conversation.__table__.c.id == conversation_id)
            .values(last_seq=Conversation.__table__.c.last_seq + count)
            .returning(Conversation.__table__.c.last_seq)
        ).scalar_one() - count
        now = utcnow()
        rows = [
            {"id": new_id(), "conversation_id": conversation_id, "seq": start + i + 1, "sender_id": sender_id,
             "content": f"{text} {start + i + 1}", "content_type": "text", "is_edited": False, "is_deleted": False,
             "created_at": now + timedelta(microseconds=i), "updated_at": now + timedelta(microseconds=i)}
            for i in range(count)
        ]
        conn.execute(sa.insert(Message.__table__), rows)
        conn.execute(sa.update(Conversation.__table__).where(Conversation.__table__.c.id == conversation_id)
                     .values(last_message_id=rows[-1]["id"], last_activity_at=rows[-1]["created_at"]))
    return [r["id"] for r in rows]


@pytest.fixture()
def events(monkeypatch):
    """Every event the domain hands to the bus (after commit), in order."""
    seen: list = []
    monkeypatch.setattr(get_bus(), "publish", seen.append)
    return seen


def named(events: list, name: str) -> list:
    return [e for e in events if e.name == name]
