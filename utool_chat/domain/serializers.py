"""The API shapes of contract.md (the plan's field names: `_id`, `createdAt`, …).

Every door serves exactly these dicts, so a client written against the plan works unchanged.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col

from utool_chat import config
from utool_chat.db.models import (
    Attachment,
    Conversation,
    ConversationMember,
    Message,
    Reaction,
    ReadReceipt,
    User,
    table,
)
from utool_chat.domain import file_urls, formatting, permissions


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 with a time zone (SQLite hands back naive datetimes; they are UTC)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.tzinfo is not UTC:  # psycopg hands back UTC itself on a UTC session: no conversion needed
        ts = ts.astimezone(UTC)
    return ts.isoformat().replace("+00:00", "Z")


# What the serialisers read of a row, so that ORM objects and the plain tuples of a history
# statement (domain/history.py) go through the same functions. Read-only properties: an
# ORM attribute and a NamedTuple field both satisfy them.


class UserFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def avatar(self) -> str | None: ...


class RenderedFields(Protocol):
    @property
    def content(self) -> str: ...
    @property
    def is_deleted(self) -> bool: ...
    @property
    def content_html(self) -> str | None: ...
    @property
    def snippet(self) -> str | None: ...


class ReplyTargetFields(RenderedFields, Protocol):
    @property
    def id(self) -> str: ...
    @property
    def seq(self) -> int: ...


class MessageFields(ReplyTargetFields, Protocol):
    @property
    def conversation_id(self) -> str: ...
    @property
    def sender_id(self) -> str | None: ...
    @property
    def content_type(self) -> str: ...
    @property
    def reply_to_id(self) -> str | None: ...
    @property
    def temp_id(self) -> str | None: ...
    @property
    def is_edited(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def mentions(self) -> list[str] | None: ...
    @property
    def mentions_everyone(self) -> bool: ...
    @property
    def notice(self) -> dict[str, Any] | None: ...


class AttachmentFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def mime_type(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def size(self) -> int | None: ...
    @property
    def storage_key(self) -> str | None: ...
    @property
    def thumbnail_key(self) -> str | None: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...


def user_out(user: UserFields) -> dict[str, Any]:
    return {
        "_id": user.id,
        "username": user.username,
        "displayName": user.display_name,
        "avatar": user.avatar,
    }


# ---------------------------------------------------------------------------------------
# Chat objects. Everything below batch-loads: serialising a page of N messages (or N
# conversations with their lastMessage) costs a fixed number of queries, never one per row.
# ---------------------------------------------------------------------------------------

REPLY_SNIPPET_CHARS = 200


class Position(NamedTuple):
    """A member's read/delivered position: all `status` needs, detached from the ORM so a
    caller can show a position it has just moved without re-reading the row."""

    user_id: str
    read_seq: int
    delivered_seq: int


# An active member with their user row.
RosterEntry = tuple[ConversationMember, User]


class Roster(list[RosterEntry]):
    """A conversation's active members with their user rows, longest-standing first (as
    conversations.active_members loads them: who takes part, who is told), plus `departed`:
    the positions of members who left or were removed, which still count for the status of
    the messages their device received before they went."""

    def __init__(self, entries: Iterable[RosterEntry] = (), departed: Iterable[Position] = ()) -> None:
        super().__init__(entries)
        self.departed = list(departed)


def positions_of(roster: Iterable[RosterEntry]) -> list[Position]:
    positions = [Position(m.user_id, m.last_read_seq, m.last_delivered_seq) for m, _ in roster]
    return positions + (roster.departed if isinstance(roster, Roster) else [])


def message_status(msg: MessageFields, positions: Iterable[Position], read_by: Sequence[dict[str, Any]]) -> str:
    """The sender's view, which never goes back: "read" once someone else has read it (its
    readBy is not empty: read receipts outlive membership), "delivered" once another member's
    client received it (members who left since count too), "sent" before that. A member who
    joins later changes nothing until they read or receive something themselves."""
    if read_by:
        return "read"
    if any(p.delivered_seq >= msg.seq for p in positions if p.user_id != msg.sender_id):
        return "delivered"
    return "sent"


def receipt_out(kind: str, user_id: str, up_to_seq: int, at: datetime | None = None) -> dict[str, Any]:
    """What a read or delivery position move means for every message up to `upToSeq`, sent
    in the event that announces it so a client can apply it to all of them: each message up
    to it not sent by `userId` is now at least `kind` ("read" or "delivered"), and a "read"
    adds {user: userId, readAt: at} to the readBy of those that did not list them yet."""
    receipt: dict[str, Any] = {"kind": kind, "userId": user_id, "upToSeq": up_to_seq}
    if at is not None:
        receipt["at"] = iso(at)
    return receipt


def attachment_out(att: AttachmentFields) -> dict[str, Any]:
    """A link attachment is {url, type, name, size}; an upload adds uploadId, thumbnailUrl,
    width and height, and its URLs are our stable file URLs (see domain/file_urls.py)."""
    out: dict[str, Any] = {"url": att.url, "type": att.mime_type, "name": att.name, "size": att.size}
    if att.storage_key:
        out.update(
            url=file_urls.file_url(att.id),
            uploadId=att.id,
            thumbnailUrl=file_urls.thumbnail_url(att.id) if att.thumbnail_key else None,
            width=att.width,
            height=att.height,
        )
    return out


def rendered(msg: RenderedFields) -> tuple[str, str]:
    """(contentHtml, snippet): as stored when the message was written or edited; rows from
    before rendering was stored are rendered now (they cannot hold mentions)."""
    if msg.is_deleted:
        return "", ""
    if msg.content_html is not None and msg.snippet is not None:
        return msg.content_html, msg.snippet
    out = formatting.render(msg.content)
    return out.html, out.snippet


def reply_out(target: ReplyTargetFields, sender: UserFields | None) -> dict[str, Any]:
    """The quote of a reply's original: `content` its first REPLY_SNIPPET_CHARS characters as
    typed, `snippet` its plain text (formatting.snippet: what a quote shows)."""
    return {
        "_id": target.id,
        "seq": target.seq,
        "sender": user_out(sender) if sender else None,
        "content": "" if target.is_deleted else target.content[:REPLY_SNIPPET_CHARS],
        "snippet": rendered(target)[1],
        "isDeleted": target.is_deleted,
    }


def message_editable_until(msg: MessageFields) -> datetime | None:
    return permissions.editable_until(
        as_utc(msg.created_at), sender_id=msg.sender_id, content_type=msg.content_type, is_deleted=msg.is_deleted,
        edit_window_seconds=config.settings.edit_window_seconds,
    )


def message_rights(msg: Message) -> dict[str, Any]:
    """The fields of the message object that permissions.py reads, from the row alone (no
    query): what the domain's edit and delete checks judge."""
    return {
        "_id": msg.id,
        "sender": {"_id": msg.sender_id} if msg.sender_id else None,
        "contentType": msg.content_type,
        "isDeleted": msg.is_deleted,
        "editableUntil": iso(message_editable_until(msg)),
    }


