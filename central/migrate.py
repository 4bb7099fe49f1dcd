"""Schema migrations (Alembic), run from Python rather than an alembic.ini."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from central.database import Database, DatabaseError

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def head() -> str:
    """The newest revision this code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise DatabaseError("no migrations found")
    return revision


def current(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with db.engine.connect() as conn:
        revision: str | None = MigrationContext.configure(conn).get_current_revision()
        return revision


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run on an up-to-date database."""
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    log.info("database %s at revision %s", db.url.render_as_string(hide_password=True),
             current(db))


def require_current(db: Database) -> None:
    """Raises DatabaseError unless the schema is at the newest revision."""
    at, want = current(db), head()
    if at != want:
        raise DatabaseError(f"the database is at revision {at or 'none (empty)'}, this server "
                            f"needs {want}: run `sallyport central migrate`")
