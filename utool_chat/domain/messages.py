"""Messages: send, history, edit, delete, read and delivery positions, catch-up sync.

Sending allocates `seq` with one atomic `UPDATE conversations SET last_seq = last_seq + 1 …
RETURNING last_seq`. That row lock serialises concurrent sends to one conversation, so seqs
are 1, 2, 3, … with no gaps (a rolled-back send rolls its bump back) and no duplicates. A
client `tempId` is looked up *after* taking the lock: a retry racing its original waits for
it, then finds its message and returns it instead of storing a second one.

Read state is a position per member (last_read_seq); `unreadCount` is derived from it and
`readBy` from read_receipts rows written whenever a position moves forward.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from utool_chat import config
from utool_chat.db import async_pg
from utool_chat.db.engine import autocommit_scope, is_postgres, read_scope, session_scope
from utool_chat.db.models import (
    Attachment,
    Conversation,
    ConversationMember,
    Message,
    MessageMention,
    Reaction,
    ReadReceipt,
    User,
    new_id,
    table,
    utcnow,
)
from utool_chat.domain import conversations as convs
from utool_chat.domain import formatting, history, permissions, ratelimit, search, uploads
from utool_chat.domain import serializers as ser
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from utool_chat.domain.text import check_id
from utool_chat.events import Event, publish_now, publish_on_commit

# 'system' messages are written by the server only (the plan's list minus 'system').
CLIENT_CONTENT_TYPES = ("text", "image", "file", "audio")
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_SIZE = 2**31 - 1  # attachments.size is a 32-bit INTEGER column
MAX_TEMP_ID_CHARS = 128
DEFAULT_HISTORY_LIMIT = 30
MAX_HISTORY_LIMIT = 100
MAX_SYNC_LIMIT = 500
MIME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")

members_t = convs.members_t
conversations_t = table(Conversation)
receipts_t = table(ReadReceipt)
mentions_t = table(MessageMention)


# --- input checks ----------------------------------------------------------------------


def message_not_found() -> NotFound:
    return NotFound("Message not found.", code="message_not_found")


def check_message_id(raw: Any) -> str:
    """The message a request acts on (text.check_id: a malformed id is the same 404 as a
    missing one)."""
    return check_id(raw, "messageId", message_not_found)


def _not_a_message_here(field: str, code: str) -> ValidationFailed:
    return ValidationFailed(f"{field} must be the id of a message in this conversation.", code=code)


def _check_body_id(raw: Any, field: str, code: str) -> str:
    """A message id referenced inside a body or query: a malformed one is the same 400
    `code` as the id of a message that is not in the conversation."""
    return check_id(raw, field, lambda: _not_a_message_here(field, code))


def _check_content(raw: Any, *, allow_empty: bool) -> str:
    text = convs.check_text(
        "" if raw is None else raw, "content", max_chars=config.settings.max_message_chars,
        code="invalid_content", too_long_code="content_too_long",
    )
    if not text and not allow_empty:
        raise ValidationFailed("content must not be empty.", code="empty_content")
    return text


def _check_content_type(raw: Any) -> str:
    if raw is None:
        return "text"
    if raw not in CLIENT_CONTENT_TYPES:
        raise ValidationFailed("contentType must be one of: " + ", ".join(CLIENT_CONTENT_TYPES) + ".",
                               code="invalid_content_type")
    return raw


def _not_an_upload(where: str) -> ValidationFailed:
    return ValidationFailed(f"{where}.uploadId must be the id of one of your uploads.", code="invalid_upload")


def _check_attachments(raw: Any) -> list[dict[str, Any]]:
    """At most 10, each either an upload of ours, {uploadId} (see domain/uploads.py), or a
    link, {url, type, name?, size?}; other keys are ignored."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationFailed("attachments must be a list.", code="invalid_attachments")
    if len(raw) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"At most {MAX_ATTACHMENTS} attachments per message.", code="invalid_attachments")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"attachments[{i}]"
        if not isinstance(item, dict):
            raise ValidationFailed(f"{where} must be an object with uploadId, or url and type.",
                                   code="invalid_attachments")
        if "uploadId" in item:
            upload_id = check_id(item["uploadId"], f"{where}.uploadId", partial(_not_an_upload, where))
            if any(f.get("uploadId") == upload_id for f in out):
                raise ValidationFailed(f"{where}.uploadId is attached twice.", code="invalid_upload")
            out.append({"uploadId": upload_id})
            continue
        url = convs.check_text(item.get("url"), f"{where}.url", max_chars=2048, code="invalid_attachments")
        if not url:
            raise ValidationFailed(f"{where}.url is required.", code="invalid_attachments")
        convs.check_url(url, f"{where}.url")
        mime = convs.check_text(item.get("type"), f"{where}.type", max_chars=128, code="invalid_attachments")
        if not MIME_RE.fullmatch(mime):
            raise ValidationFailed(f"{where}.type must be a MIME type such as image/png.", code="invalid_attachments")
        name = item.get("name")
        if name is not None:
            name = convs.check_text(name, f"{where}.name", max_chars=255, code="invalid_attachments") or None
        size = item.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or not 0 <= size <= MAX_ATTACHMENT_SIZE):
            raise ValidationFailed(f"{where}.size must be an integer from 0 to {MAX_ATTACHMENT_SIZE} (bytes).",
                                   code="invalid_attachments")
        out.append({"url": url, "type": mime, "name": name, "size": size})
    return out


def _check_temp_id(raw: Any) -> str | None:
    if raw is None:
        return None
    # Opaque to us: matched byte for byte, so not trimmed.
    temp_id = convs.check_text(raw, "tempId", max_chars=MAX_TEMP_ID_CHARS, code="invalid_temp_id", strip=False)
    return temp_id or None


# --- loading -----------------------------------------------------------------------------


def _with_sender() -> Any:
    return sa.select(Message, User).outerjoin(User, col(User.id) == col(Message.sender_id))


def visible_message(session: Session, actor_id: str, message_id: str, *, lock: bool = False
                     ) -> tuple[Message, User | None, list[ser.RosterEntry]]:
    """(message, sender, roster) if the actor is an active member of its conversation;
    NotFound otherwise — the same answer as for an id that does not exist. Two queries."""
    query = _with_sender().where(col(Message.id) == message_id)
    if lock:
        query = query.with_for_update(of=Message)
    row = session.execute(query).first()
    if row is None:
        raise message_not_found()
    msg, sender = row
    roster = convs.active_members(session, [msg.conversation_id]).get(msg.conversation_id, ser.Roster())
    if not any(member.user_id == actor_id for member, _ in roster):
        raise message_not_found()
    return msg, sender, roster


def serialize_with(session: Session, msg: Message, sender: User | None,
                   positions: list[ser.Position]) -> dict[str, Any]:
    return ser.messages_out(session, [(msg, sender)], {msg.conversation_id: positions})[0]


def _sees_receipts(roster: list[ser.RosterEntry], user_id: str) -> bool:
    return ser.sees_receipts(next((u for m, u in roster if m.user_id == user_id), None))


