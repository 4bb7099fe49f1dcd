"""The Alembic migrations build exactly the tables central/schema.py declares,
on both databases, and running them again changes nothing."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, insert, select, table

from central import migrate
from central.database import Database, DatabaseError
from central.schema import (
    agencies,
    catalog,
    entitlements,
    facilities,
    metadata,
    purchases,
    residents,
    units,
)


def test_migrations_match_the_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert migrate.current(db) is None
        migrate.upgrade(db)
        migrate.upgrade(db)  # a second run is harmless
        assert migrate.current(db) == migrate.head()
        migrate.require_current(db)
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True}), metadata)
        assert differences == []
    finally:
        db.dispose()


def test_a_server_refuses_an_unmigrated_database(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(DatabaseError, match="sallyport central migrate"):
            migrate.require_current(db)
    finally:
        db.dispose()


@pytest.mark.parametrize(("url", "says"), [("not a url", "not a database URL"),
                                           ("mysql://x/y", "SQLite or PostgreSQL")])
def test_a_bad_url_is_a_clear_error(url: str, says: str) -> None:
    with pytest.raises(DatabaseError, match=says):
        Database(url)


def test_purchases_made_before_the_report_are_counted(database_url: str) -> None:
    """Migration 0008 makes one purchase row per purchase key from the files
    bought before it: an album's several files are one album."""
    db = Database(database_url)
    try:
        migrate.upgrade(db, "0007")
        with db.engine.begin() as conn:
            conn.execute(insert(agencies).values(id="WA", name="WA", working_language="en",
                                                 policy="{}", created_at=1))
            conn.execute(insert(facilities).values(id="F1", agency_id="WA", name="F",
                                                   staff_email="s@example.org"))
            conn.execute(insert(units).values(id="U1", facility_id="F1", name="U"))
            conn.execute(insert(residents).values(
                id=1, agency_id="1", agency="WA", name="R", facility_id="F1", unit_id="U1",
                language="en", status="active", pin_hash="x", pin_must_change=False,
                failed_logins=0, locked_until=0, created_at=1))
            # the catalog as it was at 0007: later columns are not there yet
            catalog_0007 = table("catalog", *(column(c.name) for c in catalog.columns
                                              if c.name != "license"))
            conn.execute(insert(catalog_0007), [
                {"id": i, "kind": k, "title": i, "artist": "A", "album_id": a, "label": "L",
                 "price_cents": 100, "blob_sha256": None, "duration_s": 1, "explicit": False,
                 "active": True}
                for i, k, a in (("al", "album", None), ("t1", "song", "al"),
                                ("t2", "song", "al"), ("s", "song", None))])
            conn.execute(insert(entitlements), [
                {"resident_id": 1, "item_id": item, "purchase_key": key, "price_cents": cents,
                 "state": "paid", "created_at": 5, "updated_at": 5}
                for key, item, cents in (("k1", "t1", 50), ("k1", "t2", 50), ("k2", "s", 129))])
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            rows = conn.execute(select(purchases.c.purchase_key, purchases.c.item_id,
                                       purchases.c.kind, purchases.c.price_cents)
                                .order_by(purchases.c.purchase_key)).all()
        assert [tuple(r) for r in rows] == [("k1", "al", "album", 100), ("k2", "s", "song", 129)]
    finally:
        db.dispose()
