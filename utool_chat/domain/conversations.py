"""Conversations: create (direct / group / project), list, get, update membership, archive/leave.

Visibility rule: only *active* members (left_at IS NULL) see a conversation. Everyone else
gets NotFound with the same body as for an id that does not exist, so nobody can probe
which private conversations exist.

Product decisions (Slack/WhatsApp-like):
- Direct conversations need a friendship to be *started*; one per pair, enforced by the
  UNIQUE direct_key, so even racing creators end up with the same conversation.
- Groups and project conversations may include any existing users (Slack channels do not
  require friendship). Unknown user ids are a 400 `unknown_participants`.
- DELETE on a direct conversation archives it for the caller only (it comes back with the
  next message); on a group it leaves. A group left without an admin hands admin to its
  longest-standing member.
- New and re-added group members start with nothing unread: history is visible, but
  joining a busy group does not greet you with 1,000 unread messages. That only moves
  their unread position: no read receipt, no delivery, so nobody's ticks change.
- Ids follow text.check_id: a non-string is a 400 `validation_error`; an id of the right
  type that names nothing (missing, invisible, or malformed) is the thing's 404 when it is
  the one acted on (a URL path) and a 400 with the field's own code when it is a reference
  inside a body or query (participants, replyTo, cursors).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from utool_chat.db import async_pg
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Conversation, ConversationMember, Message, MessageMention, User, table, utcnow
from utool_chat.domain import friends, notices, uploads
from utool_chat.domain import serializers as ser
from utool_chat.domain import settings as user_settings
from utool_chat.domain import text as text_checks
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from utool_chat.events import Event, publish_on_commit

TYPES = ("direct", "group", "project")
MAX_NAME_CHARS = 100
MAX_PROJECT_ID_CHARS = 64
MAX_GROUP_MEMBERS = 500  # including the creator
MAX_PAGE_LIMIT = 100
MAX_PAGE = 10_000
DEFAULT_PAGE_LIMIT = 20
MAX_PINNED = 5  # pinned conversations per user (Telegram's number; WhatsApp allows 3)
MAX_MUTE_SECONDS = 366 * 24 * 3600  # "mute for …" up to a year; longer is "until I unmute"
members_t = table(ConversationMember)
conversations_t = table(Conversation)


# --- input checks (shared with messages and reactions) --------------------------------


def check_text(raw: Any, field: str, *, max_chars: int, code: str = "validation_error",
               too_long_code: str | None = None, strip: bool = True) -> str:
    """A (trimmed) string that Postgres can store; 400 for anything else."""
    if not isinstance(raw, str):
        raise ValidationFailed(f"{field} must be a string.", code=code)
    problem = text_checks.storable_text_problem(raw)
    if problem:
        raise ValidationFailed(f"{field} {problem}.", code=code)
    text = raw.strip() if strip else raw
    if len(text) > max_chars:
        raise ValidationFailed(f"{field} must be at most {max_chars} characters.", code=too_long_code or code)
    return text


def check_int(raw: Any, field: str, *, default: int, minimum: int, maximum: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationFailed(f"{field} must be an integer.", code="validation_error")
    if not minimum <= raw <= maximum:
        raise ValidationFailed(f"{field} must be between {minimum} and {maximum}.", code="validation_error")
    return raw


def conversation_not_found() -> NotFound:
    return NotFound("Conversation not found.", code="conversation_not_found")


def check_conversation_id(raw: Any) -> str:
    """The conversation a request acts on (text.check_id: a malformed id is the same 404
    as a missing one)."""
    return text_checks.check_id(raw, "conversationId", conversation_not_found)


def check_url(raw: str, field: str) -> str:
    """http(s) URLs or same-origin paths ("/uploads/…"); no javascript:, data: or //host."""
    lowered = raw.lower()
    if lowered.startswith(("http://", "https://")) or (raw.startswith("/") and not raw.startswith("//")):
        return raw
    raise ValidationFailed(f"{field} must be an http(s) URL or a path starting with '/'.", code="invalid_url")


def _unknown_user_id(field: str, item: str) -> ValidationFailed:
    return ValidationFailed(f"Unknown user id in {field}: {item[:64]!r}.", code="unknown_participants")


def _check_user_ids(raw: Any, field: str, *, required: bool = False) -> list[str]:
    """A de-duplicated list of user ids (order kept); 400 for anything else."""
    if raw is None and not required:
        return []
    if not isinstance(raw, list):
        raise ValidationFailed(f"{field} must be a list of user ids.", code="invalid_participants")
    if len(raw) > MAX_GROUP_MEMBERS:
        raise ValidationFailed(f"{field} may hold at most {MAX_GROUP_MEMBERS} ids.", code="invalid_participants")
    ids: list[str] = []
    for item in raw:
        text_checks.check_id(item, field, partial(_unknown_user_id, field, item))
        if item not in ids:
            ids.append(item)
    return ids


