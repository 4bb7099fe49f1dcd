"""What every service needs: the database, the blob store, the adapters, the clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from central.blobs import BlobStore
from central.database import Database, now
from central.passwords import Passwords
from central.payments import CardPayments
from central.schema import audit_log
from central.trust_account import TrustAccounts
from device_security.text import printable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Rules that are the facility's choice rather than the agency's prices."""

    session_hours: int = 12
    resident_session_minutes: int = 30
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    retention_days: int = 3650
    ticket_resolution_days: int = 14
    ticket_escalate_days_before: int = 3
    max_photo_bytes: int = 10_000_000
    max_videogram_bytes: int = 60_000_000
    max_media_bytes: int = 500_000_000


@dataclass
class Central:
    """The server's parts, passed to every service function."""

    db: Database
    blobs: BlobStore
    trust: TrustAccounts
    payments: CardPayments
    passwords: Passwords
    translator: Any  # central.translation.ReviewTranslator; Any keeps lingua out of imports
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], int] = now
    # compiled keyword screens by (list id, version) tuples; rebuilt when a list changes
    screens: dict[tuple[tuple[int, int], ...], Any] = field(default_factory=dict)


def audit(conn: Connection, central: Central, staff_id: int | None, action: str, target: str,
          **detail: Any) -> None:
    """Record a staff action (or a system action when ``staff_id`` is None)."""
    conn.execute(audit_log.insert().values(at=central.clock(), staff_id=staff_id, action=action,
                                           target=target,
                                           detail=json.dumps(detail, sort_keys=True,
                                                             default=str)))
    log.info("audit: staff %s %s %s %s", staff_id, action, printable(target, 200),
             printable(detail, 1000))
