"""the monthly report: purchases and tablets given are kept, postings name their owner, and a month's rows are found by time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'purchases',
        sa.Column('purchase_key', sa.String(length=128), nullable=False),
        sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('item_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('price_cents', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['catalog.id'],
                                name=op.f('fk_purchases_item_id_catalog')),
        sa.ForeignKeyConstraint(['resident_id'], ['residents.id'],
                                name=op.f('fk_purchases_resident_id_residents')),
        sa.PrimaryKeyConstraint('purchase_key', name=op.f('pk_purchases')))
    op.create_index(op.f('ix_purchases_created_at'), 'purchases', ['created_at'], unique=False)
    op.create_table(
        'tablet_issues',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('serial', sa.String(length=64), nullable=False),
        sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('facility_id', sa.String(length=32), nullable=False),
        sa.Column('price_cents', sa.BigInteger(), nullable=False),
        sa.Column('issued_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'],
                                name=op.f('fk_tablet_issues_facility_id_facilities')),
        sa.ForeignKeyConstraint(['resident_id'], ['residents.id'],
                                name=op.f('fk_tablet_issues_resident_id_residents')),
        sa.ForeignKeyConstraint(['serial'], ['tablets.serial'],
                                name=op.f('fk_tablet_issues_serial_tablets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tablet_issues')))
    op.create_index(op.f('ix_tablet_issues_issued_at'), 'tablet_issues', ['issued_at'],
                    unique=False)
    op.create_index(op.f('ix_messages_created_at_resident_id_status_stamps'), 'messages',
                    ['created_at', 'resident_id', 'status', 'stamps'], unique=False)
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=48), nullable=True))
        batch_op.create_index(batch_op.f('ix_ledger_transactions_created_at'), ['created_at'],
                              unique=False)
    # whose each posting made before was: the person whose accounts it touched
    op.execute("UPDATE ledger_transactions SET owner = (SELECT min(a.owner) "
               "FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id "
               "WHERE e.transaction_id = ledger_transactions.id)")
    # Purchases made before: one a purchase key, from its files. A key of several
    # files bought an album (the album its tracks belong to); one of a single file,
    # that file (an album of which one track was not owned yet counts as that song).
    op.execute(
        "INSERT INTO purchases (purchase_key, resident_id, item_id, kind, price_cents, "
        "created_at) SELECT e.purchase_key, MIN(e.resident_id), "
        "CASE WHEN COUNT(*) > 1 THEN COALESCE(MIN(c.album_id), MIN(e.item_id)) "
        "ELSE MIN(e.item_id) END, "
        "CASE WHEN COUNT(*) > 1 AND MIN(c.album_id) IS NOT NULL THEN 'album' "
        "ELSE MIN(c.kind) END, "
        "SUM(e.price_cents), MIN(e.created_at) "
        "FROM entitlements e JOIN catalog c ON c.id = e.item_id GROUP BY e.purchase_key")
    # Tablets held now, given at their last assignment in the audit log (the price
    # of tablets given before was not kept: they count as given free).
    op.execute(
        "INSERT INTO tablet_issues (serial, resident_id, facility_id, price_cents, issued_at) "
        "SELECT t.serial, r.id, r.facility_id, 0, (SELECT max(a.at) FROM audit_log a "
        "WHERE a.action = 'tablet.assign' AND a.target = 'tablet:' || t.serial) "
        "FROM tablets t JOIN residents r ON r.id = t.resident_id "
        "WHERE EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'tablet.assign' "
        "AND a.target = 'tablet:' || t.serial)")

def downgrade() -> None:
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_created_at'))
        batch_op.drop_column('owner')
    op.drop_index(op.f('ix_messages_created_at_resident_id_status_stamps'), table_name='messages')
    op.drop_index(op.f('ix_tablet_issues_issued_at'), table_name='tablet_issues')
    op.drop_table('tablet_issues')
    op.drop_index(op.f('ix_purchases_created_at'), table_name='purchases')
    op.drop_table('purchases')