def _check_name(raw: Any) -> str:
    name = check_text(raw, "name", max_chars=MAX_NAME_CHARS, code="invalid_name")
    if not name:
        raise ValidationFailed("name must not be empty.", code="invalid_name")
    return name


def _check_avatar(raw: Any) -> str | None:
    """{uploadId} of an image the actor uploaded (returns the id), or "" to clear (None).
    Never an external URL: every member's browser would fetch it from that host."""
    if raw == "":
        return None
    if isinstance(raw, dict) and text_checks.is_id(raw.get("uploadId")):
        return raw["uploadId"]
    raise ValidationFailed(
        'avatar must be {"uploadId": "<id>"} of an image you uploaded with POST /api/v1/chat/uploads, or "" to '
        "remove it; links to images elsewhere are not accepted.", code="invalid_avatar")


# --- membership ------------------------------------------------------------------------


def active_members(session: Session, conversation_ids: Iterable[str]) -> dict[str, ser.Roster]:
    """{conversationId: Roster} — the active members with their users, longest-standing
    first, and the positions of those who left (ser.Roster). One query."""
    ids = list(conversation_ids)
    rosters: dict[str, ser.Roster] = defaultdict(ser.Roster)
    if not ids:
        return rosters
    rows = session.execute(
        sa.select(ConversationMember, User)
        .join(User, col(User.id) == col(ConversationMember.user_id))
        .where(col(ConversationMember.conversation_id).in_(ids))
        .order_by(col(ConversationMember.joined_at), col(ConversationMember.user_id))
    )
    for member, user in rows:
        roster = rosters[member.conversation_id]
        if member.left_at is None:
            roster.append((member, user))
        else:
            roster.departed.append(ser.Position(member.user_id, member.last_read_seq, member.last_delivered_seq))
    return rosters


def roster_or_404(session: Session, actor_id: str, conversation_id: str) -> ser.Roster:
    """The active members, if the actor is one of them; NotFound otherwise (one query)."""
    roster = active_members(session, [conversation_id]).get(conversation_id, ser.Roster())
    if not any(member.user_id == actor_id for member, _ in roster):
        raise conversation_not_found()
    return roster


def require_member(session: Session, actor_id: str, conversation_id: Any) -> ConversationMember:
    """The actor's active membership row; NotFound (never "forbidden") otherwise."""
    cid = check_conversation_id(conversation_id)
    member = session.get(ConversationMember, (cid, actor_id)) if isinstance(actor_id, str) else None
    if member is None or member.left_at is not None:
        raise conversation_not_found()
    return member


def confirm_member(actor_id: str, conversation_id: Any) -> str:
    """The conversation id, if the actor is an active member; NotFound otherwise (the
    Socket.IO door's chat:join_conversation). One query."""
    with session_scope() as session:
        return require_member(session, actor_id, conversation_id).conversation_id


def member_ids(conversation_id: str) -> list[str]:
    """Ids of the active members (whom a conversation's events go to)."""
    if not text_checks.is_id(conversation_id):
        return []
    with session_scope() as session:
        return list(
            session.execute(
                sa.select(col(ConversationMember.user_id)).where(
                    col(ConversationMember.conversation_id) == conversation_id,
                    col(ConversationMember.left_at).is_(None),
                )
            ).scalars()
        )


def unread_count_expr(member: Any = ConversationMember) -> Any:
    """Correlated count of a member's unread messages: above their read position, sent by
    someone else, not deleted. Seqs are 1..last_seq without gaps (messages are never removed,
    only marked deleted), so that is last_seq - last_read_seq minus the deleted messages and
    the member's own above the position: two probes of ix_messages_conversation_deleted_seq and
    ix_messages_conversation_sender_seq that find next to nothing, where counting the unread
    messages themselves read each of them (a cost of members x unread with every send)."""
    above = (col(Message.conversation_id) == member.conversation_id, col(Message.seq) > member.last_read_seq)
    # An alias: a query that lists conversations must not have its own row correlated in here.
    conversation = table(Conversation).alias("unread_of")
    last_seq = (
        sa.select(conversation.c.last_seq).where(conversation.c.id == member.conversation_id).scalar_subquery()
    )
    deleted = sa.select(sa.func.count()).select_from(Message).where(*above, col(Message.is_deleted).is_(True))
    own = sa.select(sa.func.count()).select_from(Message).where(
        *above, col(Message.sender_id) == member.user_id, col(Message.is_deleted).is_(False)
    )
    return last_seq - member.last_read_seq - deleted.scalar_subquery() - own.scalar_subquery()


