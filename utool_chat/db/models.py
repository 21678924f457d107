"""The whole data model of the plan, as SQLModel tables.

Design notes (why, not what):
- IDs are opaque 32-char hex strings (uuid4), served as `_id`.
- Read state is stored per member as positions (`last_read_seq`), never as per-message
  arrays or per-conversation counters: unread counts are *derived* (messages above the
  member's position, not sent by them, not deleted), so they can never drift.
- Per-message `readBy` (the plan's shape) comes from `read_receipts`: one row each time a
  member's read position moves forward. `readAt` of message s for user u is the time of
  u's first receipt with `up_to_seq >= s`, which is exact and costs one indexed query
  per page of messages.
- `conversations.last_seq` is bumped with an atomic UPDATE … RETURNING when a message
  is stored, which both allocates the next `seq` (gap-free: a rolled-back send rolls
  back the bump) and serialises concurrent sends to one conversation.
- `conversations.direct_key` ("<smaller id>:<larger id>") is UNIQUE, so the database
  itself makes a second direct conversation for the same pair impossible, even when
  two requests race.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def table(model: type[SQLModel]) -> sa.Table:
    """A model's Core table, for UPDATE/INSERT statements and their columns (`.c`). SQLModel
    sets `__table__` on every table model but does not declare it to type checkers."""
    found = getattr(model, "__table__", None)
    if not isinstance(found, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return found


def _ts(**kw: Any) -> Any:  # timezone-aware timestamp column
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kw)


def _opt_ts(**kw: Any) -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True), **kw)


ID = 32  # length of new_id()


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    # Stored lower-cased: usernames are unique case-insensitively.
    username: str = Field(max_length=32, sa_column_kwargs={"unique": True}, index=False)
    display_name: str = Field(max_length=64)
    avatar: str | None = Field(default=None, max_length=512)
    password_hash: str = Field(max_length=255)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # When the user was last online (presence.py writes it when they stop being online).
    last_seen_at: datetime | None = _opt_ts()
    # Settings (domain/settings.py): privacy and who may put them into groups.
    show_last_seen: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    read_receipts: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    group_invites: str = Field(default="friends", max_length=16,  # friends | everyone | nobody
                               sa_column_kwargs={"server_default": "friends"})
    notification_sound: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})

    __table_args__ = (
        sa.Index("ix_users_display_name_lower", sa.func.lower(sa.text("display_name"))),
    )


class AuthSession(SQLModel, table=True):
    """A login. The bearer token is never stored, only its SHA-256 (with the secret pepper)."""

    __tablename__ = "auth_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    user_id: str = Field(foreign_key="users.id", max_length=ID, index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    revoked_at: datetime | None = _opt_ts()


class FriendRequest(SQLModel, table=True):
    __tablename__ = "friend_requests"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    from_user_id: str = Field(foreign_key="users.id", max_length=ID, index=True, ondelete="CASCADE")
    to_user_id: str = Field(foreign_key="users.id", max_length=ID, index=True, ondelete="CASCADE")
    # pending | accepted | declined | cancelled
    status: str = Field(default="pending", max_length=16)
    created_at: datetime = _ts()
    responded_at: datetime | None = _opt_ts()

    __table_args__ = (
        # At most one pending request per direction.
        sa.Index(
            "uq_friend_requests_pending_pair",
            "from_user_id",
            "to_user_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
    )


class Friendship(SQLModel, table=True):
    """Stored both ways (A→B and B→A) so "my friends" is one indexed lookup."""

    __tablename__ = "friendships"

    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    friend_id: str = Field(foreign_key="users.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    created_at: datetime = _ts()


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    type: str = Field(default="direct", max_length=16)  # direct | group | project
    name: str | None = Field(default=None, max_length=100)
    avatar: str | None = Field(default=None, max_length=512)
    created_by_id: str | None = Field(default=None, foreign_key="users.id", max_length=ID, ondelete="SET NULL")
    project_id: str | None = Field(default=None, max_length=64, index=True)
    direct_key: str | None = Field(default=None, max_length=2 * ID + 1, sa_column_kwargs={"unique": True})
    last_seq: int = Field(default=0)
    last_message_id: str | None = Field(default=None, max_length=ID)
    # Not indexed: a send moves it, and an indexed column would make that update non-HOT
    # (migration 0007 says why no query needs the index).
    last_activity_at: datetime = _ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ConversationMember(SQLModel, table=True):
    """Membership plus the member's own view of the conversation (read/delivered positions)."""

    __tablename__ = "conversation_members"

    conversation_id: str = Field(foreign_key="conversations.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    is_admin: bool = Field(default=False)
    joined_at: datetime = _ts()
    left_at: datetime | None = _opt_ts()  # set when the member leaves or is removed
    is_archived: bool = Field(default=False)
    last_read_seq: int = Field(default=0)
    last_read_at: datetime | None = _opt_ts()
    last_delivered_seq: int = Field(default=0)
    last_delivered_at: datetime | None = _opt_ts()
    # The member's own preferences: muted until then (a far-future time for "until I unmute"),
    # pinned to the top of their list since then.
    muted_until: datetime | None = _opt_ts()
    pinned_at: datetime | None = _opt_ts()

    __table_args__ = (sa.Index("ix_conversation_members_user", "user_id", "left_at"),)


class Message(SQLModel, table=True):
    __tablename__ = "messages"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=ID, ondelete="CASCADE")
    seq: int
    sender_id: str | None = Field(default=None, foreign_key="users.id", max_length=ID, ondelete="SET NULL")
    content: str = Field(sa_type=sa.Text)
    content_type: str = Field(default="text", max_length=16)  # text | image | file | audio | system
    reply_to_id: str | None = Field(default=None, foreign_key="messages.id", max_length=ID, ondelete="SET NULL")
    temp_id: str | None = Field(default=None, max_length=128)
    is_edited: bool = Field(default=False)
    is_deleted: bool = Field(default=False)
    # What search matches: domain/search.py: search_text(content, attachment names), written
    # with every change of the content or attachments ("" once deleted). Indexed by pg_trgm
    # on Postgres and by the messages_fts FTS5 table (kept in step by triggers) on SQLite;
    # both are created by the 0003 migration, not declared here.
    search_text: str = Field(default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""})
    edited_at: datetime | None = _opt_ts()
    deleted_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # Derived from content when it is stored or edited (domain/formatting.py: render), so
    # reading history renders nothing. NULL on rows older than them: rendered when served.
    content_html: str | None = Field(default=None, sa_type=sa.Text)
    snippet: str | None = Field(default=None, sa_type=sa.Text)
    # Who the message mentions (member ids, fixed when it is stored: renames cannot break
    # them), and @everyone. message_mentions holds the same per mentioned member, for counts.
    mentions: list[str] | None = Field(default=None, sa_type=sa.JSON)
    mentions_everyone: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # A group notice's structured data (content_type "system", domain/notices.py).
    notice: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)

    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        # A retry with the same client tempId can never create a second message.
        sa.UniqueConstraint("conversation_id", "sender_id", "temp_id", name="uq_messages_temp_id"),
        # A member's unread count is last_seq - last_read_seq minus the deleted messages and
        # their own above the position (conversations.unread_count_expr): two probes of these.
        sa.Index("ix_messages_conversation_deleted_seq", "conversation_id", "is_deleted", "seq"),
        sa.Index("ix_messages_conversation_sender_seq", "conversation_id", "sender_id", "seq"),
    )


