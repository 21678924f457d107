"""Message search: find any message the caller can see, by part of a word, with filters.

Every door (HTTP `GET /api/v1/chat/search`, the Reflex web app) calls `search_messages`.

What matches (the rules live here and in textfold.py, nowhere else):
- Text is compared folded (case, accents, compatibility forms: see textfold.py), in any
  language, with no stemming. Every term of the query must appear in the message's text or
  in one of its attachments' file names: a term of 3 characters or more anywhere ("ploy"
  finds "deployments"), a shorter one at the start of a word ("de" finds "deployments", not
  "ideas") — except in scripts written without spaces (Chinese, Japanese, Korean, Thai…)
  and for terms that start with a symbol ("%"), which match anywhere at any length.
  "A quoted phrase" is one term, spaces included. Everything else in a term is literal:
  %, _, \\, quotes that open no phrase, regex and FTS syntax.
- Operators: from:<username> (or from:@username), in:<conversation> (its id, a group's name,
  or a direct conversation's other participant by username or display name; a value that
  names nothing exactly picks the names it matches as a search term would), has:attachment, has:image,
  has:link (http://, https:// or www.), before:/after:/on:YYYY-MM-DD (UTC days; before and
  after exclude the day itself, as in Slack). Several from: or in: widen, everything else
  narrows. A word like `foo:bar` that is not an operator is searched as text.
- Deleted messages never match (their search text is erased with their content); an edited
  message matches its current text only. System messages are not searched.

Who sees what: only conversations the caller is an active member of, archived ones
included. A member who left a group (or was removed) cannot read it any more anywhere in the
product (404 on the conversation and its history), so search shows nothing of it either; a
member added back sees its whole history again, in search as in the history. Nothing in an
answer depends on conversations the caller is not in: there are no totals, and an unknown,
hidden or left conversationId is the same 404 as a random id.

How it is stored: `messages.search_text` holds `search_text(content, attachment names)`,
written by the domain in the same statement that stores, edits or deletes the message.
Postgres indexes it with a pg_trgm GIN index (LIKE '%term%' is served by it); SQLite keeps an
FTS5 `trigram` table in step through triggers (see the 0003 migration). Results are newest
first, paginated by an opaque cursor over (created_at, id), so pages never repeat or skip a
message, even when messages arrive between pages.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from utool_chat.db.engine import session_scope
from utool_chat.db.models import Attachment, Conversation, ConversationMember, Message, User
from utool_chat.domain import conversations as convs
from utool_chat.domain import serializers as ser
from utool_chat.domain import text as text_checks
from utool_chat.domain import textfold
from utool_chat.domain.errors import ValidationFailed
from utool_chat.domain.textfold import utf16_slices

__all__ = ["MAX_QUERY_CHARS", "highlight_segments", "search_messages", "search_text", "utf16_slices"]

MAX_QUERY_CHARS = 500
MAX_TERMS = 20
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
HAS_VALUES = ("attachment", "image", "link")
LINK_MARKERS = ("http://", "https://", "www.")

# Layout of messages.search_text: the folded content and each folded file name separated by
# FIELD_SEP, then KEYS_MARK and the word-start keys (textfold.word_start_keys), each after a
# FIELD_SEP. Folded text never holds control characters and query terms never do, so a
# term can neither match across two fields nor inside the keys (they are at most 2
# characters long); a short term is looked up as FIELD_SEP + term after KEYS_MARK.
FIELD_SEP = "\x1f"
KEYS_MARK = "\x1e"


def search_text(content: str, attachment_names: Iterable[str | None] = ()) -> str:
    """The text a message is searched by: its content and attachment file names, folded,
    plus the beginnings of their words. The one definition: every code path that stores,
    edits or erases a message or its attachments writes this (deleted: ""). Changing what
    it computes (the folding rules included) needs a migration that recomputes the column,
    as 0003's upgrade does for the messages that existed before search."""
    names = [folded for folded in (textfold.fold(name) for name in attachment_names if name) if folded]
    parts = [textfold.fold(content), *names]
    if not any(parts):
        return ""
    keys: dict[str, None] = {}
    for part in parts:
        keys.update(dict.fromkeys(textfold.word_start_keys(part)))
    return FIELD_SEP.join(parts) + KEYS_MARK + "".join(FIELD_SEP + key for key in keys)


# --- the query language ---------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A folded query word or phrase. `anywhere`: it may match in the middle of a word."""

    text: str
    anywhere: bool

    @classmethod
    def of(cls, folded: str) -> Term:
        return cls(folded, len(folded) >= 3 or not textfold.is_word_char(folded[0]))