def unread_mentions_expr(member: Any = ConversationMember) -> Any:
    """Correlated count of a member's unread mentions: their message_mentions rows above
    their read position (one range of ix_message_mentions_member_seq). Deleting a message
    deletes its rows, and a member's own messages never mention them."""
    return (
        sa.select(sa.func.count())
        .select_from(MessageMention)
        .where(
            col(MessageMention.conversation_id) == member.conversation_id,
            col(MessageMention.user_id) == member.user_id,
            col(MessageMention.seq) > member.last_read_seq,
        )
        .scalar_subquery()
    )


# (unreadCount, unreadMentions) of one member
Unread = tuple[int, int]


def unread_counts(session: Session, conversation_id: str, user_ids: Sequence[str] | None = None) -> dict[str, Unread]:
    """{userId: (unreadCount, unreadMentions)} for active members (or just `user_ids`), in one
    query (built once: this runs with every message sent)."""
    if user_ids is None:
        return unread_by_user(session.execute(_UNREAD_OF_ACTIVE, {"cid": conversation_id}))
    if not user_ids:
        return {}
    return unread_by_user(session.execute(_UNREAD_OF_USERS, {"cid": conversation_id, "user_ids": list(user_ids)}))


def unread_by_user(rows: Iterable[Any]) -> dict[str, Unread]:
    """unread_counts' answer from the rows of one of its statements (userId, count, mentions)."""
    return {user_id: (count, mentions) for user_id, count, mentions in rows}


def _unread_of_others(conversation_id: Any, sender_id: Any) -> Any:
    """(user_id, unread, mentions) of the active members but `sender_id` (two SQL values)."""
    return _unread_of_active(conversation_id).where(col(ConversationMember.user_id) != sender_id)


def _unread_of_active(conversation_id: Any) -> Any:
    """(user_id, unread, mentions) of the active members of `conversation_id` (an SQL value)."""
    return sa.select(
        col(ConversationMember.user_id), unread_count_expr().label("unread"), unread_mentions_expr().label("mentions")
    ).where(col(ConversationMember.conversation_id) == conversation_id, col(ConversationMember.left_at).is_(None))


_UNREAD_OF_ACTIVE = _unread_of_active(sa.bindparam("cid"))
_UNREAD_OF_USERS = _UNREAD_OF_ACTIVE.where(
    col(ConversationMember.user_id).in_(sa.bindparam("user_ids", expanding=True))
)
_UNREAD_OF_OTHERS = _unread_of_others(sa.bindparam("cid"), sa.bindparam("sender"))
# The same for db.async_pg (Postgres only).
UNREAD_OF_OTHERS_SQL = async_pg.compiled(_UNREAD_OF_OTHERS)
# The same as SQL text with :cid and :sender placeholders, for a statement written as text to
# include (messages._SEND_ALONE_STATEMENT; bind parameters would compile to typed casts that
# text does not read as placeholders). Postgres only.
UNREAD_OF_OTHERS_TEXT = str(
    _unread_of_others(sa.literal_column(":cid"), sa.literal_column(":sender")).compile(dialect=postgresql.dialect())
)


def unread_counts_of_others(session: Session, conversation_id: str, sender_id: str) -> dict[str, Unread]:
    """unread_counts of the active members other than `sender_id`: the recipients of a
    message just sent (one query)."""
    return unread_by_user(session.execute(_UNREAD_OF_OTHERS, {"cid": conversation_id, "sender": sender_id}))


def publish_unread_counts(session: Session, conversation_id: str, counts: Mapping[str, Unread]) -> None:
    """Queue unread_count_events until `session` commits."""
    for evt in unread_count_events(conversation_id, counts):
        publish_on_commit(session, evt)


def unread_count_events(conversation_id: str, counts: Mapping[str, Unread]) -> list[Event]:
    """chat:unread_count_update {conversationId, unreadCount, unreadMentions} for each user in
    `counts` (their own counts; the one place this event is built). Users with the same
    counts share one event: a message to a group of 200 is then a handful of events, each
    serialised and emitted once, not one per member."""
    alike: dict[Unread, list[str]] = defaultdict(list)
    for user_id, unread in counts.items():
        alike[unread].append(user_id)
    return [Event("chat:unread_count_update", {"conversationId": conversation_id, "unreadCount": count,
                                               "unreadMentions": mentions}, user_ids)
            for (count, mentions), user_ids in alike.items()]


def _ensure_an_admin(members: Sequence[ConversationMember]) -> str | None:
    """A group must keep an admin: hand it to the longest-standing active member. Returns
    the id of the member made admin, if one was."""
    active = [m for m in members if m.left_at is None]
    if active and not any(m.is_admin for m in active):
        oldest = min(active, key=lambda m: (ser.as_utc(m.joined_at), m.user_id))
        oldest.is_admin = True
        return oldest.user_id
    return None


