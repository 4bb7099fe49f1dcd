"""A tablet docked at the kiosk: pair it, then sync it from the kiosk's cache.

Pairing (device_security.pairing) decides whether this tablet may sync here
now and opens the mutual-TLS channel; the sync counter it accepted is queued
for the central server, which passes it on to every kiosk's registry; the
session (sync.session) then runs inside the channel. The tablet's signing key
is the one its certificate names, so the receipts and drafts it signs are
checked against the identity that just proved itself in the handshake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device_security.channel import ByteStream
from device_security.errors import ChannelError
from device_security.pairing import DockedTablet, PairingGate, PairingResult
from device_security.policy import KioskSession
from hw.errors import HwError
from kiosk.cache import KioskCache
from sync.session import DockedResident, Progress, SessionError, SessionSummary, run_kiosk
from sync.stream import FrameStream

log = logging.getLogger(__name__)


@dataclass
class DockOutcome:
    """What happened at the dock, in words a resident and a technician can read."""

    pairing: PairingResult
    summary: SessionSummary | None = None
    problem: str | None = None  # why a paired tablet did not finish its sync

    @property
    def synced(self) -> bool:
        return self.summary is not None


def dock_and_sync(gate: PairingGate, tablet: DockedTablet, open_stream: Callable[[], ByteStream],
                  session: KioskSession | None, cache: KioskCache, *, kiosk: str,
                  on_progress: Callable[[Progress], None] | None = None) -> DockOutcome:
    """Pair a docked tablet and, if allowed, sync it. An unplug during pairing
    raises the link's error (a tablet that left is not refused); an unplug
    during the sync is an outcome (``problem``), and the next dock resumes."""
    result = gate.pair(tablet, open_stream, session)
    outcome = DockOutcome(result)
    if not result.decision.allowed:
        return outcome
    channel, stream = result.channel, result.stream
    assert channel is not None and stream is not None  # open when allowed
    try:
        serial = result.peer.serial if result.peer is not None else None
        if serial and result.counter is not None:  # for the central server, and every kiosk
            cache.counter_accepted(serial, result.counter)
        known = cache.tablet(serial) if serial else None
        certificate = channel.peer_certificate
        key = certificate.public_key() if certificate is not None else None
        if not (serial and known and known.get("resident_id") is not None
                and known.get("resident_agency_id") and isinstance(key, Ed25519PublicKey)):
            outcome.problem = (f"this kiosk has not yet learned whose tablet {serial} is; "
                               "it will sync once the kiosk has heard from the central server")
            return outcome
        docked = DockedResident(serial, int(known["resident_id"]),
                                str(known["resident_agency_id"]), key)
        outcome.summary = run_kiosk(FrameStream(channel), cache, docked, kiosk=kiosk,
                                    on_progress=on_progress)
        cache.mark_synced(serial)
        log.info("synced %s: %d records, %d files (%d bytes), %d drafts up, %.2f s", serial,
                 outcome.summary.records, outcome.summary.blobs, outcome.summary.blob_bytes,
                 outcome.summary.outbox, outcome.summary.seconds)
    except SessionError as e:
        outcome.problem = f"the sync stopped: {e.message}" + (" (the tablet said so)"
                                                             if e.by_peer else "")
        log.warning("sync with %s ended: %s", tablet.usb_serial, e)
    except (HwError, ChannelError, TimeoutError, OSError) as e:
        outcome.problem = "the tablet was unplugged before the sync finished; plug it in " \
                          "again to go on from where it stopped"
        log.info("sync with %s cut: %s", tablet.usb_serial, e)
    finally:
        channel.close()
        stream.close()
    return outcome
