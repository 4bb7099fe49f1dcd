"""tickets past their deadline are credited once, as the agency's policy says

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lapsed_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('credit_cents', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('credit_cents')
        batch_op.drop_column('lapsed_at')
