"""Alerts for refused devices: an email to the facility's staff address, and a
queue the central server drains.

Every alert names the resident logged in at the kiosk and their ID, the
kiosk's location code, the tablet's serial number, and its registered owner,
with the reason code. A tablet left plugged in raises one alert, not one per
retry: alerts are keyed by the plug (the device's arrival) and the reason.
Each queued alert gets a uid made here, which the central server stores it
under, so sending it again after a lost answer records it once.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import secrets
import smtplib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from device_security.errors import AlertDeliveryError
from device_security.text import printable

log = logging.getLogger(__name__)

UNKNOWN = "(none)"


@dataclass(frozen=True)
class Alert:
    reason: str
    detail: str
    resident_id: str | None  # who is logged in at the kiosk
    resident_name: str | None
    kiosk_location: str
    tablet_serial: str | None  # as the device presented it (USB descriptors)
    owner_id: str | None  # who the registry says owns that serial
    owner_name: str | None
    raised_at: datetime.datetime

    def lines(self) -> list[tuple[str, str]]:
        def who(name: str | None, ident: str | None) -> str:
            return f"{name} ({ident})" if ident else UNKNOWN

        return [
            ("Reason", self.reason),
            ("Detail", self.detail),
            ("Resident logged in", who(self.resident_name, self.resident_id) if self.resident_id
             else "nobody logged in"),
            ("Kiosk location", self.kiosk_location),
            ("Tablet serial", self.tablet_serial or UNKNOWN),
            ("Registered owner", who(self.owner_name, self.owner_id) if self.owner_id
             else "no registered owner"),
            ("Time", self.raised_at.isoformat(timespec="seconds")),
        ]


def alert_email(alert: Alert, *, sender: str, recipient: str) -> EmailMessage:
    """The email staff receive for an alert (a pure function). Every value in
    it is passed through :func:`printable`: a serial or a name with a line
    break in it can neither add a header nor a line of the body, nor stop the
    email from being built."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = (f"Sallyport alert: tablet {printable(alert.tablet_serial or UNKNOWN, 80)}"
                          f" refused at {printable(alert.kiosk_location, 80)} "
                          f"({printable(alert.reason, 64)})")
    width = max(len(k) for k, _ in alert.lines())
    message.set_content("A device was refused at a kiosk.\n\n" + "\n".join(
        f"{key.ljust(width)}  {printable(value, 1000)}" for key, value in alert.lines()) + "\n")
    return message


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipient: str
    timeout: float = 10.0


