"""A page of history in ONE statement on Postgres: the viewer check, the cursor, the rows,
and everything serializers.messages_out would batch-load for them (senders, reply originals,
reactions, attachments, the receipts readBy comes from) and every member's position (for
`status`), read as plain tuples: no ORM objects, one round trip.

serializers.page_out turns them into exactly the dicts messages_out builds from ORM rows
(through the same serializers.assemble), so both paths serve one shape. SQLite (the embedded
default) keeps the ORM path of messages.py.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from utool_chat.domain import serializers as ser


class Page(NamedTuple):
    """What a history statement answers. `is_member` False: nothing else is filled in."""

    is_member: bool
    sees_receipts: bool  # the viewer's own read-receipt switch (ser.without_receipts)
    cursor_found: bool  # the cursor message is in this conversation (True when there is none)
    has_more: bool  # more messages beyond the page, in the page's direction
    rows: list[ser.PageRow]
    extras: ser.PageExtras | None

    def items(self, conversation_id: str, rows: list[ser.PageRow] | None = None) -> list[dict[str, Any]]:
        """The page's messages (or `rows` of them) as messages_out serves them."""
        assert self.extras is not None, "a page for a non-member has no items"
        return ser.page_out(conversation_id, self.rows if rows is None else rows, self.extras)


# {page} is one of _PAGES: the page's rows; the columns are those of ser.PageExtras (the
# head's) and ser.PageRow, in their order. Whatever is loaded for the page as a whole (the
# head) sits in sub-selects over the materialised page, each planned on its own: the same
# loads as LATERAL joins per row cost Postgres twice the planning and execution.
_STATEMENT = """
WITH page AS MATERIALIZED (
    {page}
), bounds AS MATERIALIZED (
    SELECT min(seq) AS lo, max(seq) AS hi FROM page
), receipts AS MATERIALIZED (  -- serializers._read_times: in the page's range, and each reader's first above it
    -- (joined with bounds, not compared with a sub-select of it: the planner then knows the
    -- range and reads ix_read_receipts_conversation_seq instead of the whole table)
    SELECT rr.user_id, rr.up_to_seq, rr.read_at
    FROM read_receipts rr, bounds
    WHERE rr.conversation_id = :cid AND rr.up_to_seq BETWEEN bounds.lo AND bounds.hi AND NOT rr.hidden
    UNION ALL
    -- Each reader's first: one probe of ix_read_receipts_conversation_user_seq per member
    -- (every reader is one: member rows stay when they leave, and receipts outlive
    -- membership), not a read of every receipt above the page (the whole history above a
    -- page far back). (A reader's receipts have distinct seqs: each moves their position forward.)
    SELECT member.user_id, first_above.up_to_seq, first_above.read_at
    FROM conversation_members member, bounds,
         LATERAL (SELECT rr.up_to_seq, rr.read_at FROM read_receipts rr
                  WHERE rr.conversation_id = :cid AND rr.user_id = member.user_id AND rr.up_to_seq > bounds.hi
                        AND NOT rr.hidden
                  ORDER BY rr.up_to_seq LIMIT 1) first_above
    WHERE member.conversation_id = :cid
      -- no probe at all (for a group's members) when no receipt lies above: the latest page
      AND bounds.hi < (SELECT max(up_to_seq) FROM read_receipts WHERE conversation_id = :cid)
), head AS MATERIALIZED (
    SELECT
        (SELECT hi FROM bounds) AS on_seq,
        EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = :cid AND user_id = :actor
                AND left_at IS NULL) AS is_member,
        (SELECT read_receipts FROM users WHERE id = :actor) AS sees_receipts,
        {cursor_found} AS cursor_found,
        {has_more} AS has_more,
        (SELECT json_agg(json_build_array(user_id, last_read_seq, last_delivered_seq))
         FROM conversation_members WHERE conversation_id = :cid) AS positions,
        (SELECT json_agg(json_build_array(id, username, display_name, avatar)) FROM users
         WHERE id IN (SELECT sender_id FROM page UNION
                      SELECT sender_id FROM messages WHERE id IN (SELECT reply_to_id FROM page))) AS users,
        (SELECT json_agg(json_build_array(id, seq, sender_id, content, content_html, snippet, is_deleted))
         FROM messages WHERE id IN (SELECT reply_to_id FROM page)) AS replies,
        (SELECT json_agg(json_build_array(message_id, user_id, emoji) ORDER BY created_at, user_id, emoji)
         FROM reactions WHERE message_id IN (SELECT id FROM page)) AS reactions,
        (SELECT json_agg(json_build_array(message_id, id, url, mime_type, name, size, storage_key, thumbnail_key,
                                          width, height) ORDER BY position)
         FROM attachments WHERE message_id IN (SELECT id FROM page)) AS attachments,
        (SELECT array_agg(user_id ORDER BY up_to_seq, read_at, user_id) FROM receipts) AS receipt_users,
        (SELECT array_agg(up_to_seq ORDER BY up_to_seq, read_at, user_id) FROM receipts) AS receipt_seqs,
        (SELECT array_agg(read_at ORDER BY up_to_seq, read_at, user_id) FROM receipts) AS receipt_times
)
-- The head once, on the newest row (alone when the page is empty), then each row's message.
SELECT head.is_member, head.sees_receipts, head.cursor_found, head.has_more, {extras}, {columns}
FROM head FULL JOIN page m ON m.seq = head.on_seq
ORDER BY m.seq {order}
"""

MAX_LIMIT = 500  # the largest page asked for (messages.MAX_SYNC_LIMIT)

