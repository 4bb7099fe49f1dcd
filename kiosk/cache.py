"""The kiosk's store-and-forward cache: what comes down from the central server
for this unit's residents, and what goes up from their tablets.

::

    cache.db        SQLite (WAL, synchronous=FULL), tables below
    blobs/<sha>     complete blobs (their bytes hash to their name)
    blobs/<sha>.partial  a download in progress (resumed with HTTP Range)

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
CREATE TABLE IF NOT EXISTS counters (
    uid TEXT PRIMARY KEY, serial TEXT NOT NULL, counter INTEGER NOT NULL,
    received_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
"""

QUEUED, SENT, REFUSED = "queued", "sent", "refused"
WAITING_LOGIN = "waiting_login"  # a letter whose writer's session ended before it went up
_QUEUE_KEYS = {"outbox": "uid", "receipts": "key", "counters": "uid", "letters": "uid"}
MAX_BLOB = frames.MAX_BLOB_SIZE
_HEX = frozenset("0123456789abcdef")


class CacheError(Exception):
    """Something from the central server that the cache cannot take."""


@dataclass(frozen=True)
class Pending:
    """An item waiting to go up to the central server."""

    key: str
    kind: str
    serial: str
    payload: dict[str, Any]
    attempts: int


class KioskCache:
    """The cache of one kiosk. Safe to share between the kiosk's threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.blob_dir = directory / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.local = LocalDatabase(directory / "cache.db", _SCHEMA)
        self._tx = self.local.transaction
        self._rows = self.local.rows
        # Held by whoever sends the queues up, so two senders never race one item.
        self.sending = threading.RLock()

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
                              json.dumps(record.body, separators=(",", ":"))])
                _want(conn, resident_id, record)
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

    def blob_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise CacheError(f"not a blob name: {sha256[:80]!r}")
        return self.blob_dir / sha256

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
                             [t["serial"], t.get("resident_id"), t.get("resident_agency_id"),
                              t["status"]])

    def tablet(self, serial: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT serial, resident_id, resident_agency_id, status, "
                          "last_sync_at, cursor FROM tablets WHERE serial = ?", [serial])
        if not rows:
            return None
        keys = ("serial", "resident_id", "resident_agency_id", "status", "last_sync_at",
                "cursor")
        return dict(zip(keys, rows[0], strict=True))

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
        return [Record(int(s), k, r, json.loads(b)) for s, k, r, b in self._rows(
            "SELECT seq, kind, ref, body FROM records WHERE resident_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?", [resident_id, after, limit])]

    def blobs_for(self, resident_id: int, serial: str) -> list[OfferedBlob]:
        """The resident's blobs that are here in full and that tablet ``serial``
        is not known to hold, in feed order."""
        return [OfferedBlob(bytes.fromhex(s), int(n), label) for s, n, label, _ in self._rows(
            "SELECT w.sha256, w.size, min(w.label), min(w.seq) AS first FROM wanted w "
            "JOIN blobs b ON b.sha256 = w.sha256 WHERE w.resident_id = ? AND w.sha256 NOT IN "
            "(SELECT sha256 FROM delivered WHERE serial = ?) "
            "GROUP BY w.sha256 ORDER BY first", [resident_id, serial])]

    def open_blob(self, sha: bytes) -> BinaryIO:
        return self.blob_path(sha.hex()).open("rb")

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
                [[i.uid, serial, i.kind, json.dumps(dict(i.body)), i.signature,
                  int(time.time()), QUEUED] for i in items])

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
        return [Pending(uid, kind, serial, {"body": json.loads(body), "signature": _b64(sig)},
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
                         [uid, resident_id, contact_id, body, token, int(time.time()), QUEUED])

    def pending_letters(self, limit: int = 50, uid: str | None = None) -> list[Pending]:
        """Letters to send (``uid``: that one only, if it is waiting)."""
        rows = self._rows("SELECT uid, resident_id, contact_id, body, token, attempts "
                          "FROM letters WHERE state = ? AND (? IS NULL OR uid = ?) "
                          "ORDER BY written_at, uid LIMIT ?", [QUEUED, uid, uid, limit])
        return [Pending(u, "letter", "", {"resident_id": r, "contact_id": c, "body": b,
                                          "token": t}, int(n)) for u, r, c, b, t, n in rows]

    def letters(self, resident_id: int, uid: str | None = None) -> list[dict[str, Any]]:
        """A resident's letters written here (``uid``: that one), oldest first,
        with their state."""
        return [{"uid": u, "contact_id": c, "body": b, "written_at": w, "state": s,
                 "result": res} for u, c, b, w, s, res in self._rows(
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
            return int(conn.execute(
                "UPDATE letters SET state = ?, token = ? WHERE resident_id = ? "
                "AND state IN (?, ?)", [QUEUED, token, resident_id, WAITING_LOGIN,
                                        QUEUED]).rowcount)

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
            states = (QUEUED, SENT, REFUSED, WAITING_LOGIN) if table == "letters" \
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


def _want(conn: sqlite3.Connection, resident_id: int, record: Record) -> None:
    """Note the blobs a record refers to (or no longer does)."""
    body = record.body
    if record.kind == "message":
        for part in body.get("attachments") or ():
            blob = _blob_ref(part)
            if blob:
                label = f"{part.get('kind', 'file')} from {body.get('contact_name', '')}".strip()
                conn.execute("INSERT OR IGNORE INTO wanted VALUES (?, ?, ?, ?, ?, ?)",
                             [resident_id, f"message:{record.ref}", blob[0], blob[1],
                              label[:100], record.seq])
    elif record.kind == "entitlement":
        ref = f"entitlement:{record.ref}"
        conn.execute("DELETE FROM wanted WHERE resident_id = ? AND ref = ?", [resident_id, ref])
        blob = _blob_ref(body)
        if blob and body.get("state") != "refunded":
            conn.execute("INSERT INTO wanted VALUES (?, ?, ?, ?, ?, ?)",
                         [resident_id, ref, blob[0], blob[1], str(body.get("title", ""))[:100],
                          record.seq])


def _blob_ref(part: Any) -> tuple[str, int] | None:
    if not isinstance(part, Mapping):
        return None
    sha, size = part.get("sha256"), part.get("size")
    if not (isinstance(sha, str) and len(sha) == 64 and set(sha) <= _HEX
            and type(size) is int and 0 <= size <= MAX_BLOB):
        return None
    return sha, size
