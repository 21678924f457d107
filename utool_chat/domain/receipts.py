"""Who has received and read a message: the message-info view and the "Seen by" line.

Both come from what is stored anyway: each member's read and delivery positions and the
read receipts (readBy). Delivery has no time of its own: a member's position says whether
a message reached their device, not when (only reads are timed).

    message_info(actor_id, message_id) -> {messageId, conversationId, members, readCount, deliveredCount}
        For the actor's own messages (403 not_sender otherwise; 404 for a non-member): one
        entry per other member — {user, status: "read" | "delivered" | "sent", readAt} — readers
        first (in the order they read it), then the others. Members who left but had read it
        are listed too (`left: true`).
    seen_by(message, participants) -> [{user, readAt}]
    seen_by_label(message, participants) -> "Seen by Alice, Bob" | "Seen by 12" | ""
        Pure, for the line under one's own last message (the Reflex views call them).

Privacy (settings.readReceipts): a member who turned read receipts off is never shown as
having read anything they read since (at most "delivered"), and a viewer who turned them off
sees no reads at all — their readBy is empty, their info view stops at "delivered".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from utool_chat.db.engine import session_scope
from utool_chat.db.models import User
from utool_chat.domain import messages as msgs
from utool_chat.domain import serializers as ser
from utool_chat.domain.errors import Forbidden

SEEN_BY_NAMES = 3  # more readers than this: "Seen by 12"


def message_info(actor_id: str, message_id: Any) -> dict[str, Any]:
    mid = msgs.check_message_id(message_id)
    with session_scope() as session:
        msg, sender, roster = msgs.visible_message(session, actor_id, mid)
        if msg.sender_id != actor_id:
            raise Forbidden("Message info is shown for your own messages only.", code="not_sender")
        served = msgs.as_seen_by(msgs.serialize_with(session, msg, sender, ser.positions_of(roster)), roster,
                                 actor_id)
        read_at = {entry["user"]: entry["readAt"] for entry in served["readBy"]}
        active = {member.user_id: (member, user) for member, user in roster}
        departed_readers = [uid for uid in read_at if uid not in active]
        departed = {user.id: user for user in session.execute(
            sa.select(User).where(col(User.id).in_(departed_readers))).scalars()} if departed_readers else {}
    entries: list[dict[str, Any]] = []
    for uid, (member, user) in active.items():
        if uid == actor_id:
            continue
        status = ("read" if uid in read_at else
                  "delivered" if member.last_delivered_seq >= msg.seq else "sent")
        entries.append({"user": ser.user_out(user), "status": status, "readAt": read_at.get(uid)})
    for uid in departed_readers:
        if uid in departed:
            entries.append({"user": ser.user_out(departed[uid]), "status": "read", "readAt": read_at[uid],
                            "left": True})
    order = {"read": 0, "delivered": 1, "sent": 2}
    entries.sort(key=lambda e: (order[e["status"]], e["readAt"] or "", e["user"]["displayName"].lower()))
    return {
        "messageId": msg.id,
        "conversationId": msg.conversation_id,
        "members": entries,
        "readCount": sum(e["status"] == "read" for e in entries),
        "deliveredCount": sum(e["status"] in ("read", "delivered") for e in entries),
    }


def seen_by(message: Mapping[str, Any], participants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The message's readers as [{user, readAt}] in reading order, from its served readBy
    (already without the reads the viewer may not see). `participants`: user objects
    (the conversation's); a reader no longer among them is left out."""
    people = {p.get("_id"): p for p in participants}
    return [{"user": people[entry["user"]], "readAt": entry.get("readAt")}
            for entry in message.get("readBy") or [] if entry.get("user") in people]


def seen_by_label(message: Mapping[str, Any], participants: Sequence[Mapping[str, Any]],
                  names: int = SEEN_BY_NAMES) -> str:
    """"Seen by Alice, Bob" for up to `names` readers, "Seen by 12" beyond, "" for none."""
    readers = seen_by(message, participants)
    if not readers:
        return ""
    if len(readers) > names:
        return f"Seen by {len(readers)}"
    return "Seen by " + ", ".join(r["user"].get("displayName") or r["user"].get("username") or "?" for r in readers)
