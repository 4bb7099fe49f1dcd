"""The tablet's store of what it synced: records, blobs, drafts waiting to go up.

::

    store.db        SQLite (WAL, synchronous=FULL): meta, records, items, blobs, outbox
    blobs/<sha>     complete blobs, named by the SHA-256 of their bytes
    blobs/partial/  blobs received in part; their length is what is durable

Every change the kiosk is told about is durable first: a batch of records is
one transaction, committed (and synced) before the tablet acknowledges it; a
chunk of a blob is written and fsynced before its acknowledgement; a blob is
moved into place only when its bytes hash to its name. A kill at any point
leaves either the old state or the new one.

The feed is applied idempotently: a record already applied (by sequence) is
skipped, and ``items`` keeps the latest record for each (kind, ref), so a
message shows once however often it is sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sync.local_db import LocalDatabase
from sync.receipts import draft_fields, statement_bytes
from sync.session import BlobMismatchError
from sync.wire import MAX_RECORD_BODY, OutboxItem, Record

BLOCK = 1 << 20
MAX_PARTIALS = 64  # what a Welcome frame may list

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    kind TEXT NOT NULL, ref TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (kind, ref));
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    uid TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, signature BLOB NOT NULL,
    created_at INTEGER NOT NULL);
"""


class TabletStore:
    """One tablet's synced content. Opening creates what is missing."""

    def __init__(self, directory: Path, *, serial: str, sign: Callable[[bytes], bytes],
                 firmware: str = "1.0.0") -> None:
        self.directory = directory
        self.serial = serial
        self.firmware = firmware
        self._sign = sign
        self._blobs = directory / "blobs"
        self._partial = self._blobs / "partial"
        self._partial.mkdir(parents=True, exist_ok=True)
        self.local = LocalDatabase(directory / "store.db", _SCHEMA)
        self._rows = self.local.rows
        self._value = self.local.value

    def close(self) -> None:
        self.local.close()

    # -- the feed ------------------------------------------------------------------

    def cursor(self) -> int:
        return int(self._value("SELECT value FROM meta WHERE key = 'cursor'") or 0)

    def apply_records(self, records: Sequence[Record], through: int) -> int:
        """Apply a batch in one transaction; returns the cursor after it."""
        with self.local.transaction() as conn:
            for r in records:
                body = json.dumps(r.body, separators=(",", ":"), default=_bytes_as_hex)
                added = conn.execute(
                    "INSERT OR IGNORE INTO records (seq, kind, ref, body) VALUES (?, ?, ?, ?)",
                    [r.seq, r.kind, r.ref, body]).rowcount
                if added:
                    conn.execute(
                        "INSERT INTO items (kind, ref, seq, body) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (kind, ref) DO UPDATE SET seq = excluded.seq, "
                        "body = excluded.body WHERE excluded.seq > items.seq",
                        [r.kind, r.ref, r.seq, body])
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('cursor', ?) ON CONFLICT (key) "
                "DO UPDATE SET value = max(value, excluded.value)", [through])
        return self.cursor()

    def items(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The latest record of each (kind, ref), oldest first."""
        sql = "SELECT kind, ref, seq, body FROM items"
        rows = self._rows(sql + " WHERE kind = ? ORDER BY seq", [kind]) if kind \
            else self._rows(sql + " ORDER BY seq")
        return [{"kind": k, "ref": r, "seq": s, "body": json.loads(b)} for k, r, s, b in rows]

    def record_count(self) -> int:
        return int(self._value("SELECT count(*) FROM records"))

    # -- blobs ----------------------------------------------------------------------

    def complete_blobs(self) -> list[bytes]:
        return [bytes.fromhex(s) for (s,) in
                self._rows("SELECT sha256 FROM blobs ORDER BY sha256")]

    def blob_path(self, sha: bytes) -> Path:
        return self._blobs / sha.hex()

    def partials(self) -> list[tuple[bytes, int]]:
        """Blobs received in part and how many bytes of each are durable (newest first)."""
        found = []
        for path in self._partial.iterdir():
            try:
                sha = bytes.fromhex(path.name)
            except ValueError:
                continue
            if len(sha) == 32:
                stat = path.stat()
                found.append((stat.st_mtime, sha, stat.st_size))
        found.sort(reverse=True)
        return [(sha, size) for _, sha, size in found[:MAX_PARTIALS]]

    def begin_blob(self, sha: bytes, size: int, offset: int) -> BlobSink:
        """Start (or resume at ``offset``) receiving a blob. Raises BlobMismatchError
        when ``offset`` is more than this tablet holds of it. One blob at a time."""
        return BlobSink(self, sha, size, offset)

    def _stored(self, sha: bytes, size: int) -> None:
        with self.local.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO blobs (sha256, size, stored_at) "
                            "VALUES (?, ?, ?)", [sha.hex(), size, int(time.time())])

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.directory).free

    # -- the outbox ------------------------------------------------------------------

    def write_draft(self, *, resident: str, contact: int, body: str) -> str:
        """A resident's message, signed with the device key; it waits for a dock."""
        content = {"resident": resident, "contact": contact, "body": body, "attachments": []}
        if len(json.dumps(content).encode()) > MAX_RECORD_BODY // 2:
            raise ValueError("the draft is too long")
        uid = "d-" + secrets.token_urlsafe(18)
        signature = self.sign("draft", draft_fields(serial=self.serial, uid=uid, resident=resident,
                                                    contact=contact, body=body))
        with self.local.transaction() as conn:
            conn.execute("INSERT INTO outbox (uid, kind, body, signature, created_at) "
                            "VALUES (?, 'draft', ?, ?, ?)",
                            [uid, json.dumps(content), signature, int(time.time())])
        return uid

    def outbox_count(self) -> int:
        return int(self._value("SELECT count(*) FROM outbox"))

    def outbox_items(self, limit: int) -> list[OutboxItem]:
        rows = self._rows("SELECT uid, kind, body, signature FROM outbox "
                               "ORDER BY created_at, uid LIMIT ?", [limit])
        return [OutboxItem(u, k, json.loads(b), bytes(s)) for u, k, b, s in rows]

    def drop_outbox(self, uids: Iterable[str]) -> None:
        with self.local.transaction() as conn:
            conn.executemany("DELETE FROM outbox WHERE uid = ?", [[u] for u in uids])

    # -- signing ---------------------------------------------------------------------

    def sign(self, kind: str, fields: Mapping[str, Any]) -> bytes:
        return self._sign(statement_bytes(kind, fields))


class BlobSink:
    """One blob being received: each write is durable before it returns."""

    def __init__(self, store: TabletStore, sha: bytes, size: int, offset: int) -> None:
        self._store = store
        self.sha = sha
        self.size = size
        self._path = store._partial / sha.hex()
        have = self._path.stat().st_size if self._path.exists() else 0
        if offset > have:
            raise BlobMismatchError(f"asked to resume {sha.hex()[:12]} at {offset}, "
                                    f"but only {have} bytes are here")
        self._hash = hashlib.sha256()
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            os.truncate(self._fd, offset)
            left, at = offset, 0
            while left:
                block = os.pread(self._fd, min(BLOCK, left), at)
                if not block:
                    break
                self._hash.update(block)
                left -= len(block)
                at += len(block)
        except BaseException:
            self.close()
            raise
        self.position = offset

    def write(self, offset: int, data: bytes) -> int:
        """Write at ``offset`` (which must be where the blob stands) and make it
        durable; returns how many bytes are durable."""
        if offset != self.position or self.position + len(data) > self.size:
            raise BlobMismatchError(f"a chunk of {self.sha.hex()[:12]} at {offset} "
                                    f"({len(data)} bytes) does not follow {self.position} "
                                    f"within {self.size}")
        _write_all(self._fd, memoryview(data), offset)
        os.fdatasync(self._fd)
        self._hash.update(data)
        self.position += len(data)
        return self.position

    def finish(self) -> None:
        """Check the bytes against the hash and move the blob into place; a blob
        whose bytes do not match is removed (BlobMismatchError)."""
        self.close()
        if self.position != self.size or self._hash.digest() != self.sha:
            self._path.unlink(missing_ok=True)
            raise BlobMismatchError(f"blob {self.sha.hex()} does not match its hash")
        target = self._store.blob_path(self.sha)
        os.replace(self._path, target)
        _sync_directory(target.parent)
        self._store._stored(self.sha, self.size)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data = data[written:]
        offset += written


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _bytes_as_hex(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__}")
