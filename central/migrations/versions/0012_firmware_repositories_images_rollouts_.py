"""firmware: repositories, images, rollouts, reports and feature switches

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('firmware_images',
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('uploaded_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_firmware_images_agency_id_agencies')),
    sa.PrimaryKeyConstraint('agency_id', 'name', name=op.f('pk_firmware_images'))
    )
    with op.batch_alter_table('firmware_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firmware_images_sha256'), ['sha256'], unique=False)

    op.create_table('firmware_metadata',
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_firmware_metadata_agency_id_agencies')),
    sa.PrimaryKeyConstraint('agency_id', 'name', name=op.f('pk_firmware_metadata'))
    )
    op.create_table('feature_switches',
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('feature', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_feature_switches_agency_id_agencies')),
    sa.ForeignKeyConstraint(['updated_by'], ['staff.id'], name=op.f('fk_feature_switches_updated_by_staff')),
    sa.PrimaryKeyConstraint('agency_id', 'feature', name=op.f('pk_feature_switches'))
    )
    op.create_table('firmware_rollouts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('image', sa.String(length=128), nullable=False),
    sa.Column('facility_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.String(length=32), nullable=True),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('percent >= 0 AND percent <= 100', name=op.f('ck_firmware_rollouts_percent')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_firmware_rollouts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], name=op.f('fk_firmware_rollouts_created_by_staff')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_firmware_rollouts_facility_id_facilities')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_firmware_rollouts_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_rollouts'))
    )
    with op.batch_alter_table('firmware_rollouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firmware_rollouts_facility_id_state'), ['facility_id', 'state'], unique=False)

    op.create_table('firmware_reports',
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('slot', sa.String(length=1), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('root_version', sa.BigInteger(), nullable=False),
    sa.Column('kiosk_id', sa.String(length=32), nullable=False),
    sa.Column('facility_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.String(length=32), nullable=False),
    sa.Column('reported_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_firmware_reports_facility_id_facilities')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_firmware_reports_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_firmware_reports_unit_id_units')),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_firmware_reports'))
    )
    with op.batch_alter_table('firmware_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firmware_reports_facility_id'), ['facility_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('firmware_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firmware_reports_facility_id'))

    op.drop_table('firmware_reports')
    with op.batch_alter_table('firmware_rollouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firmware_rollouts_facility_id_state'))

    op.drop_table('firmware_rollouts')
    op.drop_table('feature_switches')
    op.drop_table('firmware_metadata')
    with op.batch_alter_table('firmware_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firmware_images_sha256'))

    op.drop_table('firmware_images')
