"""beyond text: formatting and mentions on messages, group notices, user settings and last
seen, per-member mute and pin, hidden read receipts

Columns are added and dropped with plain ALTER TABLE, never by rebuilding a table on SQLite (which would lose
what SQLite cannot reflect: the users' expression index, triggers on messages).
Existing messages keep content_html/snippet NULL: they are rendered when served (none of
them can hold a mention: mentions did not exist).

Revision ID: 0004_beyond_text
Revises: 0003_search
Create Date: 2026-12-01
"""
import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "0004_beyond_text"
down_revision = "0003_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add = op.add_column
    add("users", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    add("users", sa.Column("show_last_seen", sa.Boolean(), server_default=sa.true(), nullable=False))
    add("users", sa.Column("read_receipts", sa.Boolean(), server_default=sa.true(), nullable=False))
    add("users", sa.Column("group_invites", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="friends",
                           nullable=False))
    add("users", sa.Column("notification_sound", sa.Boolean(), server_default=sa.true(), nullable=False))
    add("conversation_members", sa.Column("muted_until", sa.DateTime(timezone=True), nullable=True))
    add("conversation_members", sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True))
    add("messages", sa.Column("content_html", sa.Text(), nullable=True))
    add("messages", sa.Column("snippet", sa.Text(), nullable=True))
    add("messages", sa.Column("mentions", sa.JSON(), nullable=True))
    add("messages", sa.Column("mentions_everyone", sa.Boolean(), server_default=sa.false(), nullable=False))
    add("messages", sa.Column("notice", sa.JSON(), nullable=True))
    add("read_receipts", sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "message_mentions",
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "user_id"),
    )
    op.create_index("ix_message_mentions_member_seq", "message_mentions", ["conversation_id", "user_id", "seq"])


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild of the table on SQLite would
    # lose what it cannot reflect (users' expression index, triggers on messages).
    op.drop_index("ix_message_mentions_member_seq", table_name="message_mentions")
    op.drop_table("message_mentions")
    op.drop_column("read_receipts", "hidden")
    for column in ("notice", "mentions_everyone", "mentions", "snippet", "content_html"):
        op.drop_column("messages", column)
    op.drop_column("conversation_members", "pinned_at")
    op.drop_column("conversation_members", "muted_until")
    for column in ("notification_sound", "group_invites", "read_receipts", "show_last_seen", "last_seen_at"):
        op.drop_column("users", column)
