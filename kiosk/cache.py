"""The kiosk's store-and-forward cache: what comes down from the central server
for this unit's residents, and what goes up from their tablets.

::

    cache.db        SQLite (WAL, synchronous=FULL), tables below
    blobs/<sha>     complete blobs (their bytes hash to their name)
    blobs/partial/<sha>  a download in progress (resumed with HTTP Range)

Sealed at rest as a tablet's store is (docs/security.md, "The kiosk's cache
at rest"), under a key derived from the kiosk's own key: every record's body,
the labels of files (they name family members), whose each tablet is, drafts
from tablets, letters (their text and their writer's session token), the
answers kept for while the server is away, and every file, in segments
(kiosk/cache_blobs.py). Each sealed value is bound to its row, so it cannot be
moved to another. What stays plain is what the cache is looked up by:
residents' and contacts' numbers, sequence numbers, kinds, references, blob
hashes and sizes, tablet serials, queue states and signatures.

Down: ``residents`` (feed cursor and head per resident), ``records`` (every
record of their feeds, so a replacement tablet restores from sequence 0),
``wanted`` (the blobs those records refer to, less refunded purchases),
``blobs``. Up: ``outbox`` (tablet-signed drafts), ``receipts`` (tablet-signed
deliveries) and ``counters`` (the sync counter of each pairing, under a uid
made here), each queued until the central server has taken it. Per tablet:
``tablets`` (whose it is) and ``delivered`` (the blobs it is known to hold:
the kiosk compares their digest with the tablet's, so an unchanged tablet
needs no inventory).

Each applied feed page, session batch or queue change is one transaction; a
kill -9 at any point leaves the cache as it was before or after it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from base.local_db import LocalDatabase
from device_security.at_rest import Sealer
from device_security.errors import IntegrityError
from device_security.secure_element import SecureElement
from kiosk.cache_blobs import BlobDownload, BlobFiles, check_name, is_sealed
from kiosk.records import AgencyPolicy, BadAnswer, parse
from sync import frames
from sync.errors import WireError
from sync.frames import OutboxItem, Record
from sync.session import Delivery, OfferedBlob

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS residents (
    id INTEGER PRIMARY KEY, cursor INTEGER NOT NULL DEFAULT 0, head INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS records (
    resident_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (resident_id, seq));
CREATE TABLE IF NOT EXISTS wanted (
    resident_id INTEGER NOT NULL, ref TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, label TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (resident_id, ref, sha256));
CREATE INDEX IF NOT EXISTS wanted_sha ON wanted (sha256);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, fetched_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tablets (
    serial TEXT PRIMARY KEY, resident_id INTEGER, resident_agency_id TEXT,
    status TEXT NOT NULL, last_sync_at INTEGER, cursor INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS delivered (
    serial TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (serial, sha256));
CREATE TABLE IF NOT EXISTS outbox (
    uid TEXT PRIMARY KEY, serial TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
    signature BLOB NOT NULL, received_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS receipts (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, serial TEXT NOT NULL, payload TEXT NOT NULL,
    received_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS letters (
    uid TEXT PRIMARY KEY, resident_id INTEGER NOT NULL, contact_id INTEGER NOT NULL,
    body TEXT NOT NULL, token TEXT NOT NULL, written_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS requests (
    uid TEXT PRIMARY KEY, resident_id INTEGER NOT NULL, type TEXT NOT NULL,
    body TEXT NOT NULL, token TEXT NOT NULL, reference TEXT NOT NULL,
    written_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS counters (
    uid TEXT PRIMARY KEY, serial TEXT NOT NULL, counter INTEGER NOT NULL,
    received_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
"""

FORMAT = "2"  # sealed; a cache of format 1 (plain, no format) is sealed when opened
QUEUED, SENT, REFUSED = "queued", "sent", "refused"
WAITING_LOGIN = "waiting_login"  # a letter whose writer's session ended before it went up
_QUEUE_KEYS = {"outbox": "uid", "receipts": "key", "counters": "uid", "letters": "uid",
               "requests": "uid"}
MAX_BLOB = frames.MAX_BLOB_SIZE
_HEX = frozenset("0123456789abcdef")


class CacheError(Exception):
    """Something from the central server that the cache cannot take, or a
    cache this version or this key cannot open."""


@dataclass(frozen=True)
class Pending:
    """An item waiting to go up to the central server."""

    key: str
    kind: str
    serial: str
    payload: dict[str, Any]
    attempts: int


