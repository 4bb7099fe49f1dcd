"""The device registry: which tablets exist, whose they are, and their sync counters.

The central server holds the authoritative registry; a kiosk keeps a copy.
This is the SQLite store both use for it. Counters only move up, and the
move is one compare-and-set, so two kiosks racing a cloned tablet cannot
both accept the same counter.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from device_security.errors import RegistryError


class TabletStatus(enum.StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    RELEASED = "released"
    RETIRED = "retired"


@dataclass(frozen=True)
class RegistryEntry:
    serial: str
    status: TabletStatus
    owner_id: str | None = None
    owner_name: str | None = None
    last_counter: int = 0
    certificate_fingerprint: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tablets (
    serial TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner_id TEXT,
    owner_name TEXT,
    last_counter INTEGER NOT NULL DEFAULT 0,
    certificate_fingerprint TEXT
);
"""


class Registry:
    """The registry in a SQLite file (WAL). The constructor does no I/O."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as e:
            raise RegistryError(f"cannot open the registry {self.path}: {e}") from e
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            yield db
        except sqlite3.Error as e:
            raise RegistryError(f"registry {self.path}: {e}") from e
        finally:
            db.close()

    def add(self, entry: RegistryEntry) -> None:
        """Add a tablet; raises RegistryError if its serial is registered already."""
        with self._db() as db:
            try:
                db.execute("INSERT INTO tablets VALUES (?, ?, ?, ?, ?, ?)",
                           (entry.serial, entry.status.value, entry.owner_id, entry.owner_name,
                            entry.last_counter, entry.certificate_fingerprint))
            except sqlite3.IntegrityError as e:
                raise RegistryError(f"tablet {entry.serial} is registered already") from e

    def get(self, serial: str) -> RegistryEntry | None:
        with self._db() as db:
            row = db.execute("SELECT serial, status, owner_id, owner_name, last_counter, "
                             "certificate_fingerprint FROM tablets WHERE serial = ?",
                             (serial,)).fetchone()
        if row is None:
            return None
        return RegistryEntry(row[0], TabletStatus(row[1]), row[2], row[3], row[4], row[5])

    def all(self) -> list[RegistryEntry]:
        with self._db() as db:
            serials = [r[0] for r in db.execute("SELECT serial FROM tablets ORDER BY serial")]
        return [e for s in serials if (e := self.get(s)) is not None]

    def _update(self, serial: str, sql: str, args: tuple[object, ...]) -> None:
        with self._db() as db:
            if db.execute(sql, (*args, serial)).rowcount != 1:
                raise RegistryError(f"no tablet {serial} in the registry")

    def assign(self, serial: str, owner_id: str, owner_name: str) -> None:
        self._update(serial, "UPDATE tablets SET owner_id = ?, owner_name = ? WHERE serial = ?",
                     (owner_id, owner_name))

    def set_status(self, serial: str, status: TabletStatus) -> None:
        self._update(serial, "UPDATE tablets SET status = ? WHERE serial = ?", (status.value,))

    def advance_counter(self, serial: str, counter: int) -> bool:
        """Record ``counter`` if it is higher than the last one; False if it is not."""
        with self._db() as db:
            cursor = db.execute("UPDATE tablets SET last_counter = ? "
                                "WHERE serial = ? AND last_counter < ?", (counter, serial, counter))
            return cursor.rowcount == 1

    def export(self) -> str:
        return json.dumps([e.__dict__ for e in self.all()], default=str, indent=2)