def message_out(
    msg: MessageFields,
    sender: UserFields | None,
    *,
    attachments: Sequence[dict[str, Any]],
    reactions: Sequence[dict[str, Any]],
    read_by: Sequence[dict[str, Any]],
    status: str,
    reply_to: dict[str, Any] | None,
) -> dict[str, Any]:
    deleted = msg.is_deleted
    content_html, snippet = rendered(msg)
    created_at = iso(msg.created_at)
    # Most messages were never changed: their updatedAt is their createdAt (formatted once).
    updated_at = created_at if msg.updated_at == msg.created_at else iso(msg.updated_at)
    return {
        "_id": msg.id,
        "conversationId": msg.conversation_id,
        "seq": msg.seq,
        "sender": user_out(sender) if sender else None,
        # A deleted message keeps its place (seq stays gap-free) but never its content.
        "content": "" if deleted else msg.content,
        # What every client shows (domain/formatting.py): sanitised HTML of the content's
        # Markdown, and its plain text for previews and notifications.
        "contentHtml": content_html,
        # A message without text says what it carries instead ("Photo", "File: x.pdf").
        "snippet": snippet or ("" if deleted else formatting.attachments_label(attachments)),
        # Member ids the message mentions (fixed when it was stored) and @everyone.
        "mentions": [] if deleted else list(msg.mentions or []),
        "mentionsEveryone": False if deleted else msg.mentions_everyone,
        "contentType": msg.content_type,
        # A group notice's structured data (contentType "system"; domain/notices.py), else null.
        "notice": msg.notice,
        "attachments": [] if deleted else list(attachments),
        "replyTo": reply_to,
        "readBy": list(read_by),
        "reactions": [] if deleted else list(reactions),
        "status": status,
        "isEdited": msg.is_edited,
        "isDeleted": deleted,
        # Until when the sender may edit it (permissions.py), null once nobody may.
        "editableUntil": iso(message_editable_until(msg)),
        "tempId": msg.temp_id,
        "createdAt": created_at,
        "updatedAt": updated_at,
    }