@dataclass
class Query:
    terms: list[Term] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)  # from: usernames
    places: list[str] = field(default_factory=list)  # in: values
    has: set[str] = field(default_factory=set)
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.senders or self.places or self.has or self.since or self.until)


_OPERATOR = re.compile(r"(?i)(from|in|has|before|after|on):(.+)", re.DOTALL)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class _Token:
    text: str  # a word, a phrase, or an operator's value
    operator: str | None = None  # from | in | has | before | after | on


def _tokens(raw: str) -> list[_Token]:
    """Words, "phrases" and operators. A '"' opens a phrase only where a token starts and
    a closing '"' follows; `key:"two words"` quotes an operator's value; any other quote is
    literal. A phrase is never an operator ("from:ann" in quotes is text)."""
    out: list[_Token] = []
    i, n = 0, len(raw)
    while i < n:
        if raw[i].isspace():
            i += 1
            continue
        close = raw.find('"', i + 1)
        if raw[i] == '"' and close != -1:
            out.append(_Token(raw[i + 1:close]))
            i = close + 1
            continue
        j = i
        while j < n and not raw[j].isspace():
            j += 1
        op = _OPERATOR.fullmatch(raw[i:j])
        if op is None:
            out.append(_Token(raw[i:j]))
            i = j
            continue
        value_at = i + len(op.group(1)) + 1
        close = raw.find('"', value_at + 1)
        if raw[value_at] == '"' and close != -1:
            out.append(_Token(raw[value_at + 1:close], op.group(1).lower()))
            i = close + 1
        else:
            out.append(_Token(op.group(2), op.group(1).lower()))
            i = j
    return out


def _day(key: str, value: str) -> date:
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{key}: takes a date as YYYY-MM-DD, such as {key}:2026-01-31.",
                               code="invalid_query") from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _add_operator(query: Query, key: str, value: str) -> None:
    if key == "from":
        query.senders.append(value.removeprefix("@").lower())
    elif key == "in":
        query.places.append(value)
    elif key == "has":
        if value.lower() not in HAS_VALUES:
            raise ValidationFailed("has: takes one of: " + ", ".join(HAS_VALUES) + ".", code="invalid_query")
        query.has.add(value.lower())
    else:  # dates, in UTC; several of them narrow the range
        day = _day(key, value)
        start = _midnight(day)
        end = start + timedelta(days=1)
        since = {"after": end, "on": start}.get(key)
        until = {"before": start, "on": end}.get(key)
        if since is not None:
            query.since = max(query.since, since) if query.since else since
        if until is not None:
            query.until = min(query.until, until) if query.until else until


def parse_query(raw: Any) -> Query:
    """The query language above; 400 for an empty, over-long or malformed query."""
    if not isinstance(raw, str):
        raise ValidationFailed("q must be a string.", code="validation_error")
    if len(raw) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"The search is too long (at most {MAX_QUERY_CHARS} characters).",
                               code="query_too_long")
    text = convs.check_text(raw, "q", max_chars=MAX_QUERY_CHARS, code="invalid_query")
    query = Query()
    for token in _tokens(text):
        value = token.text.strip()
        if token.operator is not None and value:
            _add_operator(query, token.operator, value)
            continue
        folded = textfold.fold(token.text if token.operator is None else f"{token.operator}:")
        if folded:
            term = Term.of(folded)
            if term not in query.terms:
                query.terms.append(term)
    if query.is_empty:
        raise ValidationFailed("Type something to search for.", code="empty_query")
    if len(query.terms) > MAX_TERMS:
        raise ValidationFailed(f"Search for at most {MAX_TERMS} words at a time.", code="too_many_terms")
    return query


# --- highlights -------------------------------------------------------------------------------


def _occurrences(folded: str, term: Term) -> Iterator[int]:
    start = folded.find(term.text)
    while start != -1:
        if term.anywhere or textfold.is_word_start(folded, start):
            yield start
        start = folded.find(term.text, start + 1)


