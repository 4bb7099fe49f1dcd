"""Revocation lists as a device holds them: the newest list the facility CA
signed, checked before it replaces the one held, never replaced by a list
with a lower CRL number, and stale once its next-update time has passed.

The checks are pure functions over values (:func:`read_crl`,
:func:`newer_list`, :func:`is_stale`); :class:`KeptRevocationList` is the thin
keeper of one device's list in one file. A kiosk fetches the central server's
list every round and refuses to dock while its own is stale; a tablet is
handed the kiosk's list at every dock and checks every peer against the
newest it has seen (docs/security.md, "Revocation that takes effect").
"""

from __future__ import annotations

import datetime
import logging
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from base.files import write_atomic
from device_security import reasons
from device_security.errors import CertificateError
from device_security.pki import TrustAnchors

log = logging.getLogger(__name__)

MAX_CRL_BYTES = 256 * 1024  # a list of several thousand revoked certificates


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The list's CRL number; 0 for a list that has none (made before numbers)."""
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return 0


def read_crl(data: bytes) -> x509.CertificateRevocationList:
    """A revocation list from its PEM or DER bytes. Raises CertificateError
    (``certificate_malformed``) for anything else, or more than MAX_CRL_BYTES."""
    if len(data) > MAX_CRL_BYTES:
        raise CertificateError(reasons.CERTIFICATE_MALFORMED,
                               f"a revocation list of {len(data)} bytes; the limit is "
                               f"{MAX_CRL_BYTES}")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as e:
        raise CertificateError(reasons.CERTIFICATE_MALFORMED,
                               f"not a revocation list: {e}") from e


def newer_list(ca: x509.Certificate, held: x509.CertificateRevocationList | None,
               offered: x509.CertificateRevocationList
               ) -> x509.CertificateRevocationList | None:
    """``offered`` if it should replace ``held``: signed by the facility CA and
    numbered above it. None when it is the list held (the same number).
    Raises CertificateError: ``certificate_malformed`` for a list not from
    this CA, ``revocation_list_stale`` for one numbered below the list held
    (a rollback: a revocation must not be undone by replaying an old list)."""
    if offered.issuer != ca.subject:
        raise CertificateError(reasons.CERTIFICATE_MALFORMED,
                               f"a revocation list from {offered.issuer.rfc4514_string()}, "
                               "not this facility's CA")
    TrustAnchors(ca, offered)  # raises CertificateError unless the CA signed it
    number = crl_number(offered)
    if held is None:
        return offered
    have = crl_number(held)
    if number < have:
        raise CertificateError(reasons.REVOCATION_LIST_STALE,
                               f"revocation list {number} is older than the one held ({have})")
    return offered if number > have else None


def is_stale(crl: x509.CertificateRevocationList | None, now: datetime.datetime) -> bool:
    """Whether a device holding ``crl`` can no longer vouch for what is revoked:
    it holds none, or the list's next-update time has passed (a list without
    one is stale: nothing says until when it holds)."""
    if crl is None:
        return True
    next_update = crl.next_update_utc
    return next_update is None or now > next_update


def staleness(crl: x509.CertificateRevocationList | None) -> str:
    """Why ``crl`` is stale, in a sentence for staff."""
    if crl is None:
        return "this kiosk holds no revocation list yet"
    when = crl.next_update_utc
    return (f"revocation list {crl_number(crl)} was due to be replaced "
            f"{when:%Y-%m-%d %H:%M} UTC" if when else
            f"revocation list {crl_number(crl)} has no next-update time")


class KeptRevocationList:
    """The newest revocation list one device holds, in ``path`` (DER, written
    atomically), checked against the facility CA ``ca``. Safe to share
    between threads. The constructor does no I/O; the file is read once, at
    the first :meth:`current`."""

    def __init__(self, path: Path, ca: x509.Certificate) -> None:
        self.path = path
        self.ca = ca
        self._lock = threading.Lock()
        self._crl: x509.CertificateRevocationList | None = None
        self._loaded = False

    def current(self) -> x509.CertificateRevocationList | None:
        """The list held (None before the first one)."""
        with self._lock:
            return self._current()

    def _current(self) -> x509.CertificateRevocationList | None:
        if not self._loaded:
            self._loaded = True
            try:
                crl = read_crl(self.path.read_bytes())
                self._crl = newer_list(self.ca, None, crl)
            except FileNotFoundError:
                pass
            except (OSError, CertificateError) as e:
                # Damaged: held as none, so a kiosk refuses to dock until a good list comes.
                log.error("the revocation list in %s cannot be used: %s", self.path, e)
        return self._crl

    def trust(self) -> TrustAnchors:
        """The facility CA and the list held, for checking a peer's certificate."""
        with self._lock:
            return TrustAnchors(self.ca, self._current())

    def number(self) -> int | None:
        """The CRL number of the list held (None before the first one)."""
        crl = self.current()
        return None if crl is None else crl_number(crl)

    def offer(self, data: bytes) -> bool:
        """Keep the list in ``data`` (PEM or DER) if it is newer than the one
        held; returns whether it replaced it. Raises CertificateError, as
        :func:`read_crl` and :func:`newer_list` do, keeping the list held."""
        offered = read_crl(data)
        with self._lock:
            newer = newer_list(self.ca, self._current(), offered)
            if newer is None:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, newer.public_bytes(serialization.Encoding.DER))
            self._crl = newer
        log.info("revocation list %d kept (%d certificates revoked, next update %s)",
                 crl_number(newer), len(newer), newer.next_update_utc)
        return True

    def der(self) -> bytes | None:
        """The list held, as DER, to hand to a tablet."""
        crl = self.current()
        return None if crl is None else crl.public_bytes(serialization.Encoding.DER)