def as_seen_by(message: dict[str, Any], roster: list[ser.RosterEntry], viewer_id: str) -> dict[str, Any]:
    """The message as `viewer_id` sees it: without anyone's reads if they turned read
    receipts off (ser.without_receipts)."""
    return message if _sees_receipts(roster, viewer_id) else ser.without_receipts(message)


def mentionable(roster: list[ser.RosterEntry], sender: ConversationMember, conversation_type: str
                ) -> formatting.Mentionable:
    """Who a message of `sender` may mention: the active members; @everyone for a group's
    admins only (in a direct chat it would mention one person twice)."""
    return formatting.Mentionable(
        users={u.id: (u.username, u.display_name) for _, u in roster},
        everyone=conversation_type != "direct" and sender.is_admin,
    )


def _store_mentions(session: Session, msg: Message, roster: list[ser.RosterEntry]) -> None:
    """message_mentions rows for the members `msg` mentions (everyone else with @everyone),
    never its sender: one INSERT, none when it mentions nobody."""
    rows = [{"message_id": msg.id, "user_id": uid, "conversation_id": msg.conversation_id, "seq": msg.seq}
            for uid in sorted(_mentioned(msg, roster))]
    if rows:
        session.exec(sa.insert(mentions_t).values(rows))


def _apply_rendering(msg: Message, rendered: formatting.Rendered) -> None:
    msg.content_html, msg.snippet = rendered.html, rendered.snippet
    msg.mentions, msg.mentions_everyone = rendered.mentions or None, rendered.mentions_everyone


def _moved(positions: list[ser.Position], user_id: str, *, read_seq: int | None = None,
           delivered_seq: int | None = None) -> list[ser.Position]:
    """`positions` with one member's read/delivered position moved forward (never back)."""
    return [
        p._replace(
            read_seq=max(p.read_seq, read_seq or 0),
            delivered_seq=max(p.delivered_seq, delivered_seq or 0, read_seq or 0),
        ) if p.user_id == user_id else p
        for p in positions
    ]


# --- sending -------------------------------------------------------------------------------


def send_message(actor_id: str, conversation_id: Any, content: Any, content_type: Any = "text",
                 attachments: Any = None, reply_to: Any = None, temp_id: Any = None) -> tuple[dict[str, Any], bool]:
    """(message, created). A repeated tempId from the same sender returns the first message
    (created False), stores nothing and announces that message again (chat:new_message to
    every active member): the first send may have been committed by a process that died
    before its events went out, and clients drop a message they already have by its _id."""
    send = _checked_send(conversation_id, content, content_type, attachments, reply_to, temp_id)
    return _count_and_send(actor_id, send)


# A message longer than this is rendered in a worker thread, never on the event loop:
# Markdown of a few thousand hostile characters can take milliseconds (bench/markdown.py).
RENDER_ON_LOOP_MAX_CHARS = 1000


async def send_message_async(actor_id: str, conversation_id: Any, content: Any, content_type: Any = "text",
                             attachments: Any = None, reply_to: Any = None, temp_id: Any = None
                             ) -> tuple[dict[str, Any], bool]:
    """send_message for the doors that run on the event loop (the Socket.IO namespace, the
    HTTP API): the same answers, events and errors. The common message on Postgres (one
    _SEND_ALONE_STATEMENT can store it) is stored from the loop through db.async_pg, without
    a worker thread; anything else, and a retried tempId, goes to a worker thread."""
    send = _checked_send(conversation_id, content, content_type, attachments, reply_to, temp_id)
    if not send.alone or len(send.text) > RENDER_ON_LOOP_MAX_CHARS or not is_postgres():
        return await asyncio.to_thread(_count_and_send, actor_id, send)
    if ratelimit.uses_redis():  # a Redis round trip: not on the loop
        await asyncio.to_thread(ratelimit.check_send, actor_id)
    else:
        ratelimit.check_send(actor_id)
    draft = _draft(actor_id, send)
    try:
        async with async_pg.connection() as conn:
            # One statement that commits by itself; a second for the counts only when the
            # first one's are not current (_current_unread_counts).
            row = await conn.fetchrow(_SEND_ALONE_SQL, draft.params)
            if row is None:
                raise convs.conversation_not_found()
            sent = None if row[0] is None else _sent_alone(draft, row)
            if sent is not None:
                current = _current_unread_counts(row)
                counts = current if current is not None else convs.unread_by_user(  # another send locked first
                    await conn.fetch(convs.UNREAD_OF_OTHERS_SQL, {"cid": send.cid, "sender": actor_id}))
    except async_pg.IntegrityError:  # a retry racing its original (see _SEND_ALONE_STATEMENT)
        sent = None
    if sent is None:  # a stored tempId: _send_checked serves the message stored first
        return await asyncio.to_thread(_send_checked, actor_id, send)
    for evt in [*_new_message_events(sent), *convs.unread_count_events(send.cid, sent.with_own_count(counts))]:
        publish_now(evt)  # committed: the statement was its own transaction
    if sent.unarchives:
        await asyncio.to_thread(_announce_unarchived, send.cid)
    typing_domain.ended_by_message(actor_id, send.cid, sent.member_ids)
    return sent.message, True


class _CheckedSend(NamedTuple):
    cid: str
    kind: str
    files: list[dict[str, Any]]
    text: str
    reply_id: str | None
    temp_id: str | None

    @property
    def alone(self) -> bool:
        """Whether _SEND_ALONE_STATEMENT can store it: text that cannot mention anyone (its
        rendering needs no roster), no attachments, no reply."""
        return not self.files and self.reply_id is None and not formatting.may_mention(self.text)


def _checked_send(conversation_id: Any, content: Any, content_type: Any, attachments: Any, reply_to: Any,
                  temp_id: Any) -> _CheckedSend:
    cid = convs.check_conversation_id(conversation_id)
    kind = _check_content_type(content_type)
    files = _check_attachments(attachments)
    text = _check_content(content, allow_empty=bool(files))
    reply_id = None if reply_to is None else _check_body_id(reply_to, "replyTo", "invalid_reply_to")
    return _CheckedSend(cid, kind, files, text, reply_id, _check_temp_id(temp_id))


def _count_and_send(actor_id: str, send: _CheckedSend) -> tuple[dict[str, Any], bool]:
    # Counted once the request is well-formed (a refused one costs no query): what is
    # limited is the work a send does.
    ratelimit.check_send(actor_id)
    return _send_checked(actor_id, send)


def _send_checked(actor_id: str, send: _CheckedSend) -> tuple[dict[str, Any], bool]:
    cid, temp = send.cid, send.temp_id
    try:
        if send.alone and is_postgres():
            with autocommit_scope() as session:
                message, member_ids = _send_in_one_statement(session, actor_id, send)
        else:
            with session_scope() as session:
                message, member_ids = _store_message(session, actor_id, cid, send.text, send.kind, send.files,
                                                     send.reply_id, temp)
    except IntegrityError:
        # Safety net behind the row lock: the (conversation, sender, temp_id) constraint.
        if temp is None:
            raise
        with session_scope() as session:
            roster = convs.roster_or_404(session, actor_id, cid)
            existing = _find_by_temp_id(session, cid, actor_id, temp)
            if existing is None:
                raise
            stored = serialize_with(session, existing[0], existing[1], ser.positions_of(roster))
            _announce_again(session, stored, _by_receipt_visibility(roster), temp)
            return stored, False
    if member_ids is None:  # a retry of a stored message: nothing new happened
        return message, False
    typing_domain.ended_by_message(actor_id, cid, member_ids)  # sending ends my typing, whatever the door
    return message, True


