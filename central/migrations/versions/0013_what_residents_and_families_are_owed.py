"""what residents and families are owed: essential requests, attorneys and
privileged mail, releases, price changes with a second approval, public-domain
items, terms accepted

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attorneys',
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('bar_number', sa.String(length=32), nullable=False),
    sa.Column('jurisdiction', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_at', sa.BigInteger(), nullable=False),
    sa.Column('decided_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_attorneys_agency_id_agencies')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_attorneys_contact_id_contacts')),
    sa.ForeignKeyConstraint(['decided_by'], ['staff.id'], name=op.f('fk_attorneys_decided_by_staff')),
    sa.PrimaryKeyConstraint('contact_id', name=op.f('pk_attorneys')),
    sa.UniqueConstraint('jurisdiction', 'bar_number', name=op.f('uq_attorneys_jurisdiction_bar_number'))
    )
    op.create_table('price_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agency_id', sa.String(length=32), nullable=True),
    sa.Column('target', sa.String(length=48), nullable=False),
    sa.Column('old_value', sa.BigInteger(), nullable=False),
    sa.Column('new_value', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('proposed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('proposed_at', sa.BigInteger(), nullable=False),
    sa.Column('approved_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('approved_at', sa.BigInteger(), nullable=True),
    sa.Column('effective_at', sa.BigInteger(), nullable=False),
    sa.Column('applied_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_price_changes_agency_id_agencies')),
    sa.ForeignKeyConstraint(['approved_by'], ['staff.id'], name=op.f('fk_price_changes_approved_by_staff')),
    sa.ForeignKeyConstraint(['proposed_by'], ['staff.id'], name=op.f('fk_price_changes_proposed_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_changes'))
    )
    with op.batch_alter_table('price_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_changes_status_effective_at'), ['status', 'effective_at'], unique=False)

    op.create_table('essential_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('receipt', sa.String(length=24), nullable=False),
    sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('facility_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kiosk_id', sa.String(length=32), nullable=True),
    sa.Column('tablet_serial', sa.String(length=64), nullable=True),
    sa.Column('kiosk_reference', sa.String(length=48), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('written_at', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('due_at', sa.BigInteger(), nullable=False),
    sa.Column('escalated_at', sa.BigInteger(), nullable=True),
    sa.Column('resolved_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_essential_requests_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_essential_requests')),
    sa.UniqueConstraint('receipt', name=op.f('uq_essential_requests_receipt')),
    sa.UniqueConstraint('uid', name=op.f('uq_essential_requests_uid'))
    )
    with op.batch_alter_table('essential_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_essential_requests_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_essential_requests_status_due_at'), ['status', 'due_at'], unique=False)

    op.create_table('releases',
    sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('released_at', sa.BigInteger(), nullable=False),
    sa.Column('released_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('retain_until', sa.BigInteger(), nullable=False),
    sa.Column('claim_hash', sa.String(length=64), nullable=True),
    sa.Column('resident_contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('designee_contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payout_option', sa.String(length=32), nullable=True),
    sa.Column('payout_cents', sa.BigInteger(), nullable=True),
    sa.Column('payout_fee_cents', sa.BigInteger(), nullable=True),
    sa.Column('payout_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['designee_contact_id'], ['contacts.id'], name=op.f('fk_releases_designee_contact_id_contacts')),
    sa.ForeignKeyConstraint(['released_by'], ['staff.id'], name=op.f('fk_releases_released_by_staff')),
    sa.ForeignKeyConstraint(['resident_contact_id'], ['contacts.id'], name=op.f('fk_releases_resident_contact_id_contacts')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_releases_resident_id_residents')),
    sa.PrimaryKeyConstraint('resident_id', name=op.f('pk_releases'))
    )
    op.create_table('terms_acceptances',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kiosk_id', sa.String(length=32), nullable=True),
    sa.Column('accepted_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_terms_acceptances_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terms_acceptances')),
    sa.UniqueConstraint('resident_id', 'sha256', name=op.f('uq_terms_acceptances_resident_id_sha256'))
    )
    op.create_table('essential_request_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=48), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=4000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['essential_requests.id'], name=op.f('fk_essential_request_events_request_id_essential_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_essential_request_events'))
    )
    with op.batch_alter_table('essential_request_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_essential_request_events_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.add_column(sa.Column('license', sa.String(length=32), server_default='commercial', nullable=False))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal', sa.Boolean(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('legal')

    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.drop_column('license')

    with op.batch_alter_table('essential_request_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_essential_request_events_request_id'))

    op.drop_table('essential_request_events')
    op.drop_table('terms_acceptances')
    op.drop_table('releases')
    with op.batch_alter_table('essential_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_essential_requests_status_due_at'))
        batch_op.drop_index(batch_op.f('ix_essential_requests_resident_id'))

    op.drop_table('essential_requests')
    with op.batch_alter_table('price_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_changes_status_effective_at'))

    op.drop_table('price_changes')
    op.drop_table('attorneys')
