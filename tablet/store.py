"""The tablet's store of what it synced: records, blobs and drafts waiting to
go up, sealed at rest under a key from the tablet's secure element, durable
before the kiosk hears of it, and applied idempotently. docs/tablet.md ("The
store") says what is sealed, what a copy shows, and what a new owner finds."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.local_db import LocalDatabase
from device_security.at_rest import (
    SealedBlobReader,
    SealedBlobWriter,
    Sealer,
    read_layout,
)
from device_security.errors import IntegrityError
from sync.frames import MAX_RECORD_BODY, OutboxItem, Record
from sync.receipts import delivery_fields, draft_fields, request_fields, statement_bytes
from sync.session import BlobMismatchError

FORMAT = 2
MAX_PARTIALS = 64  # what a Welcome frame may list

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, tag TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    tag TEXT PRIMARY KEY, kind_tag TEXT NOT NULL, seq INTEGER NOT NULL, sealed BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_kind ON items (kind_tag, seq);
CREATE TABLE IF NOT EXISTS blobs (
    name TEXT PRIMARY KEY, sealed BLOB NOT NULL, size INTEGER NOT NULL,
    stored_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    uid TEXT PRIMARY KEY, sealed BLOB NOT NULL, signature BLOB NOT NULL,
    created_at INTEGER NOT NULL, handed_at INTEGER);
"""


class StoreError(Exception):
    """The store cannot be used: made by another version, or under another key."""


@dataclass(frozen=True)
class Draft:
    """A resident's message written on the tablet; ``handed_at`` is when a
    kiosk took it (None while it waits for a dock)."""

    uid: str
    contact: int
    body: str
    created_at: int
    handed_at: int | None
    resident: str  # whom it was written for


@dataclass(frozen=True)
class RequestDraft:
    """An essential request written on the tablet; ``handed_at`` is when a
    kiosk took it (None while it waits for a dock)."""

    uid: str
    type: str
    body: str
    created_at: int
    handed_at: int | None
    resident: str