def messages_out(
    session: Session,
    rows: Sequence[tuple[Message, User | None]],
    positions_by_conversation: Mapping[str, Sequence[Position]],
) -> list[dict[str, Any]]:
    """Serialise (message, sender) rows in order. Costs at most four queries for any number
    of rows: reply targets (only if some row replies), reactions, attachments, read receipts."""
    if not rows:
        return []
    messages = [m for m, _ in rows]
    ids = [m.id for m in messages]

    replies: dict[str, dict[str, Any]] = {}
    reply_ids = {m.reply_to_id for m in messages if m.reply_to_id}
    if reply_ids:
        for target, target_sender in session.execute(
            sa.select(Message, User).outerjoin(User, col(User.id) == col(Message.sender_id))
            .where(col(Message.id).in_(reply_ids))
        ):
            replies[target.id] = reply_out(target, target_sender)

    reactions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message_id, user_id, emoji in session.execute(
        sa.select(col(Reaction.message_id), col(Reaction.user_id), col(Reaction.emoji))
        .where(col(Reaction.message_id).in_(ids))
        .order_by(col(Reaction.created_at), col(Reaction.user_id), col(Reaction.emoji))
    ):
        reactions[message_id].append({"user": user_id, "emoji": emoji})

    attachments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for att in session.execute(
        sa.select(Attachment).where(col(Attachment.message_id).in_(ids)).order_by(col(Attachment.position))
    ).scalars():
        attachments[att.message_id].append(attachment_out(att))

    return assemble(rows, replies, reactions, attachments, _read_times(session, messages), positions_by_conversation)


def assemble(
    rows: Sequence[tuple[MessageFields, UserFields | None]],
    replies: Mapping[str, dict[str, Any]],
    reactions: Mapping[str, Sequence[dict[str, Any]]],
    attachments: Mapping[str, Sequence[dict[str, Any]]],
    read_times: ReadTimes,
    positions_by_conversation: Mapping[str, Sequence[Position]],
) -> list[dict[str, Any]]:
    """(message, sender) rows as served, from what was loaded for them: reply quotes by the
    original's id, reactions and attachments (as served) by message id, the receipts that
    matter (_read_times) and the members' positions."""
    out = []
    # One receipt covers every message of the page up to its seq: its readAt is formatted
    # once, by (conversation, reader, the receipt's index in ReadTimes).
    read_at_text: dict[tuple[str, str, int], str | None] = {}
    for msg, sender in rows:
        read_by = []
        for user_id, (seqs, times) in read_times.get(msg.conversation_id, {}).items():
            if user_id == msg.sender_id:
                continue
            # Receipts of one user only move forward, so the first one covering this seq
            # is the moment they read it.
            i = bisect.bisect_left(seqs, msg.seq)
            if i < len(seqs):
                read_by.append((times[i], user_id, i))
        if len(read_by) > 1:
            read_by.sort(key=lambda found: (as_utc(found[0]), found[1]))
        read_by_out = []
        for ts, uid, i in read_by:
            key = (msg.conversation_id, uid, i)
            if key not in read_at_text:
                read_at_text[key] = iso(ts)
            read_by_out.append({"user": uid, "readAt": read_at_text[key]})
        out.append(
            message_out(
                msg,
                sender,
                attachments=attachments.get(msg.id, ()),
                reactions=reactions.get(msg.id, ()),
                read_by=read_by_out,
                status=message_status(msg, positions_by_conversation.get(msg.conversation_id, ()), read_by_out),
                reply_to=replies.get(msg.reply_to_id) if msg.reply_to_id else None,
            )
        )
    return out


class UserRow(NamedTuple):
    id: str
    username: str
    display_name: str
    avatar: str | None


