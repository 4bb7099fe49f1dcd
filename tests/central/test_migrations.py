"""The Alembic migrations build exactly the tables central/schema.py declares,
on both databases, and running them again changes nothing."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from central import migrate
from central.database import Database, DatabaseError
from central.schema import metadata


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
