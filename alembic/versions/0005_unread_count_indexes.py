"""unread counts in two index probes per member: messages by (conversation, is_deleted, seq) and
by (conversation, sender, seq) (see conversations.unread_count_expr)

Revision ID: 0005_unread_count_indexes
Revises: 0004_beyond_text
Create Date: 2026-12-02
"""
from alembic import op

revision = "0005_unread_count_indexes"
down_revision = "0004_beyond_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_conversation_deleted_seq", "messages", ["conversation_id", "is_deleted", "seq"])
    op.create_index("ix_messages_conversation_sender_seq", "messages", ["conversation_id", "sender_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_messages_conversation_sender_seq", table_name="messages")
    op.drop_index("ix_messages_conversation_deleted_seq", table_name="messages")
