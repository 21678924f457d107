"""A user's own settings: privacy, who may add them to groups, notification sound.

    showLastSeen       bool  (default true)   false: nobody sees when you were last online — and
                                              you see nobody's (WhatsApp's rule). Online/away
                                              still show.
    readReceipts       bool  (default true)   false: what you read from now on is never shown to
                                              anyone, and you see nobody's reads (readBy empty,
                                              ticks at most "delivered"), in direct chats and
                                              groups alike. Reads shown before stay shown.
    groupInvites       "friends" (default) | "everyone" | "nobody"
                                              who may put you into a group (create or add); anyone
                                              else gets 403 group_invite_refused.
    notificationSound  bool  (default true)   whether the web app plays a sound with a
                                              notification (kept here so it follows the account).

    get_settings(actor_id) -> settings
    update_settings(actor_id, changes) -> settings   (only the keys given change)

An update is announced to the user's own tabs and sockets as chat:settings_updated
{settings}. Turning showLastSeen or readReceipts on or off changes what that user sees of
others (presence, readBy): their clients refetch those on the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from utool_chat.db.engine import session_scope
from utool_chat.db.models import Friendship, User, utcnow
from utool_chat.domain.errors import Forbidden, NotFound, ValidationFailed
from utool_chat.events import Event, publish_on_commit

SETTINGS_UPDATED = "chat:settings_updated"
GROUP_INVITES = ("friends", "everyone", "nobody")
# API name -> (column, allowed values or bool)
FIELDS: dict[str, tuple[str, tuple[str, ...] | type]] = {
    "showLastSeen": ("show_last_seen", bool),
    "readReceipts": ("read_receipts", bool),
    "groupInvites": ("group_invites", GROUP_INVITES),
    "notificationSound": ("notification_sound", bool),
}


def settings_out(user: User) -> dict[str, Any]:
    return {name: getattr(user, column) for name, (column, _kind) in FIELDS.items()}


def _check_changes(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        raise ValidationFailed("Give the settings to change as a JSON object: " + ", ".join(FIELDS) + ".",
                               code="nothing_to_update")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in FIELDS:
            raise ValidationFailed(f"Unknown setting {str(name)[:64]!r}; known: " + ", ".join(FIELDS) + ".",
                                   code="unknown_setting")
        column, kind = FIELDS[name]
        if kind is bool:
            if not isinstance(value, bool):
                raise ValidationFailed(f"{name} must be true or false.", code="invalid_setting")
        elif value not in kind:  # type: ignore[operator]
            raise ValidationFailed(f"{name} must be one of: " + ", ".join(kind) + ".",  # type: ignore[arg-type]
                                   code="invalid_setting")
        out[column] = value
    return out


def _user(session: Session, actor_id: str) -> User:
    user = session.get(User, actor_id)
    if user is None:
        raise NotFound("User not found.", code="user_not_found")
    return user


def get_settings(actor_id: str) -> dict[str, Any]:
    with session_scope() as session:
        return settings_out(_user(session, actor_id))


def update_settings(actor_id: str, changes: Any) -> dict[str, Any]:
    values = _check_changes(changes)
    with session_scope() as session:
        user = _user(session, actor_id)
        before = settings_out(user)
        for column, value in values.items():
            setattr(user, column, value)
        after = settings_out(user)
        if after == before:
            return after
        user.updated_at = utcnow()
        session.flush()
        publish_on_commit(session, Event(SETTINGS_UPDATED, {"settings": after}, [actor_id]))
        if after["showLastSeen"] != before["showLastSeen"]:
            from utool_chat.domain import presence  # presence reads settings: imported late

            presence.announce_on_commit(session, actor_id)
        return after


# --- consent for groups --------------------------------------------------------------------


def check_group_invites(session: Session, actor_id: str, user_ids: Iterable[str]) -> None:
    """Raise 403 group_invite_refused unless every one of `user_ids` lets the actor put them
    into a group: "everyone", or "friends" and the actor is one. One query.

    The answer names who refused but not why: a friend learns that someone accepts nobody
    (as they could by asking), a stranger only that they may not — the same answer whether
    that person accepts friends or nobody."""
    wanted = [uid for uid in dict.fromkeys(user_ids) if uid != actor_id]
    if not wanted:
        return
    is_friend = sa.exists().where(col(Friendship.user_id) == actor_id, col(Friendship.friend_id) == col(User.id))
    rows = session.execute(
        sa.select(col(User.id), col(User.display_name), col(User.group_invites), is_friend)
        .where(col(User.id).in_(wanted))
    )
    refused = [
        name for _uid, name, invites, friend in rows
        if not (invites == "everyone" or (invites == "friends" and friend))
    ]
    if refused:
        who = ", ".join(refused[:10]) + (f" and {len(refused) - 10} more" if len(refused) > 10 else "")
        raise Forbidden(f"You cannot add {who} to a group: they choose who may add them.",
                        code="group_invite_refused")