class SmtpAlertMailer:
    """Sends alert emails over SMTP. The constructor does no I/O."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, alert: Alert) -> None:
        """Raises AlertDeliveryError if the mail server cannot take it."""
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                smtp.send_message(alert_email(alert, sender=s.sender, recipient=s.recipient))
        # ValueError: an address the email package will not put in a header.
        except (OSError, smtplib.SMTPException, ValueError) as e:
            raise AlertDeliveryError(f"mail to {s.recipient} via {s.host}:{s.port}: "
                                     f"{printable(e, 300)}") from e


@dataclass(frozen=True)
class QueuedAlert:
    ident: int  # the queue's row
    uid: str  # made here when it was queued; the central server keys the alert by it
    alert: Alert


_QUEUE_VERSION = 2
_QUEUE = ("CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, body TEXT NOT NULL, "
          "emailed INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0)")
# Added in version 1: the uid, and why the central server refused an alert (if it did).
# Added in version 2: the mail's failed attempts, when it may be tried again, and why
# the last attempt failed.
_ADDED = {"uid": "TEXT", "refused": "TEXT", "mail_attempts": "INTEGER NOT NULL DEFAULT 0",
          "mail_next_at": "REAL NOT NULL DEFAULT 0", "mail_error": "TEXT"}
_UNSENT = "delivered = 0 AND refused IS NULL"
MAIL_BATCH = 20  # mails one retry sends at most
MAIL_BACKOFF_S = 30.0  # the wait after the second failed attempt; it doubles after each
MAIL_BACKOFF_MAX_S = 3600.0


def mail_backoff(attempts: int) -> float:
    """Seconds to wait before trying a mail again after ``attempts`` failures:
    the next round after the first, then 30 s, doubling, at most an hour. It
    never gives up: an alert mail is never dropped."""
    if attempts <= 1:
        return 0.0
    return min(MAIL_BACKOFF_MAX_S, MAIL_BACKOFF_S * 2.0 ** min(attempts - 2, 32))


@dataclass(frozen=True)
class MailState:
    """Where an unsent alert mail stands."""

    ident: int
    attempts: int
    next_at: float  # seconds since the epoch
    error: str | None


def new_uid() -> str:
    return secrets.token_urlsafe(16)


class AlertQueue:
    """Alerts waiting for the central server (and for email, if that failed)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            if db.execute("PRAGMA user_version").fetchone()[0] < _QUEUE_VERSION:
                _upgrade(db)
            yield db
        finally:
            db.close()

    def put(self, alert: Alert) -> int:
        body = json.dumps(dataclasses.asdict(alert), default=str, sort_keys=True)
        with self._db() as db:
            cursor = db.execute("INSERT INTO alerts (body, uid) VALUES (?, ?)",
                                (body, new_uid()))
            return int(cursor.lastrowid or 0)

    def _rows(self, where: str) -> list[QueuedAlert]:
        with self._db() as db:
            rows = db.execute(f"SELECT id, uid, body FROM alerts WHERE {where} "  # noqa: S608 - fixed clauses
                              "ORDER BY id").fetchall()
        result = []
        for ident, uid, body in rows:
            data = json.loads(body)
            data["raised_at"] = datetime.datetime.fromisoformat(data["raised_at"])
            result.append(QueuedAlert(ident, uid, Alert(**data)))
        return result

    def recent(self, limit: int = 50) -> list[tuple[QueuedAlert, str]]:
        """The newest alerts raised here, each with where it stands (``queued``,
        ``delivered`` to the central server, or ``refused`` by it)."""
        with self._db() as db:
            rows = db.execute("SELECT id, delivered, refused FROM alerts ORDER BY id DESC "
                              "LIMIT ?", (limit,)).fetchall()
        states = {i: "refused" if r else ("delivered" if d else "queued") for i, d, r in rows}
        alerts = self._rows(f"id >= {min(states) if states else 0}")
        return [(a, states[a.ident]) for a in reversed(alerts) if a.ident in states]

    def for_central(self) -> list[QueuedAlert]:
        """Alerts the central server has neither taken nor refused yet."""
        return self._rows(_UNSENT)

    def unmailed(self) -> list[QueuedAlert]:
        return self._rows("emailed = 0")

    def mail_due(self, now: float, limit: int = MAIL_BATCH) -> list[QueuedAlert]:
        """Unsent mails whose wait is over, those waiting longest first."""
        with self._db() as db:
            ids = [i for (i,) in db.execute(
                "SELECT id FROM alerts WHERE emailed = 0 AND mail_next_at <= ? "
                "ORDER BY mail_next_at, id LIMIT ?", (now, limit))]
        return self._rows(f"id IN ({', '.join(str(int(i)) for i in ids)})") if ids else []

    def mail_state(self, ident: int) -> MailState:
        """Raises KeyError for an alert that is not in the queue."""
        with self._db() as db:
            row = db.execute("SELECT mail_attempts, mail_next_at, mail_error FROM alerts "
                             "WHERE id = ?", (ident,)).fetchone()
        if row is None:
            raise KeyError(ident)
        return MailState(ident, int(row[0]), float(row[1]), row[2])

    def mail_failed(self, ident: int, error: str, now: float) -> MailState:
        """Count a failed attempt to mail this alert; it stays unsent, and waits
        :func:`mail_backoff` before the next."""
        with self._db() as db:
            db.create_function("mail_backoff", 1, mail_backoff, deterministic=True)
            row = db.execute("UPDATE alerts SET mail_attempts = mail_attempts + 1, "
                             "mail_next_at = ? + mail_backoff(mail_attempts + 1), "
                             "mail_error = ? WHERE id = ? RETURNING mail_attempts, mail_next_at",
                             (now, error[:500], ident)).fetchone()
        if row is None:
            raise KeyError(ident)
        return MailState(ident, int(row[0]), float(row[1]), error[:500])

    def mark_delivered(self, ids: list[int]) -> None:
        with self._db() as db:
            db.executemany("UPDATE alerts SET delivered = 1 WHERE id = ?", [(i,) for i in ids])

    def mark_refused(self, ident: int, why: str) -> None:
        """The central server refused this alert for good; it is not sent again."""
        with self._db() as db:
            db.execute("UPDATE alerts SET refused = ? WHERE id = ?", (why[:500] or "refused",
                                                                      ident))

    def counts(self) -> dict[str, int]:
        """For ``sallyport sync status``: waiting for, taken by and refused by the
        central server, and not emailed yet."""
        with self._db() as db:
            def count(where: str) -> int:
                return int(db.execute(f"SELECT count(*) FROM alerts WHERE {where}").fetchone()[0])  # noqa: S608 - fixed clauses
            return {"queued": count(_UNSENT), "sent": count("delivered = 1"),
                    "refused": count("refused IS NOT NULL"), "unmailed": count("emailed = 0")}

    def mark_emailed(self, ident: int) -> None:
        with self._db() as db:
            db.execute("UPDATE alerts SET emailed = 1 WHERE id = ?", (ident,))


