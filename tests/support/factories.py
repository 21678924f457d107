"""Users, friendships, conversations and history for tests, made through the real database.

    make_user(username=None, display_name=None, password=None) -> user object
    new_person(display_name=None, username=None, password=None) -> Person (user + live token)
    issue_token(user_id) -> a bearer token, as a login would create it
    befriend(a, b)                       a and b are friends (no request, no event)
    direct_conversation(a, b) -> conversation (a's view; befriends them first)
    group_conversation(owner, members, name="Team") -> conversation (owner's view, owner admin;
                                        befriends the owner with each member first: by default
                                        people only accept being put into groups by friends)
    bulk_messages(conversation_id, sender_id, count) -> their ids (one INSERT, no events)

`a`, `b`, `owner`, `members`: a user id, a user object or a Person. Users without a password
are inserted directly (argon2 is slow on purpose, and most tests never log in by password);
with one they are registered through accounts.register, so a browser can log in as them.
Usernames default to a fresh unique one: suites that do not truncate between tests (the
Socket.IO and browser ones) never collide.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from utool_chat.db.engine import get_engine, session_scope
from utool_chat.db.models import AuthSession, Conversation, Friendship, Message, User, new_id, table, utcnow
from utool_chat.domain import accounts, conversations
from utool_chat.domain.serializers import user_out

PASSWORD = "correct horse battery"


@dataclass
class Person:
    """A user with a live bearer token (for the HTTP and Socket.IO suites)."""

    user: dict[str, Any]
    token: str

    @property
    def id(self) -> str:
        return str(self.user["_id"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


UserLike = str | dict[str, Any] | Person


def user_id(who: UserLike) -> str:
    if isinstance(who, Person):
        return who.id
    if isinstance(who, dict):
        return str(who["_id"])
    return who


def unique_username(prefix: str = "user") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def make_user(username: str | None = None, display_name: str | None = None, *,
              password: str | None = None) -> dict[str, Any]:
    """A stored user object; the display name defaults to the username, title-cased."""
    name = username or unique_username()
    shown = display_name or name.title()
    if password is not None:
        return dict(accounts.register(name, password, shown)["user"])
    with session_scope() as session:
        user = User(username=name, display_name=shown, password_hash="!")  # no argon2 hash: no password login
        session.add(user)
        session.flush()
        return user_out(user)


def issue_token(user_id: str) -> str:
    """A live bearer token for the user, stored exactly as a login stores one."""
    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        session.add(AuthSession(user_id=user_id, token_hash=accounts._hash_token(token),
                                expires_at=utcnow() + timedelta(days=1)))
    return token


def new_person(display_name: str | None = None, *, username: str | None = None,
               password: str | None = None) -> Person:
    user = make_user(username, display_name, password=password)
    return Person(user, issue_token(user["_id"]))


def befriend(a: UserLike, b: UserLike) -> None:
    """Store the friendship both ways, as accepting a request does (no events). Friends
    already stay friends."""
    first, second = user_id(a), user_id(b)
    with session_scope() as session:
        for one, other in ((first, second), (second, first)):
            if session.get(Friendship, (one, other)) is None:
                session.add(Friendship(user_id=one, friend_id=other))


def direct_conversation(a: UserLike, b: UserLike) -> dict[str, Any]:
    """Befriends a and b and starts their direct conversation (as a sees it)."""
    befriend(a, b)
    conversation, _created = conversations.create_conversation(user_id(a), [user_id(b)])
    return conversation


def group_conversation(owner: UserLike, members: Iterable[UserLike], name: str = "Team") -> dict[str, Any]:
    """A group created by `owner`, its first admin. The owner is befriended with every member
    first: by default a user may be put into a group by friends only (settings.groupInvites)."""
    member_ids = [user_id(m) for m in members]
    for member in member_ids:
        befriend(owner, member)
    conversation, _created = conversations.create_conversation(user_id(owner), member_ids, type="group", name=name)
    return conversation


def bulk_messages(conversation_id: str, sender_id: str, count: int, *, text: str = "message") -> list[str]:
    """Append `count` messages (seq continues) in one executemany; returns their ids in order.
    Written straight to the tables: no events, no read receipts, no unread announcements."""
    conversations_t, messages_t = table(Conversation), table(Message)
    with get_engine().begin() as conn:
        start = conn.execute(
            sa.update(conversations_t).where(conversations_t.c.id == conversation_id)
            .values(last_seq=conversations_t.c.last_seq + count)
            .returning(conversations_t.c.last_seq)
        ).scalar_one() - count
        now = utcnow()
        rows = [
            {"id": new_id(), "conversation_id": conversation_id, "seq": start + i + 1, "sender_id": sender_id,
             "content": f"{text} {start + i + 1}", "content_type": "text", "is_edited": False, "is_deleted": False,
             "created_at": now + timedelta(microseconds=i), "updated_at": now + timedelta(microseconds=i)}
            for i in range(count)
        ]
        conn.execute(sa.insert(messages_t), rows)
        conn.execute(sa.update(conversations_t).where(conversations_t.c.id == conversation_id)
                     .values(last_message_id=rows[-1]["id"], last_activity_at=rows[-1]["created_at"]))
    return [r["id"] for r in rows]