def _announce_unarchived(conversation_id: str) -> None:
    with session_scope() as session:
        convs.publish_conversation_updated(session, conversation_id)


def _find_by_temp_id(session: Session, conversation_id: str, sender_id: str,
                     temp_id: str) -> tuple[Message, User | None] | None:
    row = session.execute(
        _with_sender().where(
            col(Message.conversation_id) == conversation_id, col(Message.sender_id) == sender_id,
            col(Message.temp_id) == temp_id,
        )
    ).first()
    return None if row is None else (row[0], row[1])


def _announce_again(session: Session, message: dict[str, Any], audience: list[tuple[bool, list[str]]],
                    temp_id: str) -> None:
    """chat:new_message for a message stored earlier (a retried tempId), as its first send
    announced it, to `audience` (_by_receipt_visibility): members who turned read receipts
    off get it without anyone's reads. Costs no query."""
    payloads = [
        ({"conversationId": message["conversationId"],
          "message": message if sees else ser.without_receipts(message), "tempId": temp_id}, recipients)
        for sees, recipients in audience
    ]
    _publish_merged(session, "chat:new_message", payloads)


def _store_message(session: Session, actor_id: str, cid: str, text: str, kind: str, files: list[dict[str, Any]],
                   reply_id: str | None, temp_id: str | None) -> tuple[dict[str, Any], list[str] | None]:
    """(message, the active members' ids), or (the stored message, None) for a retry."""
    roster = convs.roster_or_404(session, actor_id, cid)
    me, my_user = next((m, u) for m, u in roster if m.user_id == actor_id)
    reply = None
    if reply_id is not None:
        target = session.execute(
            _with_sender().where(col(Message.id) == reply_id, col(Message.conversation_id) == cid)
        ).first()
        if target is None:
            raise _not_a_message_here("replyTo", "invalid_reply_to")
        reply = ser.reply_out(*target)

    now = utcnow()
    message_id = new_id()
    shares = bool(my_user.read_receipts)
    if not files and session.get_bind().dialect.name == "postgresql" and not _may_mention_everyone(me, text):
        stored = _store_in_one_statement(session, me, roster, message_id, text, kind, reply_id, temp_id, now,
                                         shares)
    else:
        stored = _store_in_steps(session, me, roster, message_id, text, kind, files, reply_id, temp_id, now, shares)
    if isinstance(stored, dict):  # a retry: the message stored the first time
        return stored, None
    msg, files = stored
    message = ser.message_out(msg, my_user, attachments=files, reactions=[], read_by=[], status="sent",
                              reply_to=reply)
    sent = _Sent(message, [(m.user_id, ser.sees_receipts(u)) for m, u in roster], now,
                 read_others=me.last_read_seq < msg.seq - 1, shares=shares,
                 unarchives=any(m.is_archived and m.user_id != actor_id for m, _ in roster))
    _announce_new_message(session, sent)
    return message, sent.member_ids


def _announce_new_message(session: Session, sent: _Sent, counts: dict[str, convs.Unread] | None = None) -> None:
    """The events of a message just stored, queued until commit; the recipients' unread
    counts (`counts`, when the caller has them current) cost one query."""
    for evt in _new_message_events(sent):
        publish_on_commit(session, evt)
    if counts is None:
        counts = convs.unread_counts_of_others(session, sent.cid, sent.sender_id)
    convs.publish_unread_counts(session, sent.cid, sent.with_own_count(counts))
    if sent.unarchives:  # members who had archived it get the conversation back in their list
        convs.publish_conversation_updated(session, sent.cid)


class _Sent(NamedTuple):
    """A message just stored, and what its events need: `members` (userId, sees read
    receipts) are the active members; `read_others`: sending moved the sender's read position
    past messages of others (their read receipt goes with the message; `shares`: they share
    reads; `now`: when they sent it); `unarchives`: members had archived the conversation."""

    message: dict[str, Any]
    members: list[tuple[str, bool]]
    now: Any
    read_others: bool
    shares: bool
    unarchives: bool

    @property
    def cid(self) -> str:
        return self.message["conversationId"]

    @property
    def sender_id(self) -> str:
        return self.message["sender"]["_id"]

    @property
    def member_ids(self) -> list[str]:
        return [uid for uid, _ in self.members]

    def with_own_count(self, counts: dict[str, convs.Unread]) -> dict[str, convs.Unread]:
        """The recipients' unread counts, and the sender's (0) when sending read others' messages."""
        return {**counts, self.sender_id: (0, 0)} if self.read_others else counts


def _new_message_events(sent: _Sent) -> list[Event]:
    """chat:new_message to every active member, with the sender's read receipt when sending
    moved their read position past messages of others."""
    message, seq = sent.message, sent.message["seq"]
    # What the sender thereby read (ser.receipt_out), for the messages before this one.
    receipt = ser.receipt_out("read" if sent.shares else "delivered", sent.sender_id, seq,
                              sent.now if sent.shares else None)
    payloads = []
    for sees, recipients in _audience(sent.members):
        new_message: dict[str, Any] = {"conversationId": sent.cid, "message": message, "tempId": message["tempId"]}
        if sent.read_others:
            new_message["receipt"] = ser.receipt_for(receipt, viewer_sees=sees)
        payloads.append((new_message, recipients))
    return _merged_events("chat:new_message", payloads)


# What storing did: (the new message, its attachments as served), or, for a repeated
# tempId, the message stored the first time (serialised; the transaction rolled back).
Stored = tuple[Message, list[dict[str, Any]]] | dict[str, Any]


def _serve_retry(session: Session, roster: list[ser.RosterEntry], cid: str, actor_id: str, temp_id: str
                 ) -> dict[str, Any] | None:
    """The message a repeated tempId stored, serialised, our statements undone, and the message
    announced again (send_message says why); None if there is none."""
    existing = _find_by_temp_id(session, cid, actor_id, temp_id)
    if existing is None:
        return None
    out = serialize_with(session, existing[0], existing[1], ser.positions_of(roster))
    audience = _by_receipt_visibility(roster)  # before the rollback expires the roster's rows
    session.rollback()
    _announce_again(session, out, audience, temp_id)  # goes out when session_scope commits
    return out


def _may_mention_everyone(me: ConversationMember, text: str) -> bool:
    """Whether the rendering of `text` depends on the conversation's type (which only the
    row lock's statement tells): an admin writing @everyone."""
    return me.is_admin and "@" + formatting.EVERYONE in text.lower()


