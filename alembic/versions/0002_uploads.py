"""uploads: files in our storage live in attachments (unattached until sent, then attached once)

Revision ID: 0002_uploads
Revises: 0001
Create Date: 2026-12-01 16:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002_uploads'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('storage_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column('thumbnail_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column('width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('height', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_attachments_conversation_id_conversations', 'conversations',
                                    ['conversation_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_attachments_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_expires_at'))
        batch_op.drop_index(batch_op.f('ix_attachments_conversation_id'))
        batch_op.drop_constraint('fk_attachments_conversation_id_conversations', type_='foreignkey')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('sha256')
        batch_op.drop_column('height')
        batch_op.drop_column('width')
        batch_op.drop_column('thumbnail_key')
        batch_op.drop_column('storage_key')
        batch_op.drop_column('conversation_id')
