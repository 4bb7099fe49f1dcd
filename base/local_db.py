"""A local SQLite database for the kiosk's cache and the tablet's store:
sqlite-utils over one connection shared by the device's threads, WAL with
``synchronous=FULL`` (a commit is on disk before it returns), and explicit
transactions, so a batch is applied whole or not at all, even under kill -9
or power loss."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils


class LocalDatabase:
    def __init__(self, path: Path, schema: str) -> None:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.RLock()
        with self.transaction() as c:
            for statement in schema.split(";"):
                if statement.strip():
                    c.execute(statement)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed (and synced) when the block ends, rolled
        back if it raises."""
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.db.execute(sql, list(args)).fetchall())

    def value(self, sql: str, args: Sequence[Any] = ()) -> Any:
        rows = self.rows(sql, args)
        return rows[0][0] if rows else None
