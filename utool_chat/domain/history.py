"""A page of history in ONE statement on Postgres: the viewer check, the cursor, the rows,
their senders, reply targets, reactions, attachments and readBy, and every member's
position (for `status`), aggregated in SQL and read as plain tuples (no ORM objects).

serializers.page_out turns the rows into exactly the dicts serializers.messages_out builds
from ORM rows (the same message_out, reply_out, attachment_out and message_status), so both
paths serve one shape. SQLite (the embedded default) keeps the ORM path of messages.py.

readBy follows serializers._read_times: the receipts that can be "the first receipt covering"
a message of the page are those inside the page's seq range plus each reader's first one above
it; of those, each reader's first with up_to_seq >= the message's seq is when they read it.
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from utool_chat.domain import serializers as ser


class Page(NamedTuple):
    """What a history statement answers. `is_member` False: nothing else is filled in."""

    is_member: bool
    sees_receipts: bool  # the viewer's own read-receipt switch (ser.without_receipts)
    cursor_found: bool  # the cursor message is in this conversation (True when there is none)
    has_more: bool  # more messages beyond the page, in the page's direction
    positions: list[ser.Position]
    rows: list[ser.PageRow]


# The page's rows, in each variant's order; {page} is replaced by one of _PAGES.
_STATEMENT = """
WITH page AS MATERIALIZED (
    {page}
), bounds AS MATERIALIZED (
    SELECT min(seq) AS lo, max(seq) AS hi FROM page
), receipts AS MATERIALIZED (  -- serializers._read_times: in the page's range, and each reader's first above it
    SELECT rr.user_id, rr.up_to_seq, rr.read_at
    FROM read_receipts rr, bounds
    WHERE rr.conversation_id = :cid AND rr.up_to_seq BETWEEN bounds.lo AND bounds.hi AND NOT rr.hidden
    UNION ALL
    SELECT later.user_id, later.up_to_seq, later.read_at
    FROM (
        SELECT rr.user_id, min(rr.up_to_seq) AS up_to_seq
        FROM read_receipts rr, bounds
        WHERE rr.conversation_id = :cid AND rr.up_to_seq > bounds.hi AND NOT rr.hidden
        GROUP BY rr.user_id
    ) first_above
    JOIN read_receipts later ON later.conversation_id = :cid AND later.user_id = first_above.user_id
                             AND later.up_to_seq = first_above.up_to_seq AND NOT later.hidden
), head AS (
    SELECT
        EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = :cid AND user_id = :actor
                AND left_at IS NULL) AS is_member,
        (SELECT read_receipts FROM users WHERE id = :actor) AS sees_receipts,
        {cursor_found} AS cursor_found,
        {has_more} AS has_more,
        -- Every member's position, those who left included (serializers.positions_of).
        (SELECT json_agg(json_build_array(user_id, last_read_seq, last_delivered_seq))
         FROM conversation_members WHERE conversation_id = :cid) AS positions
)
SELECT head.is_member, head.sees_receipts, head.cursor_found, head.has_more,
       CASE WHEN row_number() OVER () = 1 THEN head.positions END,  -- on one row, not on each
       m.id, m.conversation_id, m.seq, m.sender_id, m.content, m.content_type, m.reply_to_id, m.temp_id,
       m.is_edited, m.is_deleted, m.created_at, m.updated_at, m.content_html, m.snippet, m.mentions,
       m.mentions_everyone, m.notice,
       s.id, s.username, s.display_name, s.avatar,
       r.id, r.seq, r.content, r.content_html, r.snippet, r.is_deleted,
       rs.id, rs.username, rs.display_name, rs.avatar,
       att.attachments, rx.users, rx.emojis, rb.users, rb.times