class TabletStore:
    """One tablet's synced content. Opening creates what is missing; raises
    StoreError for a store this version or this key cannot read."""

    def __init__(self, directory: Path, *, serial: str, sign: Callable[[bytes], bytes],
                 sealer: Sealer, firmware: str = "1.0.0") -> None:
        self.directory = directory
        self.serial = serial
        self.firmware = firmware
        self._sign = sign
        self._sealer = sealer
        self._blobs = directory / "blobs"
        self._partial = self._blobs / "partial"
        self._partial.mkdir(parents=True, exist_ok=True)
        self.local = LocalDatabase(directory / "store.db", _SCHEMA)
        self._rows = self.local.rows
        self._value = self.local.value
        self._complete: tuple[int, list[bytes]] | None = None  # see complete_blobs
        self._check_format()
        if self._value("SELECT value FROM meta WHERE key = 'wiping'"):
            self._finish_wipe()  # a wipe for a new owner was cut short

    def _check_format(self) -> None:
        with self.local.transaction() as conn:
            rows = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchall()
            if not rows:
                check = self._sealer.seal(b"sallyport tablet store", b"store check")
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?)", [FORMAT])
                conn.execute("INSERT INTO meta (key, value) VALUES ('check', ?)", [check])
                return
        if rows[0][0] != FORMAT:
            raise StoreError(f"{self.directory} holds a store of format {rows[0][0]}; "
                             f"this version reads format {FORMAT}")
        try:
            self._sealer.open(bytes(self._value("SELECT value FROM meta WHERE key = 'check'")),
                              b"store check")
        except (IntegrityError, TypeError) as e:
            raise StoreError(f"{self.directory} was sealed under another key") from e

    def close(self) -> None:
        self.local.close()

    def _tag(self, *parts: str) -> str:
        return self._sealer.name("\0".join(parts))

    # -- the owner -------------------------------------------------------------------

    def owner(self) -> str | None:
        """The agency ID of the resident this content was synced for."""
        sealed = self._value("SELECT value FROM meta WHERE key = 'owner'")
        return self._sealer.open(bytes(sealed), b"owner").decode() if sealed else None

    def set_owner(self, agency_id: str) -> bool:
        """Record who this tablet now belongs to. If that is not who the content
        was synced for, every record and blob is wiped first (drafts stay:
        they go up at the dock, for the central server to judge). Returns
        whether anything was wiped."""
        if self.owner() == agency_id:
            return False
        with self.local.transaction() as conn:
            had = conn.execute("SELECT (SELECT count(*) FROM items) + "
                               "(SELECT count(*) FROM blobs)").fetchone()[0]
            for table in ("records", "items", "blobs"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            conn.execute("DELETE FROM outbox WHERE handed_at IS NOT NULL")
            conn.execute("DELETE FROM meta WHERE key = 'cursor'")
            conn.execute("INSERT INTO meta (key, value) VALUES ('owner', ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value",
                         [self._sealer.seal(agency_id.encode(), b"owner")])
            # Until the files are gone too: a store opened after a kill finishes the wipe.
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('wiping', 1)")
        self._complete = None
        self._finish_wipe()
        return bool(had)

    def _finish_wipe(self) -> None:
        for directory in (self._blobs, self._partial):
            for path in directory.iterdir():
                if path.is_file():
                    path.unlink()
        with self.local.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = 'wiping'")

    def remember(self, name: str, value: Any) -> None:
        """Keep a setting a kiosk handed over (say, the stamp price), sealed."""
        sealed = self._sealer.seal(json.dumps(value).encode(), b"setting " + name.encode())
        with self.local.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", ["setting:" + name, sealed])

    def recall(self, name: str, default: Any = None) -> Any:
        sealed = self._value("SELECT value FROM meta WHERE key = ?", ["setting:" + name])
        if sealed is None:
            return default
        return json.loads(self._sealer.open(bytes(sealed), b"setting " + name.encode()))

    # -- the feed ------------------------------------------------------------------

    def cursor(self) -> int:
        return int(self._value("SELECT value FROM meta WHERE key = 'cursor'") or 0)

    def apply_records(self, records: Sequence[Record], through: int) -> int:
        """Apply a batch in one transaction; returns the cursor after it."""
        came_back: list[list[str]] = []
        with self.local.transaction() as conn:
            for r in records:
                tag = self._tag("item", r.kind, r.ref)
                if not conn.execute("INSERT OR IGNORE INTO records (seq, tag) VALUES (?, ?)",
                                    [r.seq, tag]).rowcount:
                    continue  # applied before
                content = json.dumps({"kind": r.kind, "ref": r.ref, "body": r.body},
                                     separators=(",", ":"), default=_bytes_as_hex)
                conn.execute(
                    "INSERT INTO items (tag, kind_tag, seq, sealed) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tag) DO UPDATE SET seq = excluded.seq, "
                    "sealed = excluded.sealed WHERE excluded.seq > items.seq",
                    [tag, self._tag("kind", r.kind), r.seq,
                     self._sealer.seal(content.encode(), b"item " + tag.encode())])
                uid = r.body.get("uid") if r.kind == "message" else None
                if isinstance(uid, str):
                    came_back.append([uid])
            # A draft that came back down as a message is shown from the feed now.
            conn.executemany("DELETE FROM outbox WHERE uid = ? AND handed_at IS NOT NULL",
                             came_back)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('cursor', ?) ON CONFLICT (key) "
                "DO UPDATE SET value = max(value, excluded.value)", [through])
        return self.cursor()

    def items(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The latest record of each (kind, ref), oldest first. Raises
        IntegrityError for a row that was altered."""
        sql = "SELECT tag, seq, sealed FROM items"
        rows = self._rows(sql + " WHERE kind_tag = ? ORDER BY seq", [self._tag("kind", kind)]) \
            if kind else self._rows(sql + " ORDER BY seq")
        out = []
        for tag, seq, sealed in rows:
            content = json.loads(self._sealer.open(bytes(sealed), b"item " + tag.encode()))
            out.append({"kind": content["kind"], "ref": content["ref"], "seq": seq,
                        "body": content["body"]})
        return out

    def record_count(self) -> int:
        return int(self._value("SELECT count(*) FROM records"))

    # -- blobs ----------------------------------------------------------------------

    def _blob_name(self, sha: bytes) -> str:
        return self._tag("blob", sha.hex())

    def complete_blobs(self) -> list[bytes]:
        """The hashes of the blobs held whole, sorted. Opened once and kept
        until the table changes (here, or by another process: SQLite's
        data_version), so a dock with nothing new costs no decryption."""
        version = self._value("PRAGMA data_version")
        cached = self._complete
        if cached is not None and cached[0] == version:
            return list(cached[1])
        shas = sorted(self._sealer.open(bytes(sealed), b"blob " + name.encode())
                      for name, sealed in self._rows("SELECT name, sealed FROM blobs"))
        self._complete = (version, shas)
        return list(shas)

    def has_blob(self, sha: bytes) -> bool:
        return self._value("SELECT 1 FROM blobs WHERE name = ?", [self._blob_name(sha)]) == 1

    def open_blob(self, sha: bytes) -> SealedBlobReader:
        """A complete blob, to read and seek like a file (the caller closes it).
        Raises KeyError when it is not here, IntegrityError when it was altered."""
        if not self.has_blob(sha):
            raise KeyError(sha.hex())
        try:
            return SealedBlobReader(self._blobs / self._blob_name(sha), self._sealer, sha)
        except FileNotFoundError as e:
            raise KeyError(sha.hex()) from e

    def read_blob(self, sha: bytes) -> bytes:
        """A complete blob's bytes (for photos: small). Raises as open_blob."""
        with self.open_blob(sha) as reader:
            return reader.read()

    def blob_bytes(self) -> int:
        """Bytes of the blobs held whole (for the storage screen)."""
        return int(self._value("SELECT coalesce(sum(size), 0) FROM blobs"))

    def held_bytes(self) -> int:
        """Bytes of blobs made durable: those held whole and the parts of the others."""
        return self.blob_bytes() + sum(size for _, size in self.partials())

    def partials(self) -> list[tuple[bytes, int]]:
        """Blobs received in part and how many bytes of each are durable (newest first).
        A partial file that does not open is left out (and is replaced if its blob
        comes again)."""
        found = []
        for path in self._partial.iterdir():
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                layout = read_layout(fd, path.name, self._sealer)
                mtime = os.fstat(fd).st_mtime
            except IntegrityError:
                continue
            finally:
                os.close(fd)
            if self._blob_name(layout.sha) == path.name:
                found.append((mtime, layout.sha, layout.durable))
        found.sort(reverse=True)
        return [(sha, size) for _, sha, size in found[:MAX_PARTIALS]]

    def begin_blob(self, sha: bytes, size: int, offset: int) -> BlobSink:
        """Start (or resume at ``offset``) receiving a blob. Raises BlobMismatchError
        when ``offset`` is more than this tablet holds of it. One blob at a time."""
        return BlobSink(self, sha, size, offset)

    def _stored(self, sha: bytes, size: int) -> None:
        name = self._blob_name(sha)
        with self.local.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO blobs (name, sealed, size, stored_at) "
                         "VALUES (?, ?, ?, ?)",
                         [name, self._sealer.seal(sha, b"blob " + name.encode()), size,
                          int(time.time())])
        self._complete = None  # after the commit: no reader can keep the list from before

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
            conn.execute("INSERT INTO outbox (uid, sealed, signature, created_at) "
                         "VALUES (?, ?, ?, ?)",
                         [uid, self._seal_draft(uid, content), signature, int(time.time())])
        return uid

    def write_request(self, *, resident: str, type_: str, body: str) -> str:
        """An essential request (medical, grievance, prea, legal, records) the
        resident wrote here, signed with the device key; it goes up at the
        next dock through the kiosk's outbox, where the server gives it its
        receipt number."""
        written_at = int(time.time())
        content = {"resident": resident, "type": type_, "body": body,
                   "written_at": written_at}
        if not body.strip() or len(json.dumps(content).encode()) > MAX_RECORD_BODY // 2:
            raise ValueError("a request is 1 character or more, and not too long")
        uid = "r-" + secrets.token_urlsafe(18)
        signature = self.sign("request", request_fields(
            serial=self.serial, uid=uid, resident=resident, type_=type_, body=body,
            written_at=written_at))
        with self.local.transaction() as conn:
            conn.execute("INSERT INTO outbox (uid, sealed, signature, created_at) "
                         "VALUES (?, ?, ?, ?)",
                         [uid, self._seal_draft(uid, {"statement": "request", **content}),
                          signature, written_at])
        return uid

    def _seal_draft(self, uid: str, content: Mapping[str, Any]) -> bytes:
        return self._sealer.seal(json.dumps(dict(content)).encode(), b"draft " + uid.encode())

    def _draft_content(self, uid: str, sealed: bytes) -> dict[str, Any]:
        content: dict[str, Any] = json.loads(self._sealer.open(sealed, b"draft " + uid.encode()))
        return content

    def outbox_count(self) -> int:
        """Drafts waiting for a kiosk."""
        return int(self._value("SELECT count(*) FROM outbox WHERE handed_at IS NULL"))

    def outbox_items(self, limit: int) -> list[OutboxItem]:
        """The drafts waiting for a kiosk, oldest first, as the session sends them."""
        rows = self._rows("SELECT uid, sealed, signature FROM outbox WHERE handed_at IS NULL "
                          "ORDER BY created_at, uid LIMIT ?", [limit])
        items = []
        for u, s, sig in rows:
            content = self._draft_content(u, bytes(s))
            kind = str(content.pop("statement", "draft"))
            items.append(OutboxItem(u, kind, content, bytes(sig)))
        return items

    def outbox_handed(self, uids: Iterable[str]) -> None:
        """A kiosk took these drafts (it answered for them): they no longer go
        up, and are shown as sent until they come back down."""
        now = int(time.time())
        with self.local.transaction() as conn:
            conn.executemany("UPDATE outbox SET handed_at = ? WHERE uid = ? "
                             "AND handed_at IS NULL", [[now, u] for u in uids])

    def drafts(self) -> Iterator[Draft]:
        """Every draft still here, waiting or handed, oldest first."""
        for uid, sealed, created, handed in self._rows(
                "SELECT uid, sealed, created_at, handed_at FROM outbox ORDER BY created_at, uid"):
            content = self._draft_content(uid, bytes(sealed))
            if content.get("statement") == "request":
                continue  # an essential request, not a message
            yield Draft(uid, int(content.get("contact", 0)), str(content.get("body", "")),
                        int(created), handed, str(content.get("resident", "")))

    def request_drafts(self) -> Iterator[RequestDraft]:
        """Every essential request written here, waiting or handed, oldest first."""
        for uid, sealed, created, handed in self._rows(
                "SELECT uid, sealed, created_at, handed_at FROM outbox ORDER BY created_at, uid"):
            content = self._draft_content(uid, bytes(sealed))
            if content.get("statement") != "request":
                continue
            yield RequestDraft(uid, str(content.get("type", "")), str(content.get("body", "")),
                               int(created), handed, str(content.get("resident", "")))

    # -- signing ---------------------------------------------------------------------

    def sign(self, kind: str, fields: Mapping[str, Any]) -> bytes:
        return self._sign(statement_bytes(kind, fields))

    def delivery_receipt(self, sha: bytes) -> tuple[dict[str, Any], bytes] | None:
        """The signed statement that this tablet holds the whole file ``sha`` for
        its owner, naming the owner and their entitlements to that file (the
        receipt a purchase is verified by): its fields and signature. None
        when there is nothing to sign for: no owner yet, the file not whole
        here, or no live entitlement of the owner's for it (a message's photo,
        say)."""
        owner = self.owner()
        if owner is None or not self.has_blob(sha):
            return None
        ids = [int(e["body"]["entitlement_id"]) for e in self.items("entitlement")
               if e["body"].get("sha256") == sha.hex()
               and e["body"].get("state") != "refunded"
               and isinstance(e["body"].get("entitlement_id"), int)]
        if not ids:
            return None
        fields = delivery_fields(serial=self.serial, owner=owner, sha=sha, entitlements=ids)
        return fields, self.sign("delivery", fields)