def publish_notices(session: Session, conversation_id: str, written: Sequence[dict[str, Any]],
                    member_ids: Iterable[str]) -> None:
    """Queue chat:new_message for each notice just written, to the active members. Their
    unread counts travel in the chat:conversation_updated that every notice comes with."""
    recipients = list(member_ids)
    for message in written:
        publish_on_commit(session, Event("chat:new_message",
                                         {"conversationId": conversation_id, "message": message, "tempId": None},
                                         recipients))


def _locked_conversation(session: Session, conversation_id: str) -> Conversation:
    """The conversation row, locked: membership changes (and sends) of it wait for us."""
    return session.execute(
        sa.select(Conversation).where(col(Conversation.id) == conversation_id).with_for_update()
    ).scalar_one()


def _require_users_exist(session: Session, user_ids: Sequence[str]) -> None:
    if not user_ids:
        return
    found = set(session.execute(sa.select(col(User.id)).where(col(User.id).in_(list(user_ids)))).scalars())
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        raise ValidationFailed("Unknown user id(s): " + ", ".join(missing[:10]) + ".", code="unknown_participants")


# --- serialising -----------------------------------------------------------------------


def _conversation_rows(session: Session, actor_id: str, *filters: Any, offset: int = 0,
                       limit: int | None = None) -> list[Any]:
    """(conversation, viewer's membership, viewer's unreadCount, unreadMentions, total) rows of
    the actor's active memberships — pinned ones first (most recently pinned on top, as in
    WhatsApp), then newest activity first — one query however many conversations."""
    query = (
        sa.select(
            Conversation,
            ConversationMember,
            unread_count_expr().label("unread"),
            unread_mentions_expr().label("mentions"),
            sa.func.count().over().label("total"),
        )
        .join(
            ConversationMember,
            sa.and_(col(ConversationMember.conversation_id) == col(Conversation.id),
                    col(ConversationMember.user_id) == actor_id),
        )
        .where(col(ConversationMember.left_at).is_(None), *filters)
        .execution_options(populate_existing=True)  # rows a Core UPDATE changed in this session
        .order_by(col(ConversationMember.pinned_at).is_(None), col(ConversationMember.pinned_at).desc(),
                  col(Conversation.last_activity_at).desc(), col(Conversation.id).desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query))


def _build_conversations(session: Session, viewer_id: str, rows: Sequence) -> list[dict[str, Any]]:
    """Conversation objects for rows of _conversation_rows, as `viewer_id` sees them:
    participants in one query, every lastMessage through one batch load (messages_out's
    fixed handful of queries)."""
    if not rows:
        return []
    conversations = [row[0] for row in rows]
    roster = active_members(session, [c.id for c in conversations])
    positions = {cid: ser.positions_of(entries) for cid, entries in roster.items()}
    last_ids = [c.last_message_id for c in conversations if c.last_message_id]
    last_messages: dict[str, dict[str, Any]] = {}
    if last_ids:
        pairs = list(
            session.execute(
                sa.select(Message, User).outerjoin(User, col(User.id) == col(Message.sender_id))
                .where(col(Message.id).in_(last_ids))
            )
        )
        for out in ser.messages_out(session, pairs, positions):
            last_messages[out["_id"]] = out
    now = utcnow()
    built: list[dict[str, Any]] = []
    for conv, member, unread, mentions, _total in rows:
        entries: list[ser.RosterEntry] = roster.get(conv.id, [])
        viewer = next((user for m, user in entries if m.user_id == viewer_id), None)
        last = last_messages.get(conv.last_message_id) if conv.last_message_id else None
        if last is not None and not ser.sees_receipts(viewer):
            last = ser.without_receipts(last)
        built.append(ser.conversation_out(
            conv, entries, last_message=last, unread_count=unread, unread_mentions=mentions,
            is_archived=member.is_archived, preferences=ser.member_preferences(member, now),
        ))
    return built


def conversation_view(session: Session, actor_id: str, conversation_id: str) -> dict[str, Any]:
    """The conversation as the actor sees it; NotFound unless an active member."""
    rows = _conversation_rows(session, actor_id, col(Conversation.id) == conversation_id)
    if not rows:
        raise conversation_not_found()
    return _build_conversations(session, actor_id, rows)[0]