FROM head
LEFT JOIN page m ON true
LEFT JOIN users s ON s.id = m.sender_id
LEFT JOIN messages r ON r.id = m.reply_to_id
LEFT JOIN users rs ON rs.id = r.sender_id
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object(
               'id', a.id, 'url', a.url, 'mime_type', a.mime_type, 'name', a.name, 'size', a.size,
               'storage_key', a.storage_key, 'thumbnail_key', a.thumbnail_key, 'width', a.width,
               'height', a.height) ORDER BY a.position) AS attachments
    FROM attachments a WHERE a.message_id = m.id
) att ON true
LEFT JOIN LATERAL (
    SELECT array_agg(x.user_id ORDER BY x.created_at, x.user_id, x.emoji) AS users,
           array_agg(x.emoji ORDER BY x.created_at, x.user_id, x.emoji) AS emojis
    FROM reactions x WHERE x.message_id = m.id
) rx ON true
LEFT JOIN LATERAL (  -- each reader's first covering receipt; in order of (readAt, user id) as Python sorts
    SELECT array_agg(f.user_id ORDER BY f.read_at, f.user_id COLLATE "C") AS users,
           array_agg(f.read_at ORDER BY f.read_at, f.user_id COLLATE "C") AS times
    FROM (
        SELECT DISTINCT ON (rc.user_id) rc.user_id, rc.read_at
        FROM receipts rc
        WHERE rc.up_to_seq >= m.seq AND rc.user_id IS DISTINCT FROM m.sender_id
        ORDER BY rc.user_id, rc.up_to_seq, rc.read_at
    ) f
) rb ON true
ORDER BY m.seq {order}
"""

# Only a member gets rows: `viewer` is the membership test every page query starts with.
_VIEWER = ("EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = :cid AND user_id = :actor"
           " AND left_at IS NULL)")
_CURSOR_SEQ = "(SELECT seq FROM messages WHERE id = :cursor AND conversation_id = :cid)"
_CURSOR_FOUND = f"{_CURSOR_SEQ} IS NOT NULL"
_OLDER_EXIST = "EXISTS (SELECT 1 FROM messages, bounds WHERE conversation_id = :cid AND seq < bounds.lo)"
_NEWER_EXIST = "EXISTS (SELECT 1 FROM messages, bounds WHERE conversation_id = :cid AND seq > bounds.hi)"


def _page(where: str, order: str) -> str:
    return (f"SELECT * FROM messages WHERE conversation_id = :cid AND {_VIEWER} {where}"
            f" ORDER BY seq {order} LIMIT :limit")


# name: (the page's rows, whether the cursor was found, has_more, the order of the result)
_PAGES: dict[str, tuple[str, str, str, str]] = {
    "latest": (_page("", "DESC"), "true", _OLDER_EXIST, "DESC"),
    "before": (_page(f"AND seq < {_CURSOR_SEQ}", "DESC"), _CURSOR_FOUND, _OLDER_EXIST, "DESC"),
    "after": (_page(f"AND seq > {_CURSOR_SEQ}", "ASC"), _CURSOR_FOUND, _NEWER_EXIST, "DESC"),
    "since": (_page("AND seq > :after_seq", "ASC"), "true", _NEWER_EXIST, "ASC"),
    # _page_around's candidates: `limit` older, `limit` newer and the message itself, newest
    # first (the caller picks the page among them); has_more is the caller's too.
    "around": (
        f"""SELECT * FROM messages WHERE conversation_id = :cid AND {_VIEWER} AND id IN (
                (SELECT id FROM messages WHERE conversation_id = :cid AND seq < {_CURSOR_SEQ}
                 ORDER BY seq DESC LIMIT :limit)
                UNION ALL
                (SELECT id FROM messages WHERE conversation_id = :cid AND seq > {_CURSOR_SEQ}
                 ORDER BY seq ASC LIMIT :limit)
                UNION ALL
                SELECT id FROM messages WHERE conversation_id = :cid AND id = :cursor)""",
        _CURSOR_FOUND, "false", "DESC",
    ),
}

_STATEMENTS = {
    name: sa.text(_STATEMENT.format(page=page, cursor_found=found, has_more=more, order=order))
    for name, (page, found, more, order) in _PAGES.items()
}
_HEAD = 5  # the head's columns before each row's


def fetch(session: Session, kind: str, actor_id: str, cid: str, *, limit: int, cursor_id: str | None = None,
          after_seq: int = 0) -> Page:
    """One history statement (`kind` one of _PAGES) for `actor_id` in `cid`."""
    result = session.execute(_STATEMENTS[kind], {"cid": cid, "actor": actor_id, "limit": limit, "cursor": cursor_id,
                                                 "after_seq": after_seq})
    rows = result.all()
    head = rows[0]  # there is always one: the head LEFT JOINs the page
    if not head[0]:
        return Page(False, True, False, False, [], [])
    positions = next(row[4] for row in rows if row[4] is not None)
    return Page(
        is_member=True,
        sees_receipts=bool(head[1]),
        cursor_found=bool(head[2]),
        has_more=bool(head[3]),
        positions=[ser.Position(*p) for p in positions],
        rows=[ser.PageRow._make(row[_HEAD:]) for row in rows if row[_HEAD] is not None],
    )
