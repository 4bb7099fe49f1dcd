"""The database: one engine, chosen by URL (SQLite by default, PostgreSQL at scale).

Writes run in :meth:`Database.write` transactions. On SQLite those begin
with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way;
on PostgreSQL, code that reads a row it is about to change locks it with
:func:`for_update`. Reads that need no lock use :meth:`Database.read`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, create_engine, event, pool
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from central.errors import CentralError

log = logging.getLogger(__name__)


class DatabaseError(CentralError):
    """The database URL is unusable, or the schema is not at the expected version."""

    status = 500
    code = "database_error"


def now() -> int:
    """Seconds since the epoch: how the central server stores every time."""
    return int(time.time())


class Database:
    """An engine with the central server's conventions. No I/O until first use."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as e:
            raise DatabaseError(f"not a database URL: {url!r}") from e
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise DatabaseError(f"the central server runs on SQLite or PostgreSQL, not "
                                f"{self.dialect}")
        if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here
            parsed = parsed.set(drivername="postgresql+psycopg")
        if self.dialect == "sqlite":
            self.engine: Engine = create_engine(
                parsed, echo=echo, poolclass=pool.QueuePool, pool_size=8, max_overflow=8,
                connect_args={"check_same_thread": False, "timeout": 30,
                              "isolation_level": None})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(parsed, echo=echo, pool_size=8, max_overflow=8,
                                        pool_pre_ping=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends and rolls back on an exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only view; on SQLite it takes no write lock."""
        with self.engine.connect() as plain:
            conn = plain.execution_options(sallyport_read=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("sallyport_read"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def for_update(query: Select[Any], *, of: Table | None = None) -> Select[Any]:
    """Lock the selected rows (of the table ``of`` only, in a join) until the
    transaction ends (a no-op on SQLite, where a write transaction already
    holds the database)."""
    return query.with_for_update(of=of) if of is not None else query.with_for_update()


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                  keys: Sequence[str]) -> None:
    """Insert rows, leaving any whose ``keys`` already exist as they are."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys)),
                     list(rows))
    else:
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys)),
                     list(rows))
