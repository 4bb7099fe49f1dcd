"""tablets' sync counters as kiosks reported them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tablet_counters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('kiosk_id', sa.String(length=32), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('counter', sa.BigInteger(), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('reported_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_tablet_counters_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['serial'], ['tablets.serial'], name=op.f('fk_tablet_counters_serial_tablets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tablet_counters')),
    sa.UniqueConstraint('kiosk_id', 'uid', name=op.f('uq_tablet_counters_kiosk_id_uid'))
    )
    with op.batch_alter_table('tablet_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tablet_counters_serial_counter'), ['serial', 'counter'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tablet_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tablet_counters_serial_counter'))

    op.drop_table('tablet_counters')
