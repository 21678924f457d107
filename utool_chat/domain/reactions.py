"""Reactions: one row per (message, user, emoji).

Adding the same reaction twice is a no-op (the primary key makes it so, even under races);
removing a reaction that is not there is a no-op too (200 with the message): both calls
state the desired end state, so clients can retry them freely. Deleted messages take no
new reactions (409 `message_deleted`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from utool_chat.db.engine import session_scope
from utool_chat.db.models import Reaction, table
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages as msgs
from utool_chat.domain import serializers as ser
from utool_chat.domain.errors import Conflict, ValidationFailed

MAX_EMOJI_CHARS = 64
MAX_REACTIONS_PER_USER = 20  # distinct emoji one user may put on one message

reactions_t = table(Reaction)


def _check_emoji(raw: Any) -> str:
    emoji = convs.check_text(raw, "emoji", max_chars=MAX_EMOJI_CHARS, code="invalid_emoji")
    if not emoji:
        raise ValidationFailed("emoji must not be empty.", code="invalid_emoji")
    return emoji


def _insert_ignoring_duplicate(session: Session, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either database; True if a row was added."""
    statement: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(reactions_t).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(reactions_t).values(**values).on_conflict_do_nothing()
    return session.exec(statement.returning(reactions_t.c.emoji)).first() is not None


def add_reaction(actor_id: str, message_id: Any, emoji: Any) -> dict[str, Any]:
    mid = msgs.check_message_id(message_id)
    emoji = _check_emoji(emoji)
    with session_scope() as session:
        msg, sender, roster = msgs.visible_message(session, actor_id, mid)
        if msg.is_deleted:
            raise Conflict("This message was deleted.", code="message_deleted")
        mine = set(session.execute(
            sa.select(reactions_t.c.emoji).where(reactions_t.c.message_id == mid, reactions_t.c.user_id == actor_id)
        ).scalars())
        added = False
        if emoji not in mine:
            if len(mine) >= MAX_REACTIONS_PER_USER:
                raise ValidationFailed(f"At most {MAX_REACTIONS_PER_USER} reactions per message.",
                                       code="too_many_reactions")
            added = _insert_ignoring_duplicate(session, {"message_id": mid, "user_id": actor_id, "emoji": emoji})
        out = msgs.serialize_with(session, msg, sender, ser.positions_of(roster))
        if added:
            msgs.publish_message_updated(session, out, roster)
        return msgs.as_seen_by(out, roster, actor_id)


def remove_reaction(actor_id: str, message_id: Any, emoji: Any) -> dict[str, Any]:
    mid = msgs.check_message_id(message_id)
    emoji = _check_emoji(emoji)
    with session_scope() as session:
        msg, sender, roster = msgs.visible_message(session, actor_id, mid)
        removed = session.exec(
            sa.delete(reactions_t)
            .where(reactions_t.c.message_id == mid, reactions_t.c.user_id == actor_id, reactions_t.c.emoji == emoji)
            .returning(reactions_t.c.emoji)
        ).first() is not None
        out = msgs.serialize_with(session, msg, sender, ser.positions_of(roster))
        if removed:
            msgs.publish_message_updated(session, out, roster)
        return msgs.as_seen_by(out, roster, actor_id)