def _upgrade(db: sqlite3.Connection) -> None:
    """Make the queue (or bring one from before version 1 up to it), once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_QUEUE)
        have = {row[1] for row in db.execute("PRAGMA table_info(alerts)")}
        for column, kind in _ADDED.items():
            if column not in have:
                db.execute(f"ALTER TABLE alerts ADD COLUMN {column} {kind}")
        unnamed = db.execute("SELECT id FROM alerts WHERE uid IS NULL").fetchall()
        db.executemany("UPDATE alerts SET uid = ? WHERE id = ?",
                       [(new_uid(), ident) for (ident,) in unnamed])
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS alerts_uid ON alerts (uid)")
        db.execute(f"PRAGMA user_version = {_QUEUE_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Alerter:
    """Raises alerts: queued for the central server, emailed to staff, once per plug."""

    def __init__(self, queue: AlertQueue, mailer: SmtpAlertMailer | None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.queue = queue
        self.mailer = mailer
        self.clock = clock
        self._raised: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def raise_alert(self, alert: Alert, *, plug_id: str) -> bool:
        """Queue and mail ``alert`` unless this plug already raised one for this
        reason. Returns whether it was raised. Mail failures leave it queued
        for :meth:`retry_mail`; they never lose the alert."""
        with self._lock:
            key = (plug_id, alert.reason)
            if key in self._raised:
                return False
            self._raised.add(key)
        ident = self.queue.put(alert)
        log.warning("ALERT %s: tablet %s at %s: %s", printable(alert.reason, 64),
                    printable(alert.tablet_serial, 80), printable(alert.kiosk_location, 80),
                    printable(alert.detail, 500))
        self._mail(ident, alert)
        return True

    def device_left(self, plug_id: str) -> None:
        """Forget a plug: the next arrival of the same device may alert again."""
        with self._lock:
            self._raised = {k for k in self._raised if k[0] != plug_id}

    def retry_mail(self, limit: int = MAIL_BATCH) -> int:
        """Mail the alerts whose mail failed and whose wait (:func:`mail_backoff`,
        kept in the queue on disk) is over, at most ``limit`` of them; the
        kiosk's rounds call this every round. The first failure ends the try
        (the mail server is most likely down for the rest too): that mail
        waits longer, and the others go at the next call. Returns how many
        went out; never raises for a mail that failed."""
        sent = 0
        for queued in self.queue.mail_due(self.clock(), limit):
            if not self._mail(queued.ident, queued.alert):
                break
            sent += 1
        return sent

    def _mail(self, ident: int, alert: Alert) -> int:
        if self.mailer is None:
            return 0
        try:
            self.mailer.send(alert)
        except AlertDeliveryError as e:
            state = self.queue.mail_failed(ident, str(e), self.clock())
            log.error("alert %d stays queued for mail (attempt %d; next in %.0f s): %s",
                      ident, state.attempts, max(0.0, state.next_at - self.clock()),
                      printable(e, 500))
            return 0
        self.queue.mark_emailed(ident)
        return 1