class ReplyTargetRow(NamedTuple):
    id: str
    seq: int
    sender_id: str | None
    content: str
    content_html: str | None
    snippet: str | None
    is_deleted: bool


class AttachmentRow(NamedTuple):
    message_id: str
    id: str
    url: str
    mime_type: str
    name: str | None
    size: int | None
    storage_key: str | None
    thumbnail_key: str | None
    width: int | None
    height: int | None


class PageRow(NamedTuple):
    """A message of a history statement (domain/history.py: its SELECT list, in this order)."""

    id: str
    conversation_id: str
    seq: int
    sender_id: str | None
    content: str
    content_type: str
    reply_to_id: str | None
    temp_id: str | None
    is_edited: bool
    is_deleted: bool
    created_at: datetime
    updated_at: datetime
    content_html: str | None
    snippet: str | None
    mentions: list[str] | None
    mentions_everyone: bool
    notice: dict[str, Any] | None


class PageExtras(NamedTuple):
    """What a history statement loads for its whole page, as messages_out's batch loads
    would (each list in their order): the members' positions (all of them, those who left
    included: positions_of), the users who sent a message or a reply's original, the
    reply originals, reactions, attachments, and the receipts _read_times selects."""

    positions: list[list[Any]]  # [user id, read seq, delivered seq]
    users: list[list[Any]] | None  # UserRow fields
    replies: list[list[Any]] | None  # ReplyTargetRow fields
    reactions: list[list[Any]] | None  # [message id, user id, emoji]
    attachments: list[list[Any]] | None  # AttachmentRow fields
    receipt_users: list[str] | None
    receipt_seqs: list[int] | None
    receipt_times: list[datetime] | None


def page_out(conversation_id: str, rows: Sequence[PageRow], extras: PageExtras) -> list[dict[str, Any]]:
    """messages_out for one conversation's history statement: the same dicts, no query."""
    users = {u[0]: UserRow(*u) for u in extras.users or ()}
    replies = {}
    for fields in extras.replies or ():
        target = ReplyTargetRow(*fields)
        replies[target.id] = reply_out(target, users.get(target.sender_id) if target.sender_id else None)
    reactions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message_id, user_id, emoji in extras.reactions or ():
        reactions[message_id].append({"user": user_id, "emoji": emoji})
    attachments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fields in extras.attachments or ():
        att = AttachmentRow(*fields)
        attachments[att.message_id].append(attachment_out(att))
    receipts = zip(extras.receipt_users or (), extras.receipt_seqs or (), extras.receipt_times or (), strict=True)
    read_times = group_receipts((conversation_id, *receipt) for receipt in receipts)
    positions = {conversation_id: [Position(*p) for p in extras.positions]}
    pairs = [(row, users.get(row.sender_id) if row.sender_id else None) for row in rows]
    return assemble(pairs, replies, reactions, attachments, read_times, positions)


def as_utc(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


ReadTimes = dict[str, dict[str, tuple[list[int], list[datetime]]]]


def _read_times(session: Session, messages: Sequence[Message]) -> ReadTimes:
    """{conversationId: {userId: (sorted up_to_seqs, their read_at)}} — just the receipts
    that can be "the first receipt covering" a message of the page: those whose up_to_seq
    lies within the page's seq range, plus each user's first receipt above it. One query,
    served by ix_read_receipts_conversation_seq, however long the conversation."""
    ranges: dict[str, tuple[int, int]] = {}
    for m in messages:
        lo, hi = ranges.get(m.conversation_id, (m.seq, m.seq))
        ranges[m.conversation_id] = (min(lo, m.seq), max(hi, m.seq))

    rr = table(ReadReceipt)
    visible = rr.c.hidden.is_(False)  # reads made with read receipts off are never shown
    in_page = sa.or_(
        *(sa.and_(rr.c.conversation_id == cid, rr.c.up_to_seq.between(lo, hi)) for cid, (lo, hi) in ranges.items())
    )
    above_page = sa.or_(*(sa.and_(rr.c.conversation_id == cid, rr.c.up_to_seq > hi) for cid, (_, hi) in ranges.items()))
    first_above = (
        sa.select(rr.c.conversation_id, rr.c.user_id, sa.func.min(rr.c.up_to_seq).label("up_to_seq"))
        .where(above_page, visible)
        .group_by(rr.c.conversation_id, rr.c.user_id)
        .subquery()
    )
    later = rr.alias("later")
    query = sa.union_all(
        sa.select(rr.c.conversation_id, rr.c.user_id, rr.c.up_to_seq, rr.c.read_at).where(in_page, visible),
        sa.select(later.c.conversation_id, later.c.user_id, later.c.up_to_seq, later.c.read_at).join(
            first_above,
            sa.and_(
                later.c.conversation_id == first_above.c.conversation_id,
                later.c.user_id == first_above.c.user_id,
                later.c.up_to_seq == first_above.c.up_to_seq,
            ),
        ).where(later.c.hidden.is_(False)),
    )
    return group_receipts(session.execute(query).tuples())


def group_receipts(receipts: Iterable[tuple[str, str, int, datetime]]) -> ReadTimes:
    """(conversation id, user id, up_to_seq, read_at) receipts as ReadTimes."""
    result: ReadTimes = defaultdict(dict)
    for conversation_id, user_id, up_to_seq, read_at in sorted(receipts, key=lambda r: (r[2], as_utc(r[3]))):
        seqs, times = result[conversation_id].setdefault(user_id, ([], []))
        seqs.append(up_to_seq)
        times.append(read_at)
    return result


STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}


