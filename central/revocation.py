"""The facility CA's revocation list as the central server publishes it: the
file its ``crl`` setting names (``sallyport device revoke`` writes a new one
there), read again whenever that file changes, and checked against the
facility CA before it is served to kiosks (``GET /v1/kiosk/crl``) or used to
check a kiosk's own certificate."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from central.errors import CentralError
from device_security.errors import CertificateError
from device_security.revocation import MAX_CRL_BYTES, crl_number, newer_list, read_crl

log = logging.getLogger(__name__)


class RevocationListUnusable(CentralError):
    """The file the ``crl`` setting names is not a list the facility CA signed."""

    code = "revocation_list_unusable"


@dataclass(frozen=True)
class Published:
    crl: x509.CertificateRevocationList
    der: bytes

    @property
    def number(self) -> int:
        return crl_number(self.crl)


class PublishedRevocationList:
    """The list in ``path``, checked against ``ca``; the constructor does no I/O."""

    def __init__(self, path: Path, ca: x509.Certificate) -> None:
        self.path = path
        self.ca = ca
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file read
        self._published: Published | None = None

    def current(self) -> Published:
        """The list as the file holds it now. Raises RevocationListUnusable for
        a missing or damaged file, or a list the facility CA did not sign."""
        try:
            stat = os.stat(self.path)
        except OSError as e:
            raise RevocationListUnusable(f"the revocation list {self.path} cannot be read: "
                                         f"{e.strerror}") from e
        with self._lock:
            if self._published is not None and self._seen == (stat.st_mtime_ns, stat.st_size):
                return self._published
            try:
                with self.path.open("rb") as f:
                    crl = read_crl(f.read(MAX_CRL_BYTES + 1))
                newer_list(self.ca, None, crl)  # signed by the facility CA, or raises
            except (OSError, CertificateError) as e:
                log.error("the revocation list %s is not published: %s", self.path, e)
                raise RevocationListUnusable(f"the revocation list {self.path} is not "
                                             f"usable: {e}") from e
            self._published = Published(crl, crl.public_bytes(serialization.Encoding.DER))
            self._seen = (stat.st_mtime_ns, stat.st_size)
            log.info("publishing revocation list %d (%d certificates revoked)",
                     self._published.number, len(crl))
            return self._published

    def newest(self) -> x509.CertificateRevocationList | None:
        """The list for checking kiosks' certificates; None when it cannot be read
        (logged), so that the one loaded at start stays in force."""
        try:
            return self.current().crl
        except RevocationListUnusable:
            return None
