"""conversations without the index on last_activity_at: every send moves last_activity_at, and
an indexed column changed makes the row's update a non-HOT one (a new entry in each of the
table's four indexes, on every send: about 5 of a send's 17 WAL records). No query can use it:
a user's conversation list (domain/conversations.py: _conversation_rows) starts from the
user's memberships and orders by the member's pin first, with a total of all of them.
bench/throughput.py without it, side by side: see the README ("Fifth round").

Revision ID: 0007_no_activity_index
Revises: 0006_read_receipts_reader_index
Create Date: 2026-12-02
"""
from alembic import op

revision = "0007_no_activity_index"
down_revision = "0006_read_receipts_reader_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_conversations_last_activity_at", table_name="conversations")


def downgrade() -> None:
    op.create_index("ix_conversations_last_activity_at", "conversations", ["last_activity_at"], unique=False)