class BlobSink:
    """One blob being received: each write is durable before it returns."""

    def __init__(self, store: TabletStore, sha: bytes, size: int, offset: int) -> None:
        self._store = store
        self.sha = sha
        self.size = size
        self._path = store._partial / store._blob_name(sha)
        self._hash = hashlib.sha256()
        writer: SealedBlobWriter | None = None
        if offset:
            try:
                writer, held = SealedBlobWriter.resume(self._path, store._sealer)
                if writer.sha != sha or writer.size != size:
                    raise BlobMismatchError(f"the partial file of {sha.hex()[:12]} is of "
                                            f"another blob")
                for segment in held:
                    self._hash.update(segment)
            except (FileNotFoundError, IntegrityError) as e:
                if writer is not None:
                    writer.close()
                # A damaged partial file is let go: the next dock starts it afresh.
                self._path.unlink(missing_ok=True)
                raise BlobMismatchError(f"asked to resume {sha.hex()[:12]} at {offset}, "
                                        f"but its partial file does not open ({e})") from e
            except BaseException:
                if writer is not None:
                    writer.close()
                raise
            if offset != writer.position:
                have = writer.position
                writer.close()
                raise BlobMismatchError(f"asked to resume {sha.hex()[:12]} at {offset}, "
                                        f"but {have} bytes are here")
        else:
            writer = SealedBlobWriter.create(self._path, store._sealer, sha, size)
        self._writer = writer
        self.position = offset

    def write(self, offset: int, data: bytes) -> int:
        """Write at ``offset`` (which must be where the blob stands) and make it
        durable; returns how many bytes are durable."""
        if offset != self.position or self.position + len(data) > self.size:
            raise BlobMismatchError(f"a chunk of {self.sha.hex()[:12]} at {offset} "
                                    f"({len(data)} bytes) does not follow {self.position} "
                                    f"within {self.size}")
        self.position = self._writer.append(data)
        self._hash.update(data)
        return self.position

    def finish(self) -> None:
        """Check the bytes against the hash and move the blob into place; a blob
        whose bytes do not match is removed (BlobMismatchError)."""
        self.close()
        if self.position != self.size or self._hash.digest() != self.sha:
            self._path.unlink(missing_ok=True)
            raise BlobMismatchError(f"blob {self.sha.hex()} does not match its hash")
        target = self._store._blobs / self._path.name
        os.replace(self._path, target)
        _sync_directory(target.parent)
        self._store._stored(self.sha, self.size)

    def close(self) -> None:
        self._writer.close()


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