# Only a member gets rows: the page's own test, so that a non-member's statement reads nothing.
_VIEWER = ("EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = :cid AND user_id = :actor"
           " AND left_at IS NULL)")
_CURSOR_SEQ = "(SELECT seq FROM messages WHERE id = :cursor AND conversation_id = :cid)"
_CURSOR_FOUND = f"{_CURSOR_SEQ} IS NOT NULL"
# (ordered like uq_messages_conversation_seq, so that it is the index's next entry, whatever
# the planner estimates: EXISTS would let it choose a table scan that stops at a first match)
_OLDER_EXIST = ("(SELECT seq FROM messages WHERE conversation_id = :cid AND seq < (SELECT lo FROM bounds)"
                " ORDER BY seq DESC LIMIT 1) IS NOT NULL")
_NEWER_EXIST = ("(SELECT seq FROM messages WHERE conversation_id = :cid AND seq > (SELECT hi FROM bounds)"
                " ORDER BY seq ASC LIMIT 1) IS NOT NULL")
_COLUMNS = ", ".join(ser.PageRow._fields)


def _page(where: str, order: str) -> str:
    return (f"SELECT {_COLUMNS} FROM messages WHERE conversation_id = :cid AND {_VIEWER} {where}"
            f" ORDER BY seq {order} LIMIT {{limit}}")


# name: (the page's rows, whether the cursor was found, has_more, the order of the result)
_PAGES: dict[str, tuple[str, str, str, str]] = {
    "latest": (_page("", "DESC"), "true", _OLDER_EXIST, "DESC"),
    "before": (_page(f"AND seq < {_CURSOR_SEQ}", "DESC"), _CURSOR_FOUND, _OLDER_EXIST, "DESC"),
    "after": (_page(f"AND seq > {_CURSOR_SEQ}", "ASC"), _CURSOR_FOUND, _NEWER_EXIST, "DESC"),
    "since": (_page("AND seq > :after_seq", "ASC"), "true", _NEWER_EXIST, "ASC"),
    # _page_around's candidates: `limit` older, `limit` newer and the message itself, newest
    # first (the caller picks the page among them); has_more is the caller's too.
    "around": (
        f"""SELECT {_COLUMNS} FROM messages WHERE conversation_id = :cid AND {_VIEWER} AND id IN (
                (SELECT id FROM messages WHERE conversation_id = :cid AND seq < {_CURSOR_SEQ}
                 ORDER BY seq DESC LIMIT {{limit}})
                UNION ALL
                (SELECT id FROM messages WHERE conversation_id = :cid AND seq > {_CURSOR_SEQ}
                 ORDER BY seq ASC LIMIT {{limit}})
                UNION ALL
                SELECT id FROM messages WHERE conversation_id = :cid AND id = :cursor)""",
        _CURSOR_FOUND, "false", "DESC",
    ),
}


@functools.lru_cache(maxsize=256)
def _statement(kind: str, limit: int) -> sa.TextClause:
    """The statement of one kind of page for one page size, the size written into it: with
    LIMIT a parameter Postgres cannot tell a page from a whole table, so every execution is
    planned afresh (about half a millisecond); with it in the text, psycopg's prepared
    statement gets a generic plan that later executions reuse. `limit` is an int within
    MAX_LIMIT (checked by the caller); the texts of the sizes in use are kept."""
    page, found, more, order = _PAGES[kind]
    assert isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit <= MAX_LIMIT, limit
    return sa.text(_compact(_STATEMENT.format(
        page=page.format(limit=limit), cursor_found=found, has_more=more, order=order,
        extras=", ".join(f"head.{name}" for name in ser.PageExtras._fields),
        columns=", ".join(f"m.{name}" for name in ser.PageRow._fields),
    )))


# psycopg caches its parse of a query's placeholders only for texts up to this many
# characters (psycopg._queries.MAX_CACHED_STATEMENT_LENGTH); a longer one is re-parsed by a
# regular expression on every execution (a few tenths of a millisecond of CPU per page).
PSYCOPG_CACHED_QUERY_CHARS = 4096


def _compact(sql: str) -> str:
    """`sql` without its comments and runs of whitespace (it has no string literals), so
    that every statement stays within PSYCOPG_CACHED_QUERY_CHARS with its placeholders."""
    return " ".join(re.sub(r"--[^\n]*", " ", sql).split())


_HEAD = 4  # is_member, sees_receipts, cursor_found, has_more, then ser.PageExtras, then ser.PageRow
_ROW = _HEAD + len(ser.PageExtras._fields)


def fetch(session: Session, kind: str, actor_id: str, cid: str, *, limit: int, cursor_id: str | None = None,
          after_seq: int = 0) -> Page:
    """One history statement (`kind` one of _PAGES) for `actor_id` in `cid`."""
    # On the session's Core connection: the ORM's execute adds a tenth of a millisecond for nothing here.
    rows = session.connection().execute(_statement(kind, limit), {"cid": cid, "actor": actor_id, "cursor": cursor_id,
                                                                  "after_seq": after_seq}).all()
    head = next(row for row in rows if row[0] is not None)
    if not head[0]:
        return Page(False, True, False, False, [], None)
    return Page(
        is_member=True,
        sees_receipts=bool(head[1]),
        cursor_found=bool(head[2]),
        has_more=bool(head[3]),
        rows=[ser.PageRow._make(row[_ROW:]) for row in rows if row[_ROW] is not None],
        extras=ser.PageExtras._make(head[_HEAD:_ROW]),
    )