def conversation_views(session: Session, conversation_id: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(shared view with nothing unread and no preferences, {memberId: the conversation as
    that member sees it}) for chat:conversation_updated: each member gets their own
    unreadCount, unreadMentions, isArchived, mute and pin, and a lastMessage without
    receipts if they turned read receipts off."""
    conv = session.execute(sa.select(Conversation).where(col(Conversation.id) == conversation_id)).scalar_one()
    nobody = ConversationMember(conversation_id=conversation_id, user_id="")  # no unread, no preferences
    base = _build_conversations(session, "", [(conv, nobody, 0, 0, 1)])[0]
    flags = session.execute(
        sa.select(ConversationMember, col(User.read_receipts), unread_count_expr(), unread_mentions_expr())
        .join(User, col(User.id) == col(ConversationMember.user_id))
        .where(col(ConversationMember.conversation_id) == conversation_id, col(ConversationMember.left_at).is_(None))
        .execution_options(populate_existing=True)  # rows a Core UPDATE changed in this session
    )
    now = utcnow()
    views = {}
    for member, sees_receipts, unread, mentions in flags:
        view = {**base, "unreadCount": unread, "unreadMentions": mentions, "isArchived": member.is_archived,
                **ser.member_preferences(member, now)}
        if not sees_receipts and view["lastMessage"] is not None:
            view["lastMessage"] = ser.without_receipts(view["lastMessage"])
        views[member.user_id] = view
    return base, views


def publish_conversation_updated(session: Session, conversation_id: str,
                                 removed_user_ids: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Queue chat:conversation_updated for every active member (their own view) and, with
    `removed: true`, for users who just left or were removed (their clients drop it)."""
    base, views = conversation_views(session, conversation_id)
    for user_id, view in views.items():
        publish_on_commit(session, Event("chat:conversation_updated", {"conversation": view}, [user_id]))
    removed = [uid for uid in removed_user_ids if uid not in views]
    if removed:
        publish_on_commit(session, Event("chat:conversation_updated", {"conversation": base, "removed": True}, removed))
    return views


# --- the domain verbs ------------------------------------------------------------------


def list_conversations(actor_id: str, page: Any = 1, limit: Any = DEFAULT_PAGE_LIMIT, type: Any = None,
                       archived: Any = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The actor's conversations, newest activity first, each with lastMessage and the
    actor's unreadCount. Archived ones are hidden (archived=True lists only those). A fixed
    number of queries however many conversations the page holds."""
    page = check_int(page, "page", default=1, minimum=1, maximum=MAX_PAGE)
    limit = check_int(limit, "limit", default=DEFAULT_PAGE_LIMIT, minimum=1, maximum=MAX_PAGE_LIMIT)
    if type is not None and type not in TYPES:
        raise ValidationFailed("type must be one of: " + ", ".join(TYPES) + ".", code="invalid_type")
    if not isinstance(archived, bool):
        raise ValidationFailed("archived must be a boolean.", code="validation_error")
    filters = [col(ConversationMember.is_archived).is_(archived)]
    if type is not None:
        filters.append(col(Conversation.type) == type)
    offset = (page - 1) * limit
    with session_scope() as session:
        rows = _conversation_rows(session, actor_id, *filters, offset=offset, limit=limit)
        if rows:
            total = rows[0][4]
        elif page == 1:
            total = 0
        else:  # past the end: the window count has no row to ride on
            total = session.execute(
                sa.select(sa.func.count())
                .select_from(Conversation)
                .join(ConversationMember, col(ConversationMember.conversation_id) == col(Conversation.id))
                .where(col(ConversationMember.user_id) == actor_id, col(ConversationMember.left_at).is_(None), *filters)
            ).scalar_one()
        items = _build_conversations(session, actor_id, rows)
    meta = {"page": page, "limit": limit, "total": total, "hasMore": offset + len(items) < total}
    return items, meta


def get_conversation(actor_id: str, conversation_id: Any) -> dict[str, Any]:
    cid = check_conversation_id(conversation_id)
    with session_scope() as session:
        return conversation_view(session, actor_id, cid)


def create_conversation(actor_id: str, participant_ids: Any, type: Any = "direct", name: Any = None,
                        project_id: Any = None) -> tuple[dict[str, Any], bool]:
    """(conversation, created). A direct conversation with the same friend returns the
    existing one (created False), also when two requests race."""
    kind = "direct" if type is None else type
    if kind not in TYPES:
        raise ValidationFailed("type must be one of: " + ", ".join(TYPES) + ".", code="invalid_type")
    others = [uid for uid in _check_user_ids(participant_ids, "participantIds", required=True) if uid != actor_id]
    if kind == "direct":
        if len(others) != 1:
            raise ValidationFailed("A direct conversation has exactly one other participant.",
                                   code="invalid_participants")
        return _create_direct(actor_id, others[0])
    return _create_group(actor_id, others, kind, name, project_id)


def _create_direct(actor_id: str, other_id: str) -> tuple[dict[str, Any], bool]:
    key = ":".join(sorted((actor_id, other_id)))
    try:
        with session_scope() as session:
            existing = _open_existing_direct(session, actor_id, key)
            if existing is not None:
                return existing, False
            _require_users_exist(session, [other_id])
            if not friends.are_friends(session, actor_id, other_id):
                raise Forbidden("You can only start a direct conversation with a friend.", code="not_friends")
            conv = Conversation(type="direct", direct_key=key, created_by_id=actor_id)
            session.add(conv)
            session.flush()  # a racing creator of the same pair makes this raise IntegrityError
            session.add_all(ConversationMember(conversation_id=conv.id, user_id=uid) for uid in (actor_id, other_id))
            session.flush()
            views = publish_conversation_updated(session, conv.id)
            return views[actor_id], True
    except IntegrityError:
        # Lost the race: the winner's conversation is committed now (direct_key UNIQUE).
        with session_scope() as session:
            existing = _open_existing_direct(session, actor_id, key)
            if existing is None:
                raise
            return existing, False


def _open_existing_direct(session: Session, actor_id: str, key: str) -> dict[str, Any] | None:
    """The pair's conversation, un-archived for the actor (opening a chat brings it back,
    and the actor's other tabs hear so)."""
    conversation_id = session.execute(
        sa.select(col(Conversation.id)).where(col(Conversation.direct_key) == key)
    ).scalar()
    if conversation_id is None:
        return None
    unarchived = session.exec(
        sa.update(members_t)
        .where(members_t.c.conversation_id == conversation_id, members_t.c.user_id == actor_id,
               members_t.c.is_archived.is_(True))
        .values(is_archived=False)
        .returning(members_t.c.user_id)
    ).first() is not None
    view = conversation_view(session, actor_id, conversation_id)
    if unarchived:
        publish_on_commit(session, Event("chat:conversation_updated", {"conversation": view}, [actor_id]))
    return view


def _create_group(actor_id: str, others: list[str], kind: str, name: Any,
                  project_id: Any) -> tuple[dict[str, Any], bool]:
    project = None
    if kind == "project":
        project = check_text(project_id, "projectId", max_chars=MAX_PROJECT_ID_CHARS, code="invalid_project_id")
        if not project:
            raise ValidationFailed("projectId is required for a project conversation.", code="invalid_project_id")
    title = _check_name(name)
    if len(others) < 2:
        raise ValidationFailed("A group needs at least two other participants.", code="invalid_participants")
    if len(others) + 1 > MAX_GROUP_MEMBERS:
        raise ValidationFailed(f"A group has at most {MAX_GROUP_MEMBERS} members.", code="invalid_participants")
    with session_scope() as session:
        _require_users_exist(session, others)
        user_settings.check_group_invites(session, actor_id, others)
        conv = Conversation(type=kind, name=title, project_id=project, created_by_id=actor_id)
        session.add(conv)
        session.flush()
        creator = ConversationMember(conversation_id=conv.id, user_id=actor_id, is_admin=True)
        session.add(creator)
        session.add_all(ConversationMember(conversation_id=conv.id, user_id=uid) for uid in others)
        session.flush()
        actor = session.get(User, actor_id)
        notice = notices.write(session, conv, actor, notices.GROUP_CREATED, utcnow(), {}, creator, name=title,
                               userIds=others)
        views = publish_conversation_updated(session, conv.id)
        publish_notices(session, conv.id, [notice], views)
        return views[actor_id], True


def update_conversation(actor_id: str, conversation_id: Any, name: Any = None, avatar: Any = None,
                        add_participant_ids: Any = None, remove_participant_ids: Any = None,
                        add_admin_ids: Any = None, remove_admin_ids: Any = None) -> dict[str, Any]:
    """Rename, change the avatar, add/remove members, grant/revoke admin (groups and project
    conversations only; admins only). Adding someone needs their consent (settings:
    groupInvites). Each change leaves a notice in the conversation (notices.py)."""
    cid = check_conversation_id(conversation_id)
    new_name = None if name is None else _check_name(name)
    avatar_given = avatar is not None
    new_avatar_upload = _check_avatar(avatar) if avatar_given else None
    adds = _check_user_ids(add_participant_ids, "addParticipantIds")
    removes = _check_user_ids(remove_participant_ids, "removeParticipantIds")
    promote = _check_user_ids(add_admin_ids, "addAdminIds")
    demote = _check_user_ids(remove_admin_ids, "removeAdminIds")
    if new_name is None and not avatar_given and not (adds or removes or promote or demote):
        raise ValidationFailed("Nothing to update.", code="nothing_to_update")
    if set(adds) & set(removes) or set(promote) & set(demote):
        raise ValidationFailed("The same user cannot be both added and removed.", code="invalid_participants")

    with session_scope() as session:
        require_member(session, actor_id, cid)
        # The row lock serialises membership changes (and sends) of this conversation.
        conv = _locked_conversation(session, cid)
        members = {m.user_id: m for m in session.execute(
            sa.select(ConversationMember).where(col(ConversationMember.conversation_id) == cid)
            .execution_options(populate_existing=True)).scalars()}  # fresh, now that we hold the lock
        me = members.get(actor_id)
        if me is None or me.left_at is not None:  # left while we waited for the lock
            raise conversation_not_found()
        if conv.type == "direct":
            raise ValidationFailed("A direct conversation cannot be renamed or change members.", code="not_a_group")
        if not me.is_admin:
            raise Forbidden("Only a group admin can rename the group or change its photo or members.",
                            code="not_admin")

        now = utcnow()
        active = {uid for uid, m in members.items() if m.left_at is None}
        not_members = [uid for uid in removes if uid not in active]
        if not_members:
            raise ValidationFailed("Not a member: " + ", ".join(not_members[:10]) + ".", code="not_a_member")
        new_users = [uid for uid in adds if uid not in active]
        _require_users_exist(session, new_users)
        user_settings.check_group_invites(session, actor_id, new_users)
        admins_before = {uid for uid, m in members.items() if m.left_at is None and m.is_admin}
        old_name, old_avatar = conv.name, conv.avatar
        if len(active) + len(new_users) - len(removes) > MAX_GROUP_MEMBERS:
            raise ValidationFailed(f"A group has at most {MAX_GROUP_MEMBERS} members.", code="invalid_participants")

        for uid in removes:
            members[uid].left_at = now
            members[uid].is_admin = False
        for uid in new_users:
            member = members.get(uid)
            if member is None:
                member = members[uid] = ConversationMember(conversation_id=cid, user_id=uid)
                session.add(member)
            member.left_at, member.is_admin, member.is_archived, member.joined_at = None, False, False, now
            # Nothing unread for them: their read position (unread count) starts at the end.
            # No receipt and no delivery: joining does not make anyone's messages "read".
            member.last_read_seq = max(member.last_read_seq or 0, conv.last_seq)
        active = {uid for uid, m in members.items() if m.left_at is None}
        not_active = [uid for uid in promote + demote if uid not in active]
        if not_active:
            raise ValidationFailed("Not a member: " + ", ".join(not_active[:10]) + ".", code="not_a_member")
        for uid in promote:
            members[uid].is_admin = True
        for uid in demote:
            members[uid].is_admin = False
        handed_to = _ensure_an_admin(list(members.values()))

        if new_name is not None:
            conv.name = new_name
        if avatar_given:
            uploads.release_avatar(session, cid, conv.avatar)  # the old picture is deleted on commit
            conv.avatar = (None if new_avatar_upload is None
                           else uploads.attach_avatar(session, actor_id, cid, new_avatar_upload))
        conv.updated_at = now
        session.flush()
        made_admin = [uid for uid in promote if uid not in admins_before]
        written = _write_update_notices(session, conv, actor_id, now, renamed_from=old_name if (
            new_name is not None and new_name != old_name) else None, added=new_users,
            removed=[uid for uid in removes if uid != actor_id], left=actor_id in removes, made_admin=made_admin,
            handed_to=handed_to if handed_to not in made_admin else None,
            avatar_changed=avatar_given and conv.avatar != old_avatar)
        views = publish_conversation_updated(session, cid, removed_user_ids=removes)
        publish_notices(session, cid, written, views)
        typing_domain.ended_by_leaving(session, cid, removes, views)
        if actor_id in views:
            return views[actor_id]
        # The actor removed themselves: show them the result once (they can no longer GET it).
        return conversation_views(session, cid)[0]


def _write_update_notices(session: Session, conv: Conversation, actor_id: str, now: Any, *,
                          renamed_from: str | None, added: list[str], removed: list[str], left: bool,
                          made_admin: list[str], handed_to: str | None, avatar_changed: bool) -> list[dict[str, Any]]:
    """The notices of one update, in a fixed order (rename, additions, removals, the actor
    leaving, admins, photo)."""
    names = notices.display_names(session, [*added, *removed, *made_admin, *([handed_to] if handed_to else [])])
    actor = session.get(User, actor_id)
    me = session.get(ConversationMember, (conv.id, actor_id))

    def write(kind: str, by: User | None = actor, **data: Any) -> dict[str, Any]:
        return notices.write(session, conv, by, kind, now, names, me if by is actor else None, **data)

    written = []
    if renamed_from is not None:
        written.append(write(notices.GROUP_RENAMED, name=conv.name, oldName=renamed_from))
    if added:
        written.append(write(notices.MEMBERS_ADDED, userIds=added))
    if removed:
        written.append(write(notices.MEMBER_REMOVED, userIds=removed))
    if left:
        written.append(write(notices.MEMBER_LEFT))
    if made_admin:
        written.append(write(notices.ADMINS_ADDED, userIds=made_admin))
    if handed_to:  # the last admin went: admin passed on by itself
        written.append(write(notices.ADMINS_ADDED, by=None, userIds=[handed_to]))
    if avatar_changed:
        written.append(write(notices.AVATAR_CHANGED, removed=conv.avatar is None))
    return written


def archive_or_leave(actor_id: str, conversation_id: Any) -> None:
    """Direct: archive for the actor (it returns with the next message). Group/project:
    leave it; it disappears for the actor (404 afterwards); admin is handed over if needed."""
    cid = check_conversation_id(conversation_id)
    with session_scope() as session:
        me = require_member(session, actor_id, cid)
        conv = _locked_conversation(session, cid)
        if conv.type == "direct":
            me.is_archived, me.pinned_at = True, None  # an archived chat is not pinned any more
            session.flush()
            view = conversation_view(session, actor_id, cid)
            publish_on_commit(session, Event("chat:conversation_updated", {"conversation": view}, [actor_id]))
            return
        members = list(session.execute(
            sa.select(ConversationMember)
            .where(col(ConversationMember.conversation_id) == cid, col(ConversationMember.left_at).is_(None))
            .execution_options(populate_existing=True)).scalars())  # fresh, now that we hold the lock
        if me not in members:  # two leave requests raced: the other one did it
            raise conversation_not_found()
        me.left_at, me.is_admin = utcnow(), False
        conv.updated_at = me.left_at
        handed_to = _ensure_an_admin(members)
        session.flush()
        written = _write_update_notices(session, conv, actor_id, me.left_at, renamed_from=None, added=[], removed=[],
                                        left=True, made_admin=[], handed_to=handed_to, avatar_changed=False)
        views = publish_conversation_updated(session, cid, removed_user_ids=[actor_id])
        publish_notices(session, cid, written, views)
        typing_domain.ended_by_leaving(session, cid, [actor_id], views)


def _check_flag(raw: Any, field: str) -> bool | None:
    if raw is not None and not isinstance(raw, bool):
        raise ValidationFailed(f"{field} must be true or false.", code="validation_error")
    return raw


def update_preferences(actor_id: str, conversation_id: Any, muted: Any = None, muted_for: Any = None,
                       pinned: Any = None, archived: Any = None) -> dict[str, Any]:
    """The actor's own settings of one conversation (any type), as in WhatsApp:

    muted       true: no notifications (it still counts unread and still shows mentions);
                with muted_for (seconds, 60 s to a year) only for that long, else until
                unmuted. false: unmuted.
    pinned      true: kept at the top of the list (at most MAX_PINNED; pinning an archived
                conversation brings it back). false: unpinned.
    archived    true: out of the list (GET ?archived=true lists them) and unpinned; it comes
                back with the next message. false: back in the list.

    Returns the conversation as the actor sees it; their other tabs hear
    chat:conversation_updated. Nobody else is told anything."""
    cid = check_conversation_id(conversation_id)
    mute, pin, archive = _check_flag(muted, "muted"), _check_flag(pinned, "pinned"), _check_flag(archived, "archived")
    if muted_for is not None:
        if mute is not True:
            raise ValidationFailed("mutedFor goes with muted: true.", code="validation_error")
        muted_for = check_int(muted_for, "mutedFor", default=0, minimum=60, maximum=MAX_MUTE_SECONDS)
    if mute is None and pin is None and archive is None:
        raise ValidationFailed("Give muted, pinned or archived.", code="nothing_to_update")
    if pin and archive:
        raise ValidationFailed("An archived conversation cannot be pinned.", code="validation_error")
    with session_scope() as session:
        me = require_member(session, actor_id, cid)
        now = utcnow()
        if mute is not None:
            me.muted_until = (None if not mute else
                              now + timedelta(seconds=muted_for) if muted_for else ser.MUTED_FOREVER)
        if archive is not None:
            me.is_archived = archive
            if archive:
                me.pinned_at = None
        if pin is True and me.pinned_at is None:
            pinned_count = session.execute(
                sa.select(sa.func.count()).select_from(ConversationMember).where(
                    col(ConversationMember.user_id) == actor_id, col(ConversationMember.left_at).is_(None),
                    col(ConversationMember.pinned_at).is_not(None))
            ).scalar_one()
            if pinned_count >= MAX_PINNED:
                raise Conflict(f"You can pin at most {MAX_PINNED} conversations; unpin one first.",
                               code="too_many_pinned")
            me.pinned_at, me.is_archived = now, False
        elif pin is False:
            me.pinned_at = None
        session.flush()
        view = conversation_view(session, actor_id, cid)
        publish_on_commit(session, Event("chat:conversation_updated", {"conversation": view}, [actor_id]))
        return view