class KioskCache:
    """The cache of one kiosk, sealed under ``sealer`` (the kiosk derives its
    key from its own device key: ``cache_sealer``). Safe to share between the
    kiosk's threads. Opening creates what is missing, and seals a cache kept
    in plain by an earlier version; raises CacheError for a cache sealed under
    another key or made by a later version."""

    def __init__(self, directory: Path, sealer: Sealer) -> None:
        self.directory = directory
        self.blob_dir = directory / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobFiles(self.blob_dir, sealer)
        self.blobs.make_directories()
        self.sealer = self._sealer = sealer
        self.local = LocalDatabase(directory / "cache.db", _SCHEMA)
        self._tx = self.local.transaction
        self._rows = self.local.rows
        # Held by whoever sends the queues up, so two senders never race one item.
        self.sending = threading.RLock()
        self._check_format()

    # -- sealing ----------------------------------------------------------------------------

    def _seal(self, text: str, context: str) -> bytes:
        return self._sealer.seal(text.encode(), context.encode())

    def _open(self, sealed: Any, context: str) -> str:
        """A sealed value's text. Raises CacheError for one that was altered or moved."""
        try:
            return self._sealer.open(bytes(sealed), context.encode()).decode()
        except (IntegrityError, TypeError, UnicodeDecodeError) as e:
            raise CacheError(f"a sealed value ({context.partition(' ')[0]}) does not open: "
                             "altered, moved, or sealed under another key") from e

    def _check_format(self) -> None:
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None:
                # An earlier version's plain cache, or a new one.
                sealed_some = _seal_plain_cache(conn, self)
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?), "
                             "('check', ?)", [FORMAT, self._seal("sallyport kiosk cache",
                                                                  "cache check").hex()])
        if row is None:
            if sealed_some:  # no plaintext left in free pages or the write-ahead log
                self.local.db.execute("VACUUM")
                self.local.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        if row[0] != FORMAT:
            raise CacheError(f"{self.directory} holds a cache of format {row[0]}; this "
                             f"version reads format {FORMAT}")
        check = self.meta("check") or ""
        try:
            self._sealer.open(bytes.fromhex(check), b"cache check")
        except (IntegrityError, ValueError) as e:
            raise CacheError(f"{self.directory} was sealed under another key") from e

    def keep(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key``, sealed (an answer kept for while the
        server is away: a resident's balances, their contacts' names)."""
        self.set_meta(key, self._seal(value, "kept " + key).hex())

    def kept(self, key: str) -> str | None:
        """What :meth:`keep` kept. Raises CacheError for a value that does not open."""
        sealed = self.meta(key)
        return None if sealed is None else self._open(bytes.fromhex(sealed), "kept " + key)

    def close(self) -> None:
        self.local.close()

    # -- down: feeds ----------------------------------------------------------------------

    def cursors(self) -> dict[int, int]:
        return {int(r): int(c) for r, c in self._rows("SELECT id, cursor FROM residents")}

    def set_residents(self, heads: Mapping[int, int]) -> None:
        """This unit's residents and their feed heads (from the central server)."""
        with self._tx() as conn:
            for resident, head in heads.items():
                conn.execute("INSERT INTO residents (id, head, updated_at) VALUES (?, ?, ?) "
                             "ON CONFLICT (id) DO UPDATE SET head = excluded.head, "
                             "updated_at = excluded.updated_at",
                             [resident, head, int(time.time())])

    def apply_feed(self, resident_id: int, head: int, records: Sequence[Any]) -> int:
        """Apply one page of a resident's feed in one transaction; returns the
        new cursor. Raises CacheError for a page that does not follow the cursor."""
        parsed = [_record(r) for r in records]
        with self._tx() as conn:
            row = conn.execute("SELECT cursor FROM residents WHERE id = ?",
                               [resident_id]).fetchone()
            cursor = int(row[0]) if row else 0
            for record in parsed:
                if record.seq <= cursor:
                    continue  # applied already
                if record.seq != cursor + 1:
                    raise CacheError(f"resident {resident_id}: record {record.seq} does not "
                                     f"follow {cursor}")
                conn.execute("INSERT INTO records (resident_id, seq, kind, ref, body) "
                             "VALUES (?, ?, ?, ?, ?)",
                             [resident_id, record.seq, record.kind, record.ref,
                              self._seal(json.dumps(record.body, separators=(",", ":")),
                                         _record_context(resident_id, record.seq))])
                _want(conn, self, resident_id, record)
                cursor = record.seq
            conn.execute("INSERT INTO residents (id, cursor, head, updated_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                         "cursor = excluded.cursor, head = max(residents.head, excluded.head), "
                         "updated_at = excluded.updated_at",
                         [resident_id, cursor, max(head, cursor), int(time.time())])
        return cursor

    # -- down: blobs ---------------------------------------------------------------------

    def missing_blobs(self, limit: int = 100) -> list[tuple[str, int]]:
        """Blobs the residents' records refer to that are not here yet, oldest first."""
        return [(s, int(n)) for s, n in self._rows(
            "SELECT sha256, max(size) FROM wanted WHERE sha256 NOT IN (SELECT sha256 FROM blobs)"
            " GROUP BY sha256 ORDER BY min(seq) LIMIT ?", [limit])]

    def blob_download(self, sha256: str, size: int) -> BlobDownload:
        """Where a download of blob ``sha256`` writes (the central client's sink),
        resumed after what an earlier one made durable. Raises CacheError for
        a name that is not a blob's."""
        try:
            return self.blobs.download(sha256, size)
        except ValueError as e:
            raise CacheError(str(e)) from e

    def has_blob(self, sha256: str) -> bool:
        """Whether blob ``sha256`` is here in full."""
        return bool(self._rows("SELECT 1 FROM blobs WHERE sha256 = ?", [sha256]))

    def blob_bytes(self, sha256: str) -> bytes:
        """A complete blob's bytes, opened in memory (a photo, a videogram).
        Raises CacheError when it is not here or does not open."""
        try:
            return self.blobs.read(check_name(sha256))
        except (OSError, ValueError, IntegrityError) as e:
            raise CacheError(f"blob {sha256[:12]} cannot be read here: {e}") from e

    def put_blob(self, sha256: str, data: bytes) -> None:
        """Keep a complete blob whose bytes are at hand (sealed) and record it.
        Raises CacheError when they do not hash to ``sha256``."""
        try:
            self.blobs.write(sha256, data)
        except ValueError as e:
            raise CacheError(str(e)) from e
        self.blob_fetched(sha256, len(data))

    def blob_fetched(self, sha256: str, size: int) -> None:
        """A blob is complete on disk (its bytes hash to its name)."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO blobs (sha256, size, fetched_at) "
                         "VALUES (?, ?, ?)", [sha256, size, int(time.time())])

    # -- tablets --------------------------------------------------------------------------

    def set_tablets(self, tablets: Sequence[Mapping[str, Any]]) -> None:
        """This unit's tablets (from the central server)."""
        with self._tx() as conn:
            for t in tablets:
                conn.execute("INSERT INTO tablets (serial, resident_id, resident_agency_id, "
                             "status) VALUES (?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET "
                             "resident_id = excluded.resident_id, resident_agency_id = "
                             "excluded.resident_agency_id, status = excluded.status",
                             [t["serial"], t.get("resident_id"),
                              self._seal_optional(t.get("resident_agency_id"),
                                                  "tablet " + str(t["serial"])),
                              t["status"]])

    def tablet(self, serial: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT serial, resident_id, resident_agency_id, status, "
                          "last_sync_at, cursor FROM tablets WHERE serial = ?", [serial])
        if not rows:
            return None
        keys = ("serial", "resident_id", "resident_agency_id", "status", "last_sync_at",
                "cursor")
        found = dict(zip(keys, rows[0], strict=True))
        if found["resident_agency_id"] is not None:
            found["resident_agency_id"] = self._open(found["resident_agency_id"],
                                                     "tablet " + serial)
        return found

    def _seal_optional(self, value: Any, context: str) -> bytes | None:
        return None if value is None else self._seal(str(value), context)

    def counter_accepted(self, serial: str, counter: int) -> str:
        """A pairing accepted tablet ``serial`` at sync ``counter``: queue it for
        the central server, under a uid made here (the report's id, so a
        retry is the same report). Returns the uid."""
        uid = secrets.token_urlsafe(16)
        with self._tx() as conn:
            conn.execute("INSERT INTO counters (uid, serial, counter, received_at, state) "
                         "VALUES (?, ?, ?, ?, ?)",
                         [uid, serial, counter, int(time.time()), QUEUED])
        return uid

    # -- the session's side (sync.session.KioskContent) -----------------------------------

    def records_after(self, resident_id: int, after: int, limit: int) -> list[Record]:
        return [Record(int(s), k, r, json.loads(self._open(b, _record_context(resident_id, s))))
                for s, k, r, b in self._rows(
                    "SELECT seq, kind, ref, body FROM records WHERE resident_id = ? AND seq > ? "
                    "ORDER BY seq LIMIT ?", [resident_id, after, limit])]

    def blobs_for(self, resident_id: int, serial: str) -> list[OfferedBlob]:
        """The resident's blobs that are here in full and that tablet ``serial``
        is not known to hold, in feed order."""
        return [OfferedBlob(bytes.fromhex(s), int(n), self._open(label, _label_context(
            resident_id, ref, s))) for s, n, ref, label, _ in self._rows(
            "SELECT w.sha256, w.size, w.ref, w.label, min(w.seq) AS first FROM wanted w "
            "JOIN blobs b ON b.sha256 = w.sha256 WHERE w.resident_id = ? AND w.sha256 NOT IN "
            "(SELECT sha256 FROM delivered WHERE serial = ?) "
            "GROUP BY w.sha256 ORDER BY first", [resident_id, serial])]

    def open_blob(self, sha: bytes) -> BinaryIO:
        """A complete blob, read and seeked like a file, opened a segment at a
        time (the sync session's reader). Raises FileNotFoundError, or
        IntegrityError (opening or reading) for a copy that was altered."""
        return self.blobs.open(sha.hex())

    def blob_damaged(self, sha: bytes) -> None:
        """A blob did not read back: it is forgotten, and the next round fetches it again."""
        with self._tx() as conn:
            conn.execute("DELETE FROM blobs WHERE sha256 = ?", [sha.hex()])
        self.blobs.delete(sha.hex())

    def delivered(self, serial: str) -> set[bytes]:
        return {bytes.fromhex(s) for (s,) in
                self._rows("SELECT sha256 FROM delivered WHERE serial = ?", [serial])}

    def replace_delivered(self, serial: str, shas: set[bytes]) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM delivered WHERE serial = ?", [serial])
            conn.executemany("INSERT INTO delivered (serial, sha256) VALUES (?, ?)",
                             [[serial, s.hex()] for s in shas])

    def store_outbox(self, serial: str, items: Sequence[OutboxItem]) -> None:
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO outbox (uid, serial, kind, body, signature, received_at,"
                " state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [[i.uid, serial, i.kind, self._seal(json.dumps(dict(i.body)), "draft " + i.uid),
                  i.signature, int(time.time()), QUEUED] for i in items])

    def records_delivered(self, serial: str, *, session: bytes, through: int,
                          batch_digest: bytes, receipt: bytes) -> None:
        payload = {"serial": serial, "session": _b64(session), "through": through,
                   "batch_digest": _b64(batch_digest), "signature": _b64(receipt)}
        with self._tx() as conn:
            conn.execute("UPDATE tablets SET cursor = max(cursor, ?), last_sync_at = ? "
                         "WHERE serial = ?", [through, int(time.time()), serial])
            self._queue_receipt(conn, f"records:{serial}", "records", serial, payload)

    def blob_delivered(self, serial: str, sha: bytes, receipt: bytes,
                       delivery: Delivery | None = None) -> None:
        """The tablet holds ``sha`` whole: queue its receipt for the central
        server, the delivery receipt naming the owner's entitlements when the
        file is a purchase's (it verifies them), the plain one otherwise."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO delivered (serial, sha256) VALUES (?, ?)",
                         [serial, sha.hex()])
            if delivery is not None:
                self._queue_receipt(conn, f"delivery:{serial}:{sha.hex()}", "delivery", serial, {
                    "serial": serial, "owner": delivery.owner, "sha256": sha.hex(),
                    "entitlements": list(delivery.entitlements),
                    "signature": _b64(delivery.signature)})
            else:
                self._queue_receipt(conn, f"blob:{serial}:{sha.hex()}", "blob", serial, {
                    "serial": serial, "sha256": sha.hex(), "signature": _b64(receipt)})

    @staticmethod
    def _queue_receipt(conn: sqlite3.Connection, key: str, kind: str, serial: str,
                       payload: Mapping[str, Any]) -> None:
        # One records receipt per tablet is enough: the latest supersedes the rest.
        conn.execute("INSERT INTO receipts (key, kind, serial, payload, received_at, state) "
                     "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                     "payload = excluded.payload, received_at = excluded.received_at, "
                     "state = excluded.state, attempts = 0, result = ''",
                     [key, kind, serial, json.dumps(payload), int(time.time()), QUEUED])

    def mark_synced(self, serial: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE tablets SET last_sync_at = ? WHERE serial = ?",
                         [int(time.time()), serial])

    # -- up: the queues ---------------------------------------------------------------------

    def pending_outbox(self, limit: int = 50) -> list[Pending]:
        return [Pending(uid, kind, serial, {"body": json.loads(self._open(body, "draft " + uid)),
                                            "signature": _b64(sig)},
                        int(n)) for uid, kind, serial, body, sig, n in self._rows(
            "SELECT uid, kind, serial, body, signature, attempts FROM outbox WHERE state = ? "
            "ORDER BY received_at, uid LIMIT ?", [QUEUED, limit])]

    def pending_receipts(self, limit: int = 100) -> list[Pending]:
        return [Pending(key, kind, serial, json.loads(payload), int(n))
                for key, kind, serial, payload, n in self._rows(
                    "SELECT key, kind, serial, payload, attempts FROM receipts WHERE state = ? "
                    "ORDER BY received_at LIMIT ?", [QUEUED, limit])]

    def pending_counters(self, limit: int = 100) -> list[Pending]:
        """Pairings' sync counters to report, in the order they were accepted."""
        return [Pending(uid, "counter", serial, {"counter": int(counter)}, int(n))
                for uid, serial, counter, n in self._rows(
                    "SELECT uid, serial, counter, attempts FROM counters WHERE state = ? "
                    "ORDER BY received_at, rowid LIMIT ?", [QUEUED, limit])]

    # -- letters: messages residents write at this kiosk ----------------------------------

    def queue_letter(self, uid: str, *, resident_id: int, contact_id: int, body: str,
                     token: str) -> None:
        """Keep a message written here until the central server has it (the same
        uid again changes nothing). ``token`` is the writer's session, to send it with."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO letters (uid, resident_id, contact_id, body, "
                         "token, written_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [uid, resident_id, contact_id, self._seal(body, "letter " + uid),
                          self._seal_token(uid, token), int(time.time()), QUEUED])

    def pending_letters(self, limit: int = 50, uid: str | None = None) -> list[Pending]:
        """Letters to send (``uid``: that one only, if it is waiting)."""
        rows = self._rows("SELECT uid, resident_id, contact_id, body, token, attempts "
                          "FROM letters WHERE state = ? AND (? IS NULL OR uid = ?) "
                          "ORDER BY written_at, uid LIMIT ?", [QUEUED, uid, uid, limit])
        return [Pending(u, "letter", "", {"resident_id": r, "contact_id": c,
                                          "body": self._open(b, "letter " + u),
                                          "token": self._open_token(u, t)}, int(n))
                for u, r, c, b, t, n in rows]

    def _seal_token(self, uid: str, token: str) -> bytes | str:
        """A writer's session token, sealed; '' (none) stays ''."""
        return self._seal(token, "letter token " + uid) if token else ""

    def _open_token(self, uid: str, sealed: Any) -> str:
        return self._open(sealed, "letter token " + uid) if sealed else ""

    def letters(self, resident_id: int, uid: str | None = None) -> list[dict[str, Any]]:
        """A resident's letters written here (``uid``: that one), oldest first,
        with their state."""
        return [{"uid": u, "contact_id": c, "body": self._open(b, "letter " + u),
                 "written_at": w, "state": s, "result": res} for u, c, b, w, s, res in self._rows(
            "SELECT uid, contact_id, body, written_at, state, result FROM letters "
            "WHERE resident_id = ? AND (? IS NULL OR uid = ?) ORDER BY written_at, uid",
            [resident_id, uid, uid])]

    def letter(self, resident_id: int, uid: str) -> dict[str, Any] | None:
        """One of a resident's letters; None if it is not theirs (or not here)."""
        found = self.letters(resident_id, uid)
        return found[0] if found else None

    def letter_waits_for_login(self, uid: str) -> None:
        """The writer's session ended before the letter went up: it waits for
        their next login here."""
        with self._tx() as conn:
            conn.execute("UPDATE letters SET state = ?, token = '', attempts = attempts + 1 "
                         "WHERE uid = ? AND state = ?", [WAITING_LOGIN, uid, QUEUED])

    def renew_letters(self, resident_id: int, token: str) -> int:
        """The resident logged in again: their waiting letters go with this session."""
        with self._tx() as conn:
            uids = [u for (u,) in conn.execute(
                "SELECT uid FROM letters WHERE resident_id = ? AND state IN (?, ?)",
                [resident_id, WAITING_LOGIN, QUEUED]).fetchall()]
            conn.executemany("UPDATE letters SET state = ?, token = ? WHERE uid = ?",
                             [[QUEUED, self._seal_token(u, token), u] for u in uids])
            return len(uids)

    # -- essential requests filed at this kiosk --------------------------------------------

    def queue_request(self, uid: str, *, resident_id: int, type_: str, body: str, token: str,
                      reference: str) -> None:
        """Keep an essential request filed here until the central server has it
        (the same uid again changes nothing): its text and its writer's session
        sealed, the reference printed on its paper copy while the server is away."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO requests (uid, resident_id, type, body, token, "
                         "reference, written_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [uid, resident_id, type_, self._seal(body, "request " + uid),
                          self._seal(token, "request token " + uid) if token else "",
                          reference, int(time.time()), QUEUED])

    def pending_requests(self, limit: int = 50, uid: str | None = None) -> list[Pending]:
        """Requests to send (``uid``: that one only, if it is waiting)."""
        rows = self._rows("SELECT uid, resident_id, type, body, token, reference, written_at, "
                          "attempts FROM requests WHERE state = ? AND (? IS NULL OR uid = ?) "
                          "ORDER BY written_at, uid LIMIT ?", [QUEUED, uid, uid, limit])
        return [Pending(u, "request", "", {
            "resident_id": r, "type": ty, "body": self._open(b, "request " + u),
            "token": self._open(tok, "request token " + u) if tok else "",
            "reference": ref, "written_at": w}, int(n))
            for u, r, ty, b, tok, ref, w, n in rows]

    def requests_of(self, resident_id: int) -> list[dict[str, Any]]:
        """A resident's requests filed here, newest first, with their state;
        the text only while it waits to go up (once sent, the server holds it
        and nothing of it stays here)."""
        return [{"uid": u, "type": ty, "body": self._open(b, "request " + u) if b else "",
                 "reference": ref, "written_at": w, "state": s, "result": res}
                for u, ty, b, ref, w, s, res in self._rows(
                    "SELECT uid, type, body, reference, written_at, state, result FROM requests "
                    "WHERE resident_id = ? ORDER BY written_at DESC, uid", [resident_id])]

    def request_waits_for_login(self, uid: str) -> None:
        """The writer's session ended before the request went up: it waits for
        their next login here."""
        with self._tx() as conn:
            conn.execute("UPDATE requests SET state = ?, token = '', attempts = attempts + 1 "
                         "WHERE uid = ? AND state = ?", [WAITING_LOGIN, uid, QUEUED])

    def renew_requests(self, resident_id: int, token: str) -> int:
        """The resident logged in again: their waiting requests go with this session."""
        with self._tx() as conn:
            uids = [u for (u,) in conn.execute(
                "SELECT uid FROM requests WHERE resident_id = ? AND state IN (?, ?)",
                [resident_id, WAITING_LOGIN, QUEUED]).fetchall()]
            conn.executemany("UPDATE requests SET state = ?, token = ? WHERE uid = ?",
                             [[QUEUED, self._seal(token, "request token " + u), u]
                              for u in uids])
            return len(uids)

    def settle(self, table: str, key: str, state: str, result: str = "") -> None:
        """An item went up (``sent``), was refused for good (``refused``), or
        failed for now (``queued``, counted as an attempt). Only an item still
        queued changes: what went up stays up."""
        column = _QUEUE_KEYS.get(table)
        if column is None or state not in (QUEUED, SENT, REFUSED):
            raise ValueError(f"no queue {table} or state {state}")
        with self._tx() as conn:
            conn.execute(f"UPDATE {table} SET state = ?, result = ?, "  # noqa: S608 - checked above
                         f"attempts = attempts + 1 WHERE {column} = ? AND state = ?",
                         [state, result[:500], key, QUEUED])
            if table == "letters" and state != QUEUED:  # its session is no longer needed
                conn.execute("UPDATE letters SET token = '' WHERE uid = ? AND state != ?",
                             [key, QUEUED])
            if table == "requests" and state != QUEUED:  # nor its session, nor its words
                conn.execute("UPDATE requests SET token = '', body = '' WHERE uid = ? "
                             "AND state != ?", [key, QUEUED])

    # -- for technicians ----------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", [key, value])

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key])
        return str(rows[0][0]) if rows else None

    def set_agency_policy(self, policy: AgencyPolicy) -> None:
        """The agency's prices and tablet rules, as the last round brought them."""
        self.set_meta("agency_policy", json.dumps(dataclasses.asdict(policy), sort_keys=True))

    def agency_policy(self) -> AgencyPolicy:
        """What :meth:`set_agency_policy` kept; the defaults before the first round."""
        text = self.meta("agency_policy")
        try:
            return parse(AgencyPolicy, json.loads(text)) if text else AgencyPolicy()
        except (ValueError, BadAnswer):
            log.warning("the kept agency policy is damaged; the defaults hold until a round")
            return AgencyPolicy()

    def status(self) -> dict[str, Any]:
        """Queues and cursors, for ``sallyport sync status``."""
        def count(sql: str, *args: Any) -> int:
            return int(self._rows(sql, args)[0][0] or 0)

        queues = {}
        for table in _QUEUE_KEYS:
            states = (QUEUED, SENT, REFUSED, WAITING_LOGIN) if table in ("letters", "requests") \
                else (QUEUED, SENT, REFUSED)
            queues[table] = {state: count(f"SELECT count(*) FROM {table} WHERE state = ?",  # noqa: S608
                                          state) for state in states}
        return {
            "residents": [{"resident_id": r, "cursor": c, "head": h, "behind": h - c}
                          for r, c, h in self._rows(
                              "SELECT id, cursor, head FROM residents ORDER BY id")],
            "records": count("SELECT count(*) FROM records"),
            "blobs": {"complete": count("SELECT count(*) FROM blobs"),
                      "bytes": count("SELECT sum(size) FROM blobs"),
                      "missing": count("SELECT count(DISTINCT sha256) FROM wanted WHERE "
                                       "sha256 NOT IN (SELECT sha256 FROM blobs)")},
            "queues": queues,
            "tablets": [{"serial": s, "resident_id": r, "status": st, "cursor": c,
                         "last_sync_at": t} for s, r, st, c, t in self._rows(
                             "SELECT serial, resident_id, status, cursor, last_sync_at "
                             "FROM tablets ORDER BY serial")],
            "central": {"last_ok": self.meta("central_last_ok"),
                        "last_error": self.meta("central_last_error")},
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _record(raw: Any) -> Record:
    """A feed record from the central server, checked against the wire's rules
    (so it can go to a tablet as it is). A body the wire cannot carry is kept
    as readable text rather than dropped; a record without a sequence number is
    refused."""
    if not isinstance(raw, Mapping) or type(raw.get("seq")) is not int:
        raise CacheError(f"a feed record without a sequence number: {str(raw)[:80]}")
    seq = raw["seq"]
    kind, ref, body = raw.get("kind"), raw.get("ref"), raw.get("body")
    kind = kind if isinstance(kind, str) else "unreadable"
    ref = ref if isinstance(ref, str) else f"seq-{seq}"
    body = body if isinstance(body, Mapping) else {}
    record = Record(seq, kind, ref, body)
    try:
        frames.encode(frames.Records(0, (record,)))
    except WireError as e:
        log.warning("feed record %d cannot travel as it is (%s); kept as text", seq, e)
        record = Record(seq, "unreadable", f"seq-{seq}",
                        {"text": json.dumps(raw, default=str)[:16000]})
    return record


def _want(conn: sqlite3.Connection, cache: KioskCache, resident_id: int,
          record: Record) -> None:
    """Note the blobs a record refers to (or no longer does), each with the
    label a resident sees, sealed (it names the family member who sent it)."""
    body = record.body
    if record.kind == "message":
        for part in body.get("attachments") or ():
            blob = _blob_ref(part)
            if blob:
                ref = f"message:{record.ref}"
                label = f"{part.get('kind', 'file')} from {body.get('contact_name', '')}".strip()
                conn.execute("INSERT OR IGNORE INTO wanted VALUES (?, ?, ?, ?, ?, ?)",
                             [resident_id, ref, blob[0], blob[1], cache._seal(
                                 label[:100], _label_context(resident_id, ref, blob[0])),
                              record.seq])
    elif record.kind == "entitlement":
        ref = f"entitlement:{record.ref}"
        conn.execute("DELETE FROM wanted WHERE resident_id = ? AND ref = ?", [resident_id, ref])
        blob = _blob_ref(body)
        if blob and body.get("state") != "refunded":
            conn.execute("INSERT INTO wanted VALUES (?, ?, ?, ?, ?, ?)",
                         [resident_id, ref, blob[0], blob[1], cache._seal(
                             str(body.get("title", ""))[:100],
                             _label_context(resident_id, ref, blob[0])), record.seq])


def _record_context(resident_id: int, seq: int) -> str:
    return f"record {int(resident_id)} {int(seq)}"


def _label_context(resident_id: int, ref: str, sha256: str) -> str:
    return f"label {int(resident_id)} {ref} {sha256}"


def _seal_plain_cache(conn: sqlite3.Connection, cache: KioskCache) -> bool:
    """Seal, in the opening transaction, what an earlier version kept in plain:
    every file first (each replaced atomically, so a crash here leaves each
    one plain or sealed, and the next opening goes on), then every row.
    Returns whether there was anything to seal."""
    had = conn.execute("SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM outbox)"
                       " + (SELECT count(*) FROM letters) + (SELECT count(*) FROM tablets)"
                       " + (SELECT count(*) FROM meta)").fetchone()[0] > 0
    for path in sorted(cache.blob_dir.iterdir()):
        name = path.name
        if path.is_file() and name.endswith(".partial"):
            path.unlink()  # a download in the old layout: it starts again
        elif path.is_file() and len(name) == 64 and set(name) <= _HEX \
                and not is_sealed(path, name, cache._sealer):
            had = True
            data = path.read_bytes()
            try:
                cache.blobs.write(name, data)
            except ValueError:
                log.warning("cached file %s does not match its name; dropped", name[:12])
                path.unlink()
                conn.execute("DELETE FROM blobs WHERE sha256 = ?", [name])
    seal = cache._seal
    for rid, seq, body in conn.execute("SELECT resident_id, seq, body FROM records").fetchall():
        conn.execute("UPDATE records SET body = ? WHERE resident_id = ? AND seq = ?",
                     [seal(body, _record_context(rid, seq)), rid, seq])
    for rid, ref, sha, label in conn.execute(
            "SELECT resident_id, ref, sha256, label FROM wanted").fetchall():
        conn.execute("UPDATE wanted SET label = ? WHERE resident_id = ? AND ref = ? AND "
                     "sha256 = ?", [seal(label, _label_context(rid, ref, sha)), rid, ref, sha])
    for serial, agency_id in conn.execute(
            "SELECT serial, resident_agency_id FROM tablets").fetchall():
        conn.execute("UPDATE tablets SET resident_agency_id = ? WHERE serial = ?",
                     [cache._seal_optional(agency_id, "tablet " + serial), serial])
    for uid, body in conn.execute("SELECT uid, body FROM outbox").fetchall():
        conn.execute("UPDATE outbox SET body = ? WHERE uid = ?", [seal(body, "draft " + uid),
                                                                  uid])
    for uid, body, token in conn.execute("SELECT uid, body, token FROM letters").fetchall():
        conn.execute("UPDATE letters SET body = ?, token = ? WHERE uid = ?",
                     [seal(body, "letter " + uid), cache._seal_token(uid, token), uid])
    for key, value in conn.execute("SELECT key, value FROM meta WHERE key LIKE 'home:%' "
                                   "OR key LIKE 'contacts:%'").fetchall():
        conn.execute("UPDATE meta SET value = ? WHERE key = ?",
                     [seal(value, "kept " + key).hex(), key])
    if had:
        log.warning("the cache in %s was kept in plain by an earlier version: sealed now",
                    cache.directory)
    return had


def cache_sealer(element: SecureElement) -> Sealer:
    """The cache's sealer, from the kiosk's device key (its secure element, or
    the key file of a kiosk without one): HKDF purpose ``kiosk cache``."""
    return Sealer(element.derive_key(b"kiosk cache"))


def _blob_ref(part: Any) -> tuple[str, int] | None:
    if not isinstance(part, Mapping):
        return None
    sha, size = part.get("sha256"), part.get("size")
    if not (isinstance(sha, str) and len(sha) == 64 and set(sha) <= _HEX
            and type(size) is int and 0 <= size <= MAX_BLOB):
        return None
    return sha, size
