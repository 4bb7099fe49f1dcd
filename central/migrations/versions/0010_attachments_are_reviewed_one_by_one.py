"""a held message's text and each attachment are decided one by one; uploads are counted per uploader

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stamps', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False,
                                      server_default='delivered'))
        batch_op.add_column(sa.Column('reason_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('reviewer_id', sa.BigInteger().with_variant(
            sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key('fk_attachments_reviewer_id_staff', 'staff',
                                    ['reviewer_id'], ['id'])
    # The attachments of held and rejected messages share their message's fate.
    op.execute("UPDATE attachments SET state = 'held' WHERE message_id IN "
               "(SELECT id FROM messages WHERE status = 'held')")
    op.execute("UPDATE attachments SET state = 'rejected', reason_code = (SELECT "
               "reason_code FROM messages WHERE messages.id = attachments.message_id) "
               "WHERE message_id IN (SELECT id FROM messages WHERE status = 'rejected')")
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_status', sa.String(length=16), nullable=False,
                                      server_default='open'))
        batch_op.add_column(sa.Column('text_reason_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('text_reviewer_id', sa.BigInteger().with_variant(
            sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('text_decided_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('translation', sa.Text(), nullable=True))
        batch_op.create_foreign_key('fk_holds_text_reviewer_id_staff', 'staff',
                                    ['text_reviewer_id'], ['id'])
    # A hold decided before now decided its text with the rest.
    op.execute("UPDATE holds SET text_status = status, text_reason_code = reason_code, "
               "text_reviewer_id = reviewer_id, text_decided_at = decided_at "
               "WHERE status <> 'open'")
    with op.batch_alter_table('blob_uploads', schema=None) as batch_op:
        batch_op.create_index('ix_blob_uploads_uploader', ['uploader'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('blob_uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_blob_uploads_uploader')
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_constraint('fk_holds_text_reviewer_id_staff', type_='foreignkey')
        batch_op.drop_column('translation')
        batch_op.drop_column('text_decided_at')
        batch_op.drop_column('text_reviewer_id')
        batch_op.drop_column('text_reason_code')
        batch_op.drop_column('text_status')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_constraint('fk_attachments_reviewer_id_staff', type_='foreignkey')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('reviewer_id')
        batch_op.drop_column('reason_code')
        batch_op.drop_column('state')
        batch_op.drop_column('stamps')