# Postgres: the seq bump (the row lock), the message, the sender's own positions and the
# un-archiving, and the sender's read receipt, in ONE statement; two shapes of it below. The
# members' unread counts are asked by a statement after it, which sees every send committed
# before our lock was granted (a sub-select here would see the statement's snapshot, taken
# before the lock wait) - except where _SEND_ALONE_STATEMENT's own reading of them is
# current (_current_unread_counts).
_BUMP = """bump AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_message_id = :id, last_activity_at = :now,
                             updated_at = :now
    WHERE id = :cid {condition} RETURNING last_seq
)"""
_INSERT_MESSAGE = """INSERT INTO messages (id, conversation_id, seq, sender_id, content, content_type, reply_to_id,
                          temp_id, is_edited, is_deleted, search_text, created_at, updated_at, content_html,
                          snippet, mentions, mentions_everyone)
    SELECT :id, :cid, bump.last_seq, :sender, :content, :kind, :reply, :temp, false, false, :search, :now, :now,
           :html, :snippet, CAST(:mentions AS json), false
    FROM bump"""
_OWN_POSITIONS_AND_RECEIPT = """own AS (
    UPDATE conversation_members AS m SET
        is_archived = false,
        last_read_seq = CASE WHEN m.user_id = :sender THEN bump.last_seq ELSE m.last_read_seq END,
        last_read_at = CASE WHEN m.user_id = :sender THEN :now ELSE m.last_read_at END,
        last_delivered_seq = CASE WHEN m.user_id = :sender THEN bump.last_seq ELSE m.last_delivered_seq END,
        last_delivered_at = CASE WHEN m.user_id = :sender THEN :now ELSE m.last_delivered_at END
    FROM bump
    WHERE m.conversation_id = :cid AND m.left_at IS NULL AND (m.user_id = :sender OR m.is_archived)
), receipt AS (  -- answering implies having read what came before (readBy agrees with status)
    INSERT INTO read_receipts (conversation_id, user_id, up_to_seq, read_at, hidden)
    SELECT :cid, :sender, bump.last_seq, :now, {hidden} FROM {sources} WHERE {read_seq} < bump.last_seq - 1
)"""

# Inside the transaction of _store_message, after its roster query. A repeated tempId inserts
# nothing (ON CONFLICT waits for a racing original to commit), and the caller rolls back.
_SEND_STATEMENT = sa.text(f"""
WITH {_BUMP.format(condition="")}, stored AS (
    {_INSERT_MESSAGE}
    ON CONFLICT (conversation_id, sender_id, temp_id) DO NOTHING
    RETURNING seq
), {_OWN_POSITIONS_AND_RECEIPT.format(hidden=":hidden", sources="bump", read_seq=":read_seq")}
SELECT bump.last_seq, (SELECT count(*) FROM stored) FROM bump
""")

# The whole send in one statement that commits by itself (_send_in_one_statement): the
# membership check and the sender's row (`me`), a stored message with the same tempId
# (`earlier`: then nothing is bumped), the change, the active members for the events
# (userId, shares read receipts, archived), longest-standing first, and the other members'
# unread counts and the conversation's last seq as the statement's snapshot has them (before
# this message and before the row lock: _current_unread_counts). No row: not a member.
# A retry racing its original waits on the unique tempId constraint and fails the whole
# statement (IntegrityError): nothing of it stays, and send_message serves the original.
_SEND_ALONE_STATEMENT = sa.text(f"""
WITH me AS (
    SELECT m.last_read_seq, u.username, u.display_name, u.avatar, u.read_receipts
    FROM conversation_members AS m JOIN users AS u ON u.id = m.user_id
    WHERE m.conversation_id = :cid AND m.user_id = :sender AND m.left_at IS NULL
), earlier AS (
    SELECT 1 FROM messages WHERE conversation_id = :cid AND sender_id = :sender AND temp_id = :temp
), {_BUMP.format(condition="AND EXISTS (SELECT 1 FROM me) AND NOT EXISTS (SELECT 1 FROM earlier)")}, stored AS (
    {_INSERT_MESSAGE}
), {_OWN_POSITIONS_AND_RECEIPT.format(hidden="NOT me.read_receipts", sources="bump, me",
                                      read_seq="me.last_read_seq")}, unread AS (
    {convs.UNREAD_OF_OTHERS_TEXT}
)
SELECT (SELECT last_seq FROM bump), me.last_read_seq, me.username, me.display_name, me.avatar, me.read_receipts,
       (SELECT json_agg(json_build_array(m.user_id, u.read_receipts, m.is_archived)
                        ORDER BY m.joined_at, m.user_id)
        FROM conversation_members AS m JOIN users AS u ON u.id = m.user_id
        WHERE m.conversation_id = :cid AND m.left_at IS NULL),
       (SELECT json_agg(json_build_array(user_id, unread, mentions)) FROM unread),
       (SELECT last_seq FROM conversations WHERE id = :cid)
FROM me
""")


_SEND_ALONE_SQL = async_pg.compiled(_SEND_ALONE_STATEMENT)


class _Draft(NamedTuple):
    """A message about to be stored by _SEND_ALONE_STATEMENT, rendered (no roster needed)."""

    actor_id: str
    send: _CheckedSend
    message_id: str
    now: Any
    rendered: formatting.Rendered
    search_text: str

    @property
    def params(self) -> dict[str, Any]:
        send = self.send
        return {"id": self.message_id, "cid": send.cid, "sender": self.actor_id, "content": send.text,
                "kind": send.kind, "reply": None, "temp": send.temp_id, "search": self.search_text, "now": self.now,
                "html": self.rendered.html, "snippet": self.rendered.snippet, "mentions": None}


def _draft(actor_id: str, send: _CheckedSend) -> _Draft:
    return _Draft(actor_id, send, new_id(), utcnow(), formatting.render(send.text), search.search_text(send.text, []))


def _current_unread_counts(row: Any) -> dict[str, convs.Unread] | None:
    """The recipients' unread counts from _SEND_ALONE_STATEMENT's row (one with a seq), with
    the message it stored, when they are current: when no other send committed between the
    statement's snapshot and its row lock, i.e. the seq it bumped to is the snapshot's last
    seq plus one. The stored message is then the one the snapshot's counts lack (no recipient
    sent it, it is not deleted and, stored alone, mentions no one). None otherwise: then they
    are asked again (UNREAD_OF_OTHERS), as of after the commit. (A read position or a delete
    committed in the instant between snapshot and lock is not seen, as one committed just
    after the second statement would not be: each such change announces its own counts.)"""
    seq, unread, snapshot_seq = row[0], row[7], row[8]
    if seq != snapshot_seq + 1:
        return None
    return {user_id: (count + 1, mentions) for user_id, count, mentions in unread or ()}