def without_receipts(message: dict[str, Any]) -> dict[str, Any]:
    """A message as a viewer who turned read receipts off sees it: nobody's reads (readBy
    empty, status at most "delivered"), as WhatsApp does — they do not share theirs."""
    if not message.get("readBy") and message.get("status") != "read":
        return message
    return {**message, "readBy": [], "status": "delivered" if message.get("status") == "read" else message["status"]}


def receipt_for(receipt: dict[str, Any], *, viewer_sees: bool) -> dict[str, Any]:
    """A receipt_out as one viewer may learn it: a read seen by someone who does not see
    reads is only a delivery (reading implies having received). (A read by someone who does
    not share reads is built as a delivery in the first place.)"""
    if receipt["kind"] == "read" and not viewer_sees:
        return {"kind": "delivered", "userId": receipt["userId"], "upToSeq": receipt["upToSeq"]}
    return receipt


def sees_receipts(user: User | None) -> bool:
    return user is None or bool(user.read_receipts)


# A mute "until I unmute it" is stored as this far-future time (served as mutedUntil null).
MUTED_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


def member_preferences(member: ConversationMember, now: datetime) -> dict[str, Any]:
    """The viewer's own settings of a conversation: muted (until when, null = until they
    unmute it) and pinned (since when)."""
    until = as_utc(member.muted_until) if member.muted_until is not None else None
    muted = until is not None and until > now
    return {
        "isMuted": muted,
        "mutedUntil": iso(until) if muted and until is not None and until < MUTED_FOREVER else None,
        "isPinned": member.pinned_at is not None,
        "pinnedAt": iso(member.pinned_at),
    }


def conversation_out(
    conv: Conversation,
    roster: Sequence[RosterEntry],
    *,
    last_message: dict[str, Any] | None,
    unread_count: int,
    is_archived: bool,
    unread_mentions: int = 0,
    preferences: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`unreadCount`, `unreadMentions`, `isArchived` and `preferences` (member_preferences:
    isMuted, mutedUntil, isPinned, pinnedAt) are the viewer's; everything else is shared."""
    return {
        "_id": conv.id,
        "type": conv.type,
        "name": conv.name,
        # Only an upload of ours is ever served: an external URL would make every viewer's
        # browser fetch it from that host (older rows may still hold one).
        "avatar": conv.avatar if file_urls.parse(conv.avatar) else None,
        "participants": [user_out(user) for _, user in roster],
        "admins": [member.user_id for member, _ in roster if member.is_admin],
        "createdBy": conv.created_by_id,
        "projectId": conv.project_id,
        "lastMessage": last_message,
        "unreadCount": unread_count,
        # How many of those mention the viewer (by name or @everyone): the list's "@" marker.
        "unreadMentions": unread_mentions,
        "isArchived": is_archived,
        **(preferences or {"isMuted": False, "mutedUntil": None, "isPinned": False, "pinnedAt": None}),
        "createdAt": iso(conv.created_at),
        "updatedAt": iso(conv.updated_at),
        "lastActivityAt": iso(conv.last_activity_at),
    }
