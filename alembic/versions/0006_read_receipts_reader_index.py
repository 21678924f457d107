"""read receipts by (conversation, reader, seq): a history page finds each reader's first
receipt above the page with one index probe per member, however far back the page is (see
domain/history.py); by (conversation, seq) alone it read every receipt above the page.
Only the shown (not hidden) receipts, with read_at on Postgres, so the probe is an index-only scan.

Revision ID: 0006_read_receipts_reader_index
Revises: 0005_unread_count_indexes
Create Date: 2026-12-02
"""
import sqlalchemy as sa

from alembic import op

revision = "0006_read_receipts_reader_index"
down_revision = "0005_unread_count_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only the receipts that are shown (not hidden), read_at included on Postgres: the probe
    # is an index-only scan. SQLite has partial indexes but no INCLUDE.
    op.create_index("ix_read_receipts_conversation_user_seq", "read_receipts",
                    ["conversation_id", "user_id", "up_to_seq"], postgresql_include=["read_at"],
                    postgresql_where=sa.text("NOT hidden"), sqlite_where=sa.text("NOT hidden"))


def downgrade() -> None:
    op.drop_index("ix_read_receipts_conversation_user_seq", table_name="read_receipts")
