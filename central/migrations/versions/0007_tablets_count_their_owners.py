"""tablets count the residents they were given to

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tablets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owners', sa.Integer(), server_default='0', nullable=False))
    # A tablet's owners so far, from the audit log of its assignments: every
    # assignment counts, which may count an owner twice but never too few.
    op.execute("UPDATE tablets SET owners = (SELECT count(*) FROM audit_log "
               "WHERE audit_log.action = 'tablet.assign' "
               "AND audit_log.target = 'tablet:' || tablets.serial)")


def downgrade() -> None:
    with op.batch_alter_table('tablets', schema=None) as batch_op:
        batch_op.drop_column('owners')