def _sent_alone(draft: _Draft, row: Any) -> _Sent:
    """The message _SEND_ALONE_STATEMENT stored, from its row (which has a seq)."""
    seq, last_read_seq, username, display_name, avatar, shares, members = row[:7]
    send, now = draft.send, draft.now
    # The statement wrote the row; these only feed message_out, so plain rows (the history
    # page's), not models: constructing a model, even unvalidated, and reading its
    # ORM-instrumented attributes cost more than the rest of serialising the message.
    msg = ser.PageRow(id=draft.message_id, conversation_id=send.cid, seq=seq, sender_id=draft.actor_id,
                      content=send.text, content_type=send.kind, reply_to_id=None, temp_id=send.temp_id,
                      is_edited=False, is_deleted=False, created_at=now, updated_at=now,
                      content_html=draft.rendered.html, snippet=draft.rendered.snippet, mentions=None,
                      mentions_everyone=False, notice=None)
    sender = ser.UserRow(id=draft.actor_id, username=username, display_name=display_name, avatar=avatar)
    message = ser.message_out(msg, sender, attachments=[], reactions=[], read_by=[], status="sent", reply_to=None)
    return _Sent(message, [(uid, bool(sees)) for uid, sees, _archived in members], now,
                 read_others=last_read_seq < seq - 1, shares=bool(shares),
                 unarchives=any(archived and uid != draft.actor_id for uid, _sees, archived in members))


def _send_in_one_statement(session: Session, actor_id: str, send: _CheckedSend
                           ) -> tuple[dict[str, Any], list[str] | None]:
    """_store_message for a message that send.alone says one statement can store, on Postgres:
    _SEND_ALONE_STATEMENT (in `session`'s autocommit), then the unread counts."""
    draft = _draft(actor_id, send)
    row = session.execute(_SEND_ALONE_STATEMENT, draft.params).first()
    if row is None:
        raise convs.conversation_not_found()
    if row[0] is None:  # `earlier`: this tempId's message is stored; serve it as the first send did
        roster = convs.roster_or_404(session, actor_id, send.cid)
        served = _serve_retry(session, roster, send.cid, actor_id, send.temp_id or "")
        assert served is not None, "a stored tempId that is not found again"
        return served, None
    sent = _sent_alone(draft, row)
    _announce_new_message(session, sent, _current_unread_counts(row))
    return sent.message, sent.member_ids


def _store_in_one_statement(session: Session, me: ConversationMember, roster: list[ser.RosterEntry],
                            message_id: str, text: str, kind: str, reply_id: str | None, temp_id: str | None,
                            now: Any, shares: bool) -> Stored:
    """A message without attachments, on Postgres (_SEND_STATEMENT). Two statements with
    mentions (their rows need the seq)."""
    cid, actor_id = me.conversation_id, me.user_id
    rendered = formatting.render(text, mentionable(roster, me, "direct"))  # "direct": no @everyone here
    msg = Message(id=message_id, conversation_id=cid, seq=0, sender_id=actor_id, content=text, content_type=kind,
                  reply_to_id=reply_id, temp_id=temp_id, created_at=now, updated_at=now,
                  search_text=search.search_text(text, []))
    _apply_rendering(msg, rendered)
    seq, inserted = session.execute(_SEND_STATEMENT, {
        "id": message_id, "cid": cid, "sender": actor_id, "content": text, "kind": kind, "reply": reply_id,
        "temp": temp_id, "search": msg.search_text, "now": now, "html": msg.content_html, "snippet": msg.snippet,
        "mentions": json.dumps(msg.mentions) if msg.mentions else None, "hidden": not shares,
        "read_seq": me.last_read_seq,
    }).one()
    if not inserted:  # ON CONFLICT on uq_messages_temp_id: the first one is committed
        served = _serve_retry(session, roster, cid, actor_id, temp_id or "")
        assert served is not None, "a tempId conflict without the message it conflicted with"
        return served
    msg.seq = seq
    _store_mentions(session, msg, roster)
    return msg, []


def _store_in_steps(session: Session, me: ConversationMember, roster: list[ser.RosterEntry], message_id: str,
                    text: str, kind: str, files: list[dict[str, Any]], reply_id: str | None, temp_id: str | None,
                    now: Any, shares: bool) -> Stored:
    """Any message, on any database: a statement per table."""
    cid, actor_id = me.conversation_id, me.user_id
    bump = (
        sa.update(conversations_t)
        .where(conversations_t.c.id == cid)
        .values(last_seq=conversations_t.c.last_seq + 1, last_message_id=message_id, last_activity_at=now,
                updated_at=now)
        .returning(conversations_t.c.last_seq, conversations_t.c.type)  # the type: who may use @everyone
    )
    upload_ids = [f["uploadId"] for f in files if "uploadId" in f]
    if upload_ids:
        # The file names of the uploads being attached ride on this statement, so that the
        # message's search text is complete in its INSERT (uploads attaches their rows after it).
        bump = bump.returning(
            sa.select(sa.func.aggregate_strings(col(Attachment.name), search.FIELD_SEP))
            .where(col(Attachment.id).in_(upload_ids)).scalar_subquery()
        )
    bumped = session.exec(bump).one()
    seq, conversation_type = bumped[0], bumped[1]
    upload_names = bumped[2].split(search.FIELD_SEP) if upload_ids and bumped[2] else []
    file_names = [f["name"] for f in files if "uploadId" not in f] + upload_names

    if temp_id is not None:
        served = _serve_retry(session, roster, cid, actor_id, temp_id)  # after the bump: the row lock
        if served is not None:
            return served

    msg = Message(id=message_id, conversation_id=cid, seq=seq, sender_id=actor_id, content=text, content_type=kind,
                  reply_to_id=reply_id, temp_id=temp_id, created_at=now, updated_at=now,
                  search_text=search.search_text(text, file_names))
    _apply_rendering(msg, formatting.render(text, mentionable(roster, me, conversation_type)))
    session.add(msg)
    session.flush()  # the models declare no relationships, so the ORM would not order these INSERTs
    _store_mentions(session, msg, roster)
    session.add_all(
        Attachment(message_id=message_id, uploader_id=actor_id, url=f["url"], mime_type=f["type"], name=f["name"],
                   size=f["size"], position=i)
        for i, f in enumerate(files) if "uploadId" not in f
    )
    session.flush()
    # Uploads are attached in one statement however many there are (and only the sender's own).
    attached = uploads.attach_to_message(session, actor_id, cid, message_id,
                                         [(i, f["uploadId"]) for i, f in enumerate(files) if "uploadId" in f])
    files = [ser.attachment_out(attached[f["uploadId"]]) if "uploadId" in f else f for f in files]

    # One statement: the sender's own positions move to this message (own messages are never
    # unread) and the conversation comes back for members who had archived it. Only the
    # sender's row and archived rows are touched, not every member of a big group.
    session.exec(
        sa.update(members_t)
        .where(members_t.c.conversation_id == cid, members_t.c.left_at.is_(None),
               sa.or_(members_t.c.user_id == actor_id, members_t.c.is_archived.is_(True)))
        .values(
            is_archived=False,
            last_read_seq=sa.case((members_t.c.user_id == actor_id, seq), else_=members_t.c.last_read_seq),
            last_read_at=sa.case((members_t.c.user_id == actor_id, now), else_=members_t.c.last_read_at),
            # Read implies received (as in mark_read): what the sender answered is delivered
            # to them, which is all others learn when they do not share their reads.
            last_delivered_seq=sa.case((members_t.c.user_id == actor_id, seq),
                                       else_=members_t.c.last_delivered_seq),
            last_delivered_at=sa.case((members_t.c.user_id == actor_id, now), else_=members_t.c.last_delivered_at),
        )
    )
    # Answering implies having read what came before: record it so readBy agrees with status.
    if me.last_read_seq < seq - 1:
        session.exec(sa.insert(receipts_t).values(conversation_id=cid, user_id=actor_id, up_to_seq=seq, read_at=now,
                                                  hidden=not shares))
    return msg, files


