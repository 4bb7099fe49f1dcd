"""staff, tablets and audit entries belong to a facility (or to the agency); staff can be disabled

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='active'))
    # Staff of a facility belong to its agency; staff with none (made before facilities
    # were scoped) to the first agency, as agency administrators would.
    op.execute("UPDATE staff SET agency_id = (SELECT agency_id FROM facilities "
               "WHERE facilities.id = staff.facility_id) WHERE facility_id IS NOT NULL")
    op.execute("UPDATE staff SET agency_id = (SELECT min(id) FROM agencies) "
               "WHERE agency_id IS NULL")
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.alter_column('agency_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_foreign_key('fk_staff_agency_id_agencies', 'agencies', ['agency_id'],
                                    ['id'])
    with op.batch_alter_table('tablets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facility_id', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key('fk_tablets_facility_id_facilities', 'facilities',
                                    ['facility_id'], ['id'])
    op.execute("UPDATE tablets SET facility_id = (SELECT facility_id FROM residents "
               "WHERE residents.id = tablets.resident_id) WHERE resident_id IS NOT NULL")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facility_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('agency_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('agency_id')
        batch_op.drop_column('facility_id')
    with op.batch_alter_table('tablets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tablets_facility_id_facilities', type_='foreignkey')
        batch_op.drop_column('facility_id')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_constraint('fk_staff_agency_id_agencies', type_='foreignkey')
        batch_op.drop_column('status')
        batch_op.drop_column('agency_id')
