"""Group notices: the `system` messages the server writes when a group changes.

    group_created   {name, userIds}        Ann created the group “Team”
    group_renamed   {name, oldName}        Ann renamed the group to “Launch”
    members_added   {userIds}              Ann added Bob and Cid
    member_removed  {userIds}              Ann removed Bob
    member_left     {}                     Bob left
    admins_added    {userIds}              Ann made Bob an admin (actorId null: Bob is now an admin,
                                           after the last admin left)
    avatar_changed  {removed}              Ann changed / removed the group photo

A notice is a message like any other: it takes the next `seq`, becomes the conversation's
lastMessage (the list shows it, as WhatsApp does) and is activity, reaches every active member
live as chat:new_message, and is unread for everyone but the member who caused it (its
sender). It is never editable (permissions.editable_until) nor deletable by anyone
(permissions.delete_refusal). Its `notice` field holds the structured data above plus `type`
and `actorId`, so clients can render and translate it; `content` (and contentHtml, snippet)
is the English sentence, with the names as they were when it was written.

The callers (conversations.py) hold the conversation's row lock, so bumping `last_seq` on the
locked row here cannot race a send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from utool_chat.db.models import Conversation, ConversationMember, Message, User, new_id
from utool_chat.domain import formatting
from utool_chat.domain import serializers as ser
from utool_chat.domain.permissions import SYSTEM_CONTENT_TYPE

GROUP_CREATED = "group_created"
GROUP_RENAMED = "group_renamed"
MEMBERS_ADDED = "members_added"
MEMBER_REMOVED = "member_removed"
MEMBER_LEFT = "member_left"
ADMINS_ADDED = "admins_added"
AVATAR_CHANGED = "avatar_changed"
TYPES = (GROUP_CREATED, GROUP_RENAMED, MEMBERS_ADDED, MEMBER_REMOVED, MEMBER_LEFT, ADMINS_ADDED, AVATAR_CHANGED)


def _names(user_ids: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [names.get(uid, "someone") for uid in user_ids]
    if len(shown) <= 1:
        return "".join(shown)
    if len(shown) > 5:
        return ", ".join(shown[:4]) + f" and {len(shown) - 4} others"
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def notice_text(notice: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The English sentence for a notice (`names`: userId -> display name)."""
    kind = notice.get("type")
    actor = names.get(notice.get("actorId") or "", "Someone")
    users = _names(notice.get("userIds") or [], names)
    if kind == GROUP_CREATED:
        return f"{actor} created the group “{notice.get('name')}”"
    if kind == GROUP_RENAMED:
        return f"{actor} renamed the group to “{notice.get('name')}”"
    if kind == MEMBERS_ADDED:
        return f"{actor} added {users}"
    if kind == MEMBER_REMOVED:
        return f"{actor} removed {users}"
    if kind == MEMBER_LEFT:
        return f"{actor} left"
    if kind == ADMINS_ADDED:
        if notice.get("actorId") is None:
            return f"{users} {'is' if len(notice.get('userIds') or []) == 1 else 'are'} now an admin"
        return f"{actor} made {users} an admin"
    if kind == AVATAR_CHANGED:
        return f"{actor} {'removed' if notice.get('removed') else 'changed'} the group photo"
    return "The group changed"


def display_names(session: Session, user_ids: Sequence[str]) -> dict[str, str]:
    """userId -> display name for the people notices name (one query)."""
    wanted = sorted({uid for uid in user_ids if uid})
    if not wanted:
        return {}
    rows = session.execute(sa.select(col(User.id), col(User.display_name)).where(col(User.id).in_(wanted)))
    return {uid: name for uid, name in rows}


def write(session: Session, conv: Conversation, actor: User | None, kind: str, now: datetime,
          names: Mapping[str, str], actor_member: ConversationMember | None = None, **data: Any) -> dict[str, Any]:
    """Store one notice in `conv` (its row locked by the caller, or just created) and return
    it as served. The caller publishes it (conversations.publish_notices) after the change.

    `actor_member` (the actor's membership, if they are still a member): when they had read
    everything before it, their read position follows to the notice, as it follows their own
    messages — so their next message does not count as "read what came before". Nothing
    else is marked read: a rename does not imply having read the backlog."""
    notice = {"type": kind, "actorId": actor.id if actor else None, "userIds": [], **data}
    text = notice_text(notice, {**names, **({actor.id: actor.display_name} if actor else {})})
    out = formatting.render_plain(text)
    conv.last_seq += 1
    message = Message(id=new_id(), conversation_id=conv.id, seq=conv.last_seq, sender_id=actor.id if actor else None,
                      content=text, content_type=SYSTEM_CONTENT_TYPE, content_html=out.html, snippet=out.snippet,
                      notice=notice, created_at=now, updated_at=now)
    conv.last_message_id, conv.last_activity_at, conv.updated_at = message.id, now, now
    if actor_member is not None and actor_member.left_at is None and actor_member.last_read_seq == conv.last_seq - 1:
        actor_member.last_read_seq, actor_member.last_read_at = conv.last_seq, now
    session.add(message)
    session.flush()
    return ser.message_out(message, actor, attachments=[], reactions=[], read_by=[], status="sent", reply_to=None)