# --- history ---------------------------------------------------------------------------------


def list_messages(actor_id: str, conversation_id: Any, limit: Any = DEFAULT_HISTORY_LIMIT,
                  before_message_id: Any = None, after_message_id: Any = None, around_message_id: Any = None
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of history, newest first. No cursor: the newest messages; beforeMessageId: the
    ones just older; afterMessageId: the ones just newer. meta.hasMore says whether more
    exist in that direction. aroundMessageId: a page centred on that message (_page_around).
    Served by the (conversation_id, seq) index."""
    cid = convs.check_conversation_id(conversation_id)
    limit = convs.check_int(limit, "limit", default=DEFAULT_HISTORY_LIMIT, minimum=1, maximum=MAX_HISTORY_LIMIT)
    if before_message_id is not None and after_message_id is not None:
        raise ValidationFailed("Use beforeMessageId or afterMessageId, not both.", code="invalid_cursor")
    if around_message_id is not None:
        if before_message_id is not None or after_message_id is not None:
            raise ValidationFailed("aroundMessageId cannot be combined with beforeMessageId or afterMessageId.",
                                   code="invalid_cursor")
        return _page_around(actor_id, cid, limit, _check_body_id(around_message_id, "aroundMessageId",
                                                                 "invalid_cursor"))
    cursor_field = "beforeMessageId" if before_message_id is not None else "afterMessageId"
    cursor_id = before_message_id if before_message_id is not None else after_message_id
    if cursor_id is not None:
        _check_body_id(cursor_id, cursor_field, "invalid_cursor")
    newer = after_message_id is not None
    with read_scope() as session:
        if _in_one_statement(session):
            kind = "after" if newer else "before" if cursor_id is not None else "latest"
            page = _fetch_page(session, kind, actor_id, cid, limit=limit, cursor_id=cursor_id,
                               cursor_field=cursor_field)
            items, has_more = _for_viewer(page.items(cid), page.sees_receipts), page.has_more
        else:
            items, has_more = _page_in_steps(session, actor_id, cid, limit, cursor_id, cursor_field, newer)
    meta = {
        "hasMore": has_more,
        "limit": limit,
        "newestMessageId": items[0]["_id"] if items else None,
        "oldestMessageId": items[-1]["_id"] if items else None,
    }
    return items, meta


def _in_one_statement(session: Session) -> bool:
    """Whether history pages are one statement (domain/history.py: Postgres) or the ORM
    steps below (SQLite, the embedded default). Both serve the same dicts."""
    return session.get_bind().dialect.name == "postgresql"


def _fetch_page(session: Session, kind: str, actor_id: str, cid: str, *, limit: int, cursor_id: str | None = None,
                cursor_field: str = "", after_seq: int = 0) -> history.Page:
    """history.fetch, with its answers for a non-member (404, before anything else) and for a
    cursor that is not a message of the conversation (400)."""
    page = history.fetch(session, kind, actor_id, cid, limit=limit, cursor_id=cursor_id, after_seq=after_seq)
    if not page.is_member:
        raise convs.conversation_not_found()
    if not page.cursor_found:
        raise _not_a_message_here(cursor_field, "invalid_cursor")
    return page


def _page_in_steps(session: Session, actor_id: str, cid: str, limit: int, cursor_id: str | None, cursor_field: str,
                   newer: bool) -> tuple[list[dict[str, Any]], bool]:
    """list_messages's page through the ORM: roster, cursor, rows, then messages_out's batch loads."""
    roster = convs.roster_or_404(session, actor_id, cid)
    query = _with_sender().where(col(Message.conversation_id) == cid)
    if cursor_id is not None:
        cursor_seq = session.execute(
            sa.select(col(Message.seq)).where(col(Message.id) == cursor_id, col(Message.conversation_id) == cid)
        ).scalar()
        if cursor_seq is None:
            raise _not_a_message_here(cursor_field, "invalid_cursor")
    if newer:
        query = query.where(col(Message.seq) > cursor_seq).order_by(col(Message.seq).asc())
    else:
        if cursor_id is not None:
            query = query.where(col(Message.seq) < cursor_seq)
        query = query.order_by(col(Message.seq).desc())
    rows = list(session.execute(query.limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    if newer:
        rows.reverse()
    items = ser.messages_out(session, rows, {cid: ser.positions_of(roster)})
    return _for_viewer(items, _sees_receipts(roster, actor_id)), has_more


def _page_around(actor_id: str, cid: str, limit: int, around_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`limit` messages centred on `around_id`, newest first: of the others, half older and
    half newer, and when one side runs out the other fills the page — so a search result
    opens in context. meta.hasMoreBefore / hasMoreAfter: older / newer messages remain
    beyond the page (continue with beforeMessageId=oldestMessageId and
    afterMessageId=newestMessageId); hasMore: either does. One statement for the rows
    (on Postgres, one in all: history.py)."""
    with read_scope() as session:
        if _in_one_statement(session):
            page = _fetch_page(session, "around", actor_id, cid, limit=limit, cursor_id=around_id,
                               cursor_field="aroundMessageId")
            start, stop, before, after = _centre(page.rows, around_id, limit)
            items = _for_viewer(page.items(cid, page.rows[start:stop]), page.sees_receipts)
        else:
            roster = convs.roster_or_404(session, actor_id, cid)
            message_id, seq = col(Message.id), col(Message.seq)
            in_conversation = col(Message.conversation_id) == cid
            target_seq = sa.select(seq).where(in_conversation, message_id == around_id).scalar_subquery()
            older = sa.select(message_id).where(in_conversation, seq < target_seq).order_by(seq.desc()).limit(limit)
            newer = sa.select(message_id).where(in_conversation, seq > target_seq).order_by(seq.asc()).limit(limit)
            older_ids, newer_ids = older.subquery(), newer.subquery()
            ids = sa.union_all(sa.select(older_ids.c.id), sa.select(newer_ids.c.id),
                               sa.select(message_id).where(in_conversation, message_id == around_id))
            rows = list(session.exec(_with_sender().where(message_id.in_(ids)).order_by(seq.desc())))
            start, stop, before, after = _centre([msg for msg, _ in rows], around_id, limit)
            items = _for_viewer(ser.messages_out(session, rows[start:stop], {cid: ser.positions_of(roster)}),
                                _sees_receipts(roster, actor_id))
    meta = {
        "hasMore": before or after,
        "hasMoreBefore": before,
        "hasMoreAfter": after,
        "limit": limit,
        "aroundMessageId": around_id,
        "newestMessageId": items[0]["_id"],
        "oldestMessageId": items[-1]["_id"],
    }
    return items, meta


def _centre(candidates: Sequence[Any], around_id: str, limit: int) -> tuple[int, int, bool, bool]:
    """(start, stop, older remain, newer remain): the page `candidates[start:stop]` of
    _page_around. `candidates` (each with an `id`) are up to `limit` newer messages, the
    message itself and up to `limit` older ones, newest first."""
    at = next((i for i, msg in enumerate(candidates) if msg.id == around_id), None)
    if at is None:
        raise _not_a_message_here("aroundMessageId", "invalid_cursor")
    newer, older = at, len(candidates) - at - 1  # how many on each side
    others = limit - 1
    take_older = min(older, max(others // 2, others - newer))
    take_newer = min(newer, others - take_older)
    return at - take_newer, at + 1 + take_older, older > take_older, newer > take_newer


def messages_since(actor_id: str, conversation_id: Any, after_seq: Any, limit: Any = MAX_SYNC_LIMIT
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Catch-up after a reconnect: messages with seq > after_seq, oldest first.
    meta.lastSeq is the last seq returned (after_seq if none); hasMore says to ask again."""
    cid = convs.check_conversation_id(conversation_id)
    after = convs.check_int(after_seq, "afterSeq", default=0, minimum=0, maximum=2**62)
    limit = convs.check_int(limit, "limit", default=MAX_SYNC_LIMIT, minimum=1, maximum=MAX_SYNC_LIMIT)
    with read_scope() as session:
        if _in_one_statement(session):
            page = _fetch_page(session, "since", actor_id, cid, limit=limit, after_seq=after)
            items, has_more = _for_viewer(page.items(cid), page.sees_receipts), page.has_more
        else:
            roster = convs.roster_or_404(session, actor_id, cid)
            rows = list(session.execute(
                _with_sender().where(col(Message.conversation_id) == cid, col(Message.seq) > after)
                .order_by(col(Message.seq).asc()).limit(limit + 1)
            ))
            has_more = len(rows) > limit
            items = _for_viewer(ser.messages_out(session, rows[:limit], {cid: ser.positions_of(roster)}),
                                _sees_receipts(roster, actor_id))
    return items, {"hasMore": has_more, "lastSeq": items[-1]["seq"] if items else after}


def _for_viewer(items: list[dict[str, Any]], sees_receipts: bool) -> list[dict[str, Any]]:
    """A page as its viewer sees it: without anyone's reads if they turned read receipts off."""
    if sees_receipts:
        return items
    return [ser.without_receipts(item) for item in items]


# --- edit and delete -----------------------------------------------------------------------------


def edit_message(actor_id: str, message_id: Any, content: Any) -> dict[str, Any]:
    """New content for the actor's own message, within the edit window; sets isEdited."""
    mid = check_message_id(message_id)
    with session_scope() as session:
        msg, sender, roster = visible_message(session, actor_id, mid, lock=True)
        refusal = permissions.edit_refusal(ser.message_rights(msg), actor_id, utcnow())
        if refusal == "not_sender":
            raise Forbidden("You can only edit your own messages.", code=refusal)
        if refusal == "message_deleted":
            raise Conflict("This message was deleted.", code=refusal)
        if refusal == "system_message":
            raise Forbidden("Group notices cannot be edited.", code=refusal)
        if refusal is not None:
            raise Forbidden("This message can no longer be edited.", code=refusal)
        file_names = list(session.execute(
            sa.select(col(Attachment.name)).where(col(Attachment.message_id) == mid).order_by(col(Attachment.position))
        ).scalars())
        text = _check_content(content, allow_empty=bool(file_names))
        positions = ser.positions_of(roster)
        if text == msg.content:  # nothing changed: no edit mark, no event
            return as_seen_by(serialize_with(session, msg, sender, positions), roster, actor_id)
        # Mentions follow the new text: a member mentioned now has it among their mentions, one
        # no longer mentioned does not. The type is asked only when @everyone could count.
        me = next(m for m, _ in roster if m.user_id == actor_id)
        conversation_type = "direct"
        if me.is_admin and "@" + formatting.EVERYONE in text.lower():
            conversation_type = session.execute(
                sa.select(col(Conversation.type)).where(col(Conversation.id) == msg.conversation_id)).scalar_one()
        before = _mentioned(msg, roster)
        now = utcnow()
        msg.content, msg.is_edited, msg.edited_at, msg.updated_at = text, True, now, now
        msg.search_text = search.search_text(text, file_names)
        _apply_rendering(msg, formatting.render(text, mentionable(roster, me, conversation_type)))
        after = _mentioned(msg, roster)
        if before:
            session.exec(sa.delete(mentions_t).where(mentions_t.c.message_id == mid))
        session.flush()
        _store_mentions(session, msg, roster)
        out = serialize_with(session, msg, sender, positions)
        publish_message_updated(session, out, roster)
        # Those whose unread mentions changed hear their counts (none for a plain edit).
        changed = [m.user_id for m, _ in roster if m.user_id in before ^ after and m.last_read_seq < msg.seq]
        if changed:
            convs.publish_unread_counts(session, msg.conversation_id,
                                        convs.unread_counts(session, msg.conversation_id, changed))
        return as_seen_by(out, roster, actor_id)


def _mentioned(msg: Message, roster: list[ser.RosterEntry]) -> set[str]:
    """Who counts `msg` among their mentions (message_mentions rows): its sender never."""
    ids = {m.user_id for m, _ in roster} if msg.mentions_everyone else set(msg.mentions or [])
    return ids - {msg.sender_id} if msg.sender_id else ids


def delete_message(actor_id: str, message_id: Any) -> dict[str, Any]:
    """Soft delete by the sender or a group/project admin. The content and attachments are
    erased from storage, not just hidden; the message keeps its seq. Deleting twice is a no-op."""
    mid = check_message_id(message_id)
    with session_scope() as session:
        msg, sender, roster = visible_message(session, actor_id, mid, lock=True)
        me = next(m for m, _ in roster if m.user_id == actor_id)
        refusal = permissions.delete_refusal(ser.message_rights(msg), actor_id, me.is_admin)
        if refusal == "system_message":
            raise Forbidden("Group notices cannot be deleted.", code=refusal)
        if refusal is not None:
            raise Forbidden("Only the sender or a group admin can delete this message.", code=refusal)
        positions = ser.positions_of(roster)
        if msg.is_deleted:
            return as_seen_by(serialize_with(session, msg, sender, positions), roster, actor_id)
        now = utcnow()
        msg.content, msg.is_deleted, msg.deleted_at, msg.updated_at = "", True, now, now
        msg.search_text = ""
        had_mentions = bool(msg.mentions or msg.mentions_everyone)
        _apply_rendering(msg, formatting.render(""))
        uploads.remove_message_files(session, mid)  # blobs and thumbnails go right after the commit
        session.exec(sa.delete(table(Reaction)).where(table(Reaction).c.message_id == mid))
        if had_mentions:
            session.exec(sa.delete(mentions_t).where(mentions_t.c.message_id == mid))
        session.flush()
        out = serialize_with(session, msg, sender, positions)
        publish_message_updated(session, out, roster)
        # It no longer counts as unread for whoever had not read it yet.
        had_it_unread = [m.user_id for m, _ in roster if m.user_id != msg.sender_id and m.last_read_seq < msg.seq]
        convs.publish_unread_counts(session, msg.conversation_id,
                                    convs.unread_counts(session, msg.conversation_id, had_it_unread))
        return as_seen_by(out, roster, actor_id)


def _by_receipt_visibility(roster: list[ser.RosterEntry]) -> list[tuple[bool, list[str]]]:
    """The active members in (sees read receipts, their ids) groups (_audience)."""
    return _audience([(member.user_id, ser.sees_receipts(user)) for member, user in roster])


def _audience(members: list[tuple[str, bool]]) -> list[tuple[bool, list[str]]]:
    """(userId, sees read receipts) pairs in (sees, their ids) groups, those who do first; a
    group with nobody in it is left out. One payload goes to each group."""
    groups: dict[bool, list[str]] = {True: [], False: []}
    for user_id, sees in members:
        groups[sees].append(user_id)
    return [(sees, ids) for sees, ids in groups.items() if ids]


def _publish_merged(session: Session, name: str, payloads: list[tuple[dict[str, Any], list[str]]]) -> None:
    for evt in _merged_events(name, payloads):
        publish_on_commit(session, evt)


def _merged_events(name: str, payloads: list[tuple[dict[str, Any], list[str]]]) -> list[Event]:
    """One event per distinct payload: the groups of _by_receipt_visibility share one when
    nothing in it differs for them (nobody read anything, or only a hidden reader did)."""
    merged: list[tuple[dict[str, Any], list[str]]] = []
    for payload, recipients in payloads:
        same = next((entry for entry in merged if entry[0] == payload), None)
        if same is None:
            merged.append((payload, list(recipients)))
        else:
            same[1].extend(recipients)
    return [Event(name, payload, recipients) for payload, recipients in merged]


def publish_message_updated(session: Session, message: dict[str, Any], roster: list[ser.RosterEntry],
                            receipt: dict[str, Any] | None = None) -> None:
    """chat:message_updated {conversationId, message, receipt?} to every active member (the
    actor's other tabs too). `receipt` (ser.receipt_out) when a read or delivery position
    moved: it applies to every message up to it, not only to `message`. Members who turned
    read receipts off get the message and receipt without anyone's reads."""
    payloads = []
    for sees, recipients in _by_receipt_visibility(roster):
        payload: dict[str, Any] = {"conversationId": message["conversationId"],
                                   "message": message if sees else ser.without_receipts(message)}
        if receipt is not None:
            payload["receipt"] = ser.receipt_for(receipt, viewer_sees=sees)
        payloads.append((payload, recipients))
    _publish_merged(session, "chat:message_updated", payloads)


# --- read and delivery positions ---------------------------------------------------------------------


def _target_message(session: Session, cid: str, raw_id: Any, field: str) -> tuple[Message, User | None]:
    mid = _check_body_id(raw_id, field, "invalid_message_id")
    row = session.execute(_with_sender().where(col(Message.id) == mid, col(Message.conversation_id) == cid)).first()
    if row is None:
        raise _not_a_message_here(field, "invalid_message_id")
    return row


def mark_read(actor_id: str, conversation_id: Any, last_read_message_id: Any) -> dict[str, Any]:
    """Everything up to and including that message is read by the actor. The position never
    moves backwards; a receipt row (source of readBy) is written only when it advances."""
    cid = convs.check_conversation_id(conversation_id)
    with session_scope() as session:
        roster = convs.roster_or_404(session, actor_id, cid)
        msg, sender = _target_message(session, cid, last_read_message_id, "lastReadMessageId")
        now = utcnow()
        advanced = session.exec(
            sa.update(members_t)
            .where(members_t.c.conversation_id == cid, members_t.c.user_id == actor_id,
                   members_t.c.last_read_seq < msg.seq)
            .values(
                last_read_seq=msg.seq, last_read_at=now,
                # Read implies delivered.
                last_delivered_seq=sa.case((members_t.c.last_delivered_seq < msg.seq, msg.seq),
                                           else_=members_t.c.last_delivered_seq),
                last_delivered_at=sa.case((members_t.c.last_delivered_seq < msg.seq, now),
                                          else_=members_t.c.last_delivered_at),
            )
            .returning(members_t.c.last_read_seq)
        ).first() is not None
        shares = _sees_receipts(roster, actor_id)  # one switch: share my reads, see others'
        if advanced:
            session.exec(sa.insert(receipts_t).values(conversation_id=cid, user_id=actor_id, up_to_seq=msg.seq,
                                                      read_at=now, hidden=not shares))
        position, unread, mentions = session.execute(
            sa.select(members_t.c.last_read_seq, convs.unread_count_expr(members_t.c),
                      convs.unread_mentions_expr(members_t.c))
            .where(members_t.c.conversation_id == cid, members_t.c.user_id == actor_id)
        ).one()
        result = {"conversationId": cid, "unreadCount": unread, "unreadMentions": mentions, "lastReadSeq": position}
        if advanced:
            convs.publish_unread_counts(session, cid, {actor_id: (unread, mentions)})
            positions = _moved(ser.positions_of(roster), actor_id, read_seq=msg.seq)
            # A read that is not shared is, for everyone else, a delivery.
            receipt = (ser.receipt_out("read", actor_id, msg.seq, now) if shares
                       else ser.receipt_out("delivered", actor_id, msg.seq))
            publish_message_updated(session, serialize_with(session, msg, sender, positions), roster,
                                    receipt=receipt)
        return result


def mark_delivered(actor_id: str, conversation_id: Any, message_id: Any) -> dict[str, Any]:
    """The actor's client received everything up to that message (never moves backwards).
    Returns the message; members hear chat:message_updated when the position advanced."""
    cid = convs.check_conversation_id(conversation_id)
    with session_scope() as session:
        roster = convs.roster_or_404(session, actor_id, cid)
        msg, sender = _target_message(session, cid, message_id, "messageId")
        advanced = session.exec(
            sa.update(members_t)
            .where(members_t.c.conversation_id == cid, members_t.c.user_id == actor_id,
                   members_t.c.last_delivered_seq < msg.seq)
            .values(last_delivered_seq=msg.seq, last_delivered_at=utcnow())
            .returning(members_t.c.last_delivered_seq)
        ).first() is not None
        positions = ser.positions_of(roster)
        if advanced:
            positions = _moved(positions, actor_id, delivered_seq=msg.seq)
        out = serialize_with(session, msg, sender, positions)
        if advanced:
            publish_message_updated(session, out, roster, receipt=ser.receipt_out("delivered", actor_id, msg.seq))
        return as_seen_by(out, roster, actor_id)
