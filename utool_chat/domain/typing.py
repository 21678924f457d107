"""Typing indicators: "Alice is typing…" for the other members of a conversation.

Typing is never stored: each call checks membership (one query, which also yields the
other members and the typist's display name) and publishes straight to the bus.

    typing_started(actor_id, conversation_id)  -> chat:user_typing {conversationId, userId, userName}
    typing_stopped(actor_id, conversation_id)  -> chat:user_stopped_typing {conversationId, userId}

Both go to the OTHER active members only. A non-member gets NotFound, exactly as for any
other conversation they cannot see.

Expiry (a typing state not refreshed within TYPING_TTL seconds ends by itself) lives in
utool_chat/realtime/typing_expiry.py, not here: it needs an event loop and a notion of
which connection owns the state (a vanished socket's typing must stop), and both belong
to the connection layer. These functions stay plain synchronous calls, like the rest of
the domain.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa

from utool_chat.db.engine import session_scope
from utool_chat.db.models import ConversationMember, User
from utool_chat.domain.errors import NotFound, ValidationFailed
from utool_chat.domain.text import is_id
from utool_chat.events import Event, publish_now

# Seconds after which an unrefreshed typing state ends (clients refresh while typing).
TYPING_TTL = float(os.environ.get("TYPING_TTL_SECONDS", "5"))

MAX_ID_LENGTH = 64


def _check_id(raw: Any) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_ID_LENGTH:
        raise ValidationFailed("conversationId must be a conversation id string.", code="invalid_conversation_id")
    if not is_id(raw):  # cannot exist (and a NUL byte must not reach SQL): like any unseen conversation
        raise NotFound("Conversation not found.", code="conversation_not_found")
    return raw


def _active_members(actor_id: str, conversation_id: str) -> tuple[str, list[str]]:
    """(actor's display name, the other active members' ids); NotFound unless the actor is one."""
    with session_scope() as session:
        rows = session.execute(
            sa.select(ConversationMember.user_id, User.display_name)
            .join(User, User.id == ConversationMember.user_id)
            .where(ConversationMember.conversation_id == conversation_id, ConversationMember.left_at.is_(None))
        ).all()
    names = dict(rows)
    if actor_id not in names:
        raise NotFound("Conversation not found.", code="conversation_not_found")
    return names[actor_id], [uid for uid in names if uid != actor_id]


def typing_started(actor_id: str, conversation_id: Any) -> None:
    conversation_id = _check_id(conversation_id)
    user_name, others = _active_members(actor_id, conversation_id)
    if others:
        publish_now(Event(
            "chat:user_typing",
            {"conversationId": conversation_id, "userId": actor_id, "userName": user_name},
            others,
        ))


def typing_stopped(actor_id: str, conversation_id: Any) -> None:
    conversation_id = _check_id(conversation_id)
    _user_name, others = _active_members(actor_id, conversation_id)
    if others:
        publish_now(Event("chat:user_stopped_typing", {"conversationId": conversation_id, "userId": actor_id}, others))