def highlight_ranges(text: str, terms: Sequence[Term]) -> list[list[int]]:
    """[[start, end], …]: where `terms` match in `text`, in UTF-16 code units of the original
    text, sorted, overlapping and touching ranges merged."""
    if not terms or not text:
        return []
    folded, starts, ends = textfold.fold_with_offsets(text)
    found = sorted(
        (starts[i], ends[i + len(term.text) - 1]) for term in terms for i in _occurrences(folded, term)
    )
    merged: list[list[int]] = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def highlight_segments(text: str, ranges: list[list[int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, highlighted) segments by a result's highlight ranges (for a
    Python UI; browsers slice JavaScript strings by the ranges directly)."""
    return utf16_slices(text, ranges)


# --- cursors ----------------------------------------------------------------------------------


def _encode_cursor(created_at: datetime, message_id: str) -> str:
    raw = f"{ser.as_utc(created_at).isoformat()}|{message_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(raw: Any) -> tuple[datetime, str]:
    bad = ValidationFailed("cursor must be the meta.nextCursor of a previous search.", code="invalid_cursor")
    if not isinstance(raw, str) or not raw or len(raw) > 200:
        raise bad
    try:
        stamp, _, message_id = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().partition("|")
        created_at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if created_at.tzinfo is None or not text_checks.is_id(message_id):
        raise bad
    return created_at.astimezone(UTC), message_id


# --- where the caller may look -------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A conversation the caller may search, and what a result shows of it."""

    id: str
    type: str
    name: str | None
    is_archived: bool
    other: User | None  # a direct conversation's other participant

    def summary(self) -> dict[str, Any]:
        return {"_id": self.id, "type": self.type, "name": self.name, "isArchived": self.is_archived,
                "otherParticipant": ser.user_out(self.other) if self.other else None}


_members = sa.inspect(ConversationMember).local_table
_messages = sa.inspect(Message).local_table


def _places(session: Session, actor_id: str, conversation_id: str | None) -> list[Place]:
    """Every conversation the actor is an active member of (or just `conversation_id`,
    404 unless they are), with what in: is matched against. One query."""
    me, other = _members.alias("me"), _members.alias("other")
    query = (
        select(Conversation, me.c.is_archived, User)
        .join(me, sa.and_(me.c.conversation_id == col(Conversation.id), me.c.user_id == actor_id,
                          me.c.left_at.is_(None)))
        .outerjoin(other, sa.and_(col(Conversation.type) == "direct", other.c.conversation_id == col(Conversation.id),
                                  other.c.user_id != actor_id))
        .outerjoin(User, col(User.id) == other.c.user_id)
    )
    if conversation_id is not None:
        query = query.where(col(Conversation.id) == conversation_id)
    places = [Place(conv.id, conv.type, conv.name, archived, user) for conv, archived, user in session.exec(query)]
    if conversation_id is not None and not places:
        raise convs.conversation_not_found()
    return places


def _names_of(place: Place) -> list[str]:
    if place.other is not None:
        return [place.other.username, textfold.fold(place.other.display_name)]
    return [textfold.fold(place.name)] if place.name else []


def _narrow(places: list[Place], values: list[str]) -> list[Place]:
    """The places in: names: by id, else by a name equal to the value (folded), else by
    names the value matches the way a search term matches text ("in:rock" finds "Équipe
    Rocket")."""
    chosen: dict[str, Place] = {}
    for value in values:
        wanted = textfold.fold(value.removeprefix("@"))
        found = [p for p in places if p.id == value] or [p for p in places if wanted in _names_of(p)]
        if not found and wanted:
            term = Term.of(wanted)
            found = [p for p in places if any(next(_occurrences(n, term), None) is not None for n in _names_of(p))]
        chosen.update((place.id, place) for place in found)
    return list(chosen.values())


# --- matching in SQL ------------------------------------------------------------------------------


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(pattern: str) -> Any:
    return col(Message.search_text).like(pattern, escape="\\")


def _short_term(term: Term) -> Any:
    """A term that must start a word: it is (the start of) one of the word-start keys."""
    return _like(f"%{KEYS_MARK}%{FIELD_SEP}{_like_escape(term.text)}%")


_fts = sa.table("messages_fts", sa.column("rowid", sa.Integer))
_fts_keys = sa.table("messages_fts_keys", sa.column("id", sa.Integer), sa.column("message_id", sa.String))


def _text_conditions(dialect: str, terms: Sequence[Term]) -> list[Any]:
    """SQL for the terms. Postgres: LIKE, served by the pg_trgm index. SQLite: terms of 3+
    characters go through the FTS5 trigram index as one MATCH of quoted strings (inside
    quotes FTS5 syntax is literal); shorter ones are LIKE over the caller's messages."""
    conditions, fts_terms = [], []
    for term in terms:
        if not term.anywhere:
            conditions.append(_short_term(term))
        elif dialect == "sqlite" and len(term.text) >= 3:
            fts_terms.append(term)
        else:
            conditions.append(_like(f"%{_like_escape(term.text)}%"))
    if fts_terms:
        match = " AND ".join('"' + t.text.replace('"', '""') + '"' for t in fts_terms)
        matching = sa.select(_fts.c.rowid).where(sa.literal_column("messages_fts").op("MATCH")(match))
        conditions.append(col(Message.id).in_(sa.select(_fts_keys.c.message_id).where(_fts_keys.c.id.in_(matching))))
    return conditions


def _conditions(dialect: str, query: Query, place_ids: list[str], after: tuple[datetime, str] | None) -> list[Any]:
    created_at, message_id = col(Message.created_at), col(Message.id)
    conditions = [
        col(Message.conversation_id).in_(place_ids),
        col(Message.is_deleted).is_(False),
        col(Message.content_type) != "system",
        *_text_conditions(dialect, query.terms),
    ]
    if query.senders:
        conditions.append(col(Message.sender_id).in_(
            sa.select(col(User.id)).where(col(User.username).in_(query.senders))))
    if "attachment" in query.has or "image" in query.has:
        files = sa.exists().where(col(Attachment.message_id) == message_id)
        if "image" in query.has:
            files = files.where(col(Attachment.mime_type).like("image/%"))
        conditions.append(files)
    if "link" in query.has:
        conditions.append(sa.or_(*(_like(f"%{_like_escape(marker)}%") for marker in LINK_MARKERS)))
    if query.since is not None:
        conditions.append(created_at >= query.since)
    if query.until is not None:
        conditions.append(created_at < query.until)
    if after is not None:
        # Typed binds: SQLite compares the stored text form, which an untyped datetime would not match.
        conditions.append(sa.tuple_(created_at, message_id) < sa.tuple_(
            sa.bindparam("after_created_at", after[0], type_=_messages.c.created_at.type),
            sa.bindparam("after_id", after[1], type_=_messages.c.id.type),
        ))
    return conditions


# --- the verb --------------------------------------------------------------------------------------


def search_messages(actor_id: str, q: Any, conversation_id: Any = None, limit: Any = DEFAULT_LIMIT,
                    cursor: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages matching `q` that the actor can see, newest first, as
    ([{message, conversation, highlights, attachmentHighlights}], {hasMore, nextCursor, limit}).

    `message` is the API's message object; `conversation` is {_id, type, name, isArchived,
    otherParticipant} (otherParticipant: the other user of a direct conversation, else null);
    `highlights` are [start, end) ranges of message.content and `attachmentHighlights`
    [{index, highlights}] of message.attachments[index].name, in UTF-16 code units.
    Pass meta.nextCursor back as `cursor` for the next page (null: there is none).
    `conversation_id` limits the search to one conversation (404 unless the actor is in it).
    At most 8 queries on Postgres, 7 on SQLite, however many conversations and results."""
    query = parse_query(q)
    cid = None if conversation_id is None else convs.check_conversation_id(conversation_id)
    limit = convs.check_int(limit, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    after = None if cursor is None else _decode_cursor(cursor)
    with session_scope() as session:
        places = _places(session, actor_id, cid)
        if query.places:
            places = _narrow(places, query.places)
        if not places:
            return [], {"hasMore": False, "nextCursor": None, "limit": limit}
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            # How selective a pattern is decides the plan ("the" wants the conversations'
            # messages scanned, "zanzibar" the trigram index), so never reuse a generic plan
            # of this statement (psycopg prepares statements it sees repeatedly).
            session.connection().exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        newest_first = (col(Message.created_at).desc(), col(Message.id).desc())
        # The page's ids first, then their rows: the sort handles narrow rows, however many match.
        page = (sa.select(col(Message.id)).where(*_conditions(dialect, query, [p.id for p in places], after))
                .order_by(*newest_first).limit(limit + 1).subquery())
        rows = list(session.exec(
            select(Message, User)
            .outerjoin(User, col(User.id) == col(Message.sender_id))
            .where(col(Message.id).in_(sa.select(page.c.id)))
            .order_by(*newest_first)
        ))
        has_more = len(rows) > limit
        rows = rows[:limit]
        roster = convs.active_members(session, {m.conversation_id for m, _ in rows})
        positions = {conversation: ser.positions_of(entries) for conversation, entries in roster.items()}
        messages = ser.messages_out(session, rows, positions)
        viewer = next((u for entries in roster.values() for m, u in entries if m.user_id == actor_id), None)
        if not ser.sees_receipts(viewer):  # read receipts off: nobody's reads (settings.readReceipts)
            messages = [ser.without_receipts(m) for m in messages]
    by_id = {p.id: p for p in places}
    items = [
        {
            "message": message,
            "conversation": by_id[message["conversationId"]].summary(),
            "highlights": highlight_ranges(message["content"], query.terms),
            "attachmentHighlights": [
                {"index": i, "highlights": found}
                for i, attachment in enumerate(message["attachments"])
                if (found := highlight_ranges(attachment.get("name") or "", query.terms))
            ],
        }
        for message in messages
    ]
    last = rows[-1][0] if rows else None
    next_cursor = _encode_cursor(last.created_at, last.id) if has_more and last is not None else None
    return items, {"hasMore": has_more, "nextCursor": next_cursor, "limit": limit}
