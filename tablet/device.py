"""A tablet's device directory, and the link peer made from it.

::

    secure-element.pem   the device key (the secure element)
    identity/            certificate.pem and ca.pem, installed at provisioning
    agency.pem           the agency's release-token public key (optional)
    storage/             the sealed store
    content/             what sync brought, sealed (tablet/store.py)
    state.json           the sync counter and release state
    crl.der              the newest revocation list a kiosk handed over
    lock.json            the lock timer (tablet/lock.py)
    power_supply/        the battery, as sysfs shows it (capacity: percent)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.x509.oid import NameOID

from device_security.at_rest import SealedFiles, Sealer
from device_security.ca_store import IdentityFiles
from device_security.channel import Credentials
from device_security.revocation import KeptRevocationList
from device_security.secure_element import KeyFileSecureElement
from tablet.lock import TabletLock
from tablet.peer import TabletPeer, load_agency_key
from tablet.store import TabletStore


@dataclass(frozen=True)
class TabletDirectory:
    path: Path

    @property
    def secure_element(self) -> KeyFileSecureElement:
        return KeyFileSecureElement(self.path / "secure-element.pem")

    @property
    def identity(self) -> IdentityFiles:
        return IdentityFiles(self.path / "identity")

    @property
    def agency_key_path(self) -> Path:
        return self.path / "agency.pem"

    def store(self) -> SealedFiles:
        return SealedFiles(self.path / "storage",
                           Sealer(self.secure_element.derive_key(b"storage")))

    def content(self, serial: str) -> TabletStore:
        """The synced content, sealed under a key the secure element derives."""
        element = self.secure_element
        return TabletStore(self.path / "content", serial=serial, sign=element.sign,
                           sealer=Sealer(element.derive_key(b"content")))

    def serial(self) -> str:
        """The serial number in the tablet's certificate. Raises SecurityError
        if the tablet is not provisioned."""
        serial = self.identity.certificate().subject.get_attributes_for_oid(
            NameOID.SERIAL_NUMBER)
        return str(serial[0].value) if serial else ""

    def battery_pct(self) -> int | None:
        """The battery's charge, or None when it cannot be read."""
        try:
            value = int((self.path / "power_supply" / "capacity").read_text().strip())
        except (OSError, ValueError):
            return None
        return value if 0 <= value <= 100 else None

    def lock(self) -> TabletLock:
        return TabletLock(self.path / "lock.json")

    def revocations(self) -> KeptRevocationList:
        """The newest revocation list kiosks handed over, checked against the CA."""
        return KeptRevocationList(self.path / "crl.der", self.identity.ca())

    def is_provisioned(self) -> bool:
        return self.secure_element.exists() and self.identity.exists()

    def peer(self) -> TabletPeer:
        """The link peer; raises SecurityError if the tablet is not provisioned."""
        number = self.serial()
        return TabletPeer(
            serial=number,
            credentials=Credentials(self.identity.certificate_path, self.secure_element.path),
            ca=self.identity.ca(),
            state_path=self.path / "state.json",
            store=self.store(),
            agency_key=load_agency_key(self.agency_key_path),
            content=self.content(number),
            lock=self.lock(),
            revocations=self.revocations(),
        )