class Reaction(SQLModel, table=True):
    __tablename__ = "reactions"

    message_id: str = Field(foreign_key="messages.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    emoji: str = Field(primary_key=True, max_length=64)
    created_at: datetime = _ts()


class Attachment(SQLModel, table=True):
    """A link attachment of a message, or an upload (a file in our storage: storage_key set).

    An upload lives here from the moment it is stored: first unattached (message_id and
    conversation_id NULL, expires_at set), then attached once — to a message (message_id and
    its conversation_id) or as a group's avatar (conversation_id only); attaching clears
    expires_at. Who may download it follows from conversation_id alone (its members), or
    before it is attached from uploader_id. A row whose expires_at has passed is gone for
    everyone: the sweeper deletes it and its blobs (deleting a message expires its uploads
    at once).
    """

    __tablename__ = "attachments"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID)
    message_id: str | None = Field(
        default=None, foreign_key="messages.id", max_length=ID, index=True, ondelete="CASCADE"
    )
    uploader_id: str | None = Field(default=None, foreign_key="users.id", max_length=ID, ondelete="SET NULL")
    url: str = Field(max_length=2048)
    mime_type: str = Field(max_length=128)
    name: str | None = Field(default=None, max_length=255)
    size: int | None = None
    position: int = Field(default=0)
    created_at: datetime = _ts()
    # Uploads only (NULL for link attachments):
    conversation_id: str | None = Field(default=None, foreign_key="conversations.id", max_length=ID, index=True,
                                        ondelete="CASCADE")
    storage_key: str | None = Field(default=None, max_length=128)
    thumbnail_key: str | None = Field(default=None, max_length=128)
    width: int | None = None
    height: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    expires_at: datetime | None = _opt_ts(index=True)


class ReadReceipt(SQLModel, table=True):
    """One row each time a member's read position moves forward (source of `readBy`)."""

    __tablename__ = "read_receipts"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=ID, ondelete="CASCADE")
    user_id: str = Field(foreign_key="users.id", max_length=ID, ondelete="CASCADE")
    up_to_seq: int
    read_at: datetime = _ts()
    # Read while the reader had read receipts turned off: never shown to anyone (their
    # reads from before stay visible, as in WhatsApp).
    hidden: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})

    __table_args__ = (
        sa.Index("ix_read_receipts_conversation_seq", "conversation_id", "up_to_seq"),
        # Each reader's first shown receipt above a history page (domain/history.py): one probe
        # per member, an index-only scan on Postgres (read_at included, hidden ones left out).
        sa.Index("ix_read_receipts_conversation_user_seq", "conversation_id", "user_id", "up_to_seq",
                 postgresql_include=["read_at"], postgresql_where=sa.text("NOT hidden"),
                 sqlite_where=sa.text("NOT hidden")),
    )


class MessageMention(SQLModel, table=True):
    """A member mentioned by a message (by name or through @everyone), so that a member's
    unread mentions (`unreadMentions`) are one index range: their mentions above their read
    position. Deleting the message deletes these."""

    __tablename__ = "message_mentions"

    message_id: str = Field(foreign_key="messages.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=ID, ondelete="CASCADE")
    conversation_id: str = Field(foreign_key="conversations.id", max_length=ID, ondelete="CASCADE")
    seq: int

    __table_args__ = (sa.Index("ix_message_mentions_member_seq", "conversation_id", "user_id", "seq"),)
