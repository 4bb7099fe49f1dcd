"""The device side, a thin shell over the pure checks: what a tablet (or a
kiosk) keeps in its firmware directory, and the steps of an offer at a dock.

::

    <firmware>/trust/root.json, timestamp.json, snapshot.json, targets.json
    <firmware>/time.json      the last signed time accepted, in seconds
    <firmware>/staging/       the image being received (firmware_images/transfer.py)
    <firmware>/slots/         boot.json, slot-a.img, slot-b.img (firmware_images/slots.py)

At a dock: :meth:`FirmwareDevice.report` (what it runs), :meth:`challenge`
(a fresh nonce for the kiosk's time), :meth:`consider` (the offer's metadata
and time token checked; the signed entry of the image, or an error),
:meth:`begin`, :meth:`write` per chunk, :meth:`finish` (verified, installed
in the inactive slot, on trial from the next boot).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from base.files import write_atomic
from firmware_images.bundle import MetadataBundle
from firmware_images.errors import NoTrustedTime, RepositoryError, SlotError, TransferError
from firmware_images.repository import ImageEntry, Repository, length_and_sha256
from firmware_images.signed_time import accept_time, new_nonce, trusted_now
from firmware_images.slots import BootState, SlotImage, SlotStore
from firmware_images.transfer import MAX_CHUNK, ImageSink, ImageSource
from firmware_images.trust import (
    Installed,
    TrustedMetadata,
    TrustedSet,
    check_image,
    root_version,
    signed_issued,
)

log = logging.getLogger(__name__)
ROLES = ("root", "timestamp", "snapshot", "targets")


@dataclass(frozen=True)
class Report:
    """What a device tells the kiosk at every dock (and the kiosk tells central)."""

    model: str
    kind: str
    version: int
    slot: str
    root_version: int
    event: str


class FirmwareDevice:
    """One device's firmware directory. ``time_keys`` are the time keys it
    trusts, by name. The constructor does no I/O."""

    def __init__(self, path: Path, *, model: str, kind: str,
                 time_keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.path = path
        self.model = model
        self.kind = kind
        self.time_keys = dict(time_keys)
        self.slots = SlotStore(path / "slots")
        self.sink = ImageSink(path / "staging")
        self._nonce: bytes | None = None
        self._entry: ImageEntry | None = None

    # -- provisioning ------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *,
             time_keys: Mapping[str, Ed25519PublicKey]) -> FirmwareDevice:
        """The device provisioned in ``path`` (its model and kind from
        ``device.json``). Raises SlotError when it is not provisioned."""
        try:
            data = json.loads((path / "device.json").read_text())
            model, kind = str(data["model"]), str(data["kind"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SlotError("no provisioned firmware here", path=str(path)) from e
        return cls(path, model=model, kind=kind, time_keys=time_keys)

    @staticmethod
    def is_provisioned(path: Path) -> bool:
        return (path / "device.json").exists() and (path / "slots" / "boot.json").exists()

    @classmethod
    def provision_from(cls, path: Path, repository: Repository, target: str) -> FirmwareDevice:
        """At the factory, from the agency's repository: its newest root, and the
        signed image ``target`` (``JP5S/tablet-1.img``) in slot a, marked good.
        The image's file must hash to its signed entry. Raises RepositoryError
        (no such target, or its file missing or not matching) or SlotError
        (already provisioned)."""
        entries = {entry.name: entry for entry in repository.images()}
        entry = entries.get(target)
        if entry is None:
            raise RepositoryError("the factory image is not a target of the repository",
                                  target=target, expected=sorted(entries))
        image = repository.image_path(entry.sha256)
        try:
            length, sha256 = length_and_sha256(image)
        except OSError as e:
            raise RepositoryError(f"the factory image is unreadable: {e.strerror}",
                                  target=target, path=str(image)) from e
        if (length, sha256) != (entry.length, entry.sha256):
            raise RepositoryError("the factory image does not match its signed entry",
                                  target=target, expected=entry.sha256, observed=sha256)
        device = cls(path, model=entry.model, kind=entry.kind, time_keys={})
        device.provision((repository.metadata_dir / "root.json").read_bytes(), image,
                         SlotImage(entry.name, entry.version, entry.sha256))
        return device

    def provision(self, root: bytes, image: Path, slot_image: SlotImage) -> None:
        """At the factory: the agency's root metadata and the first image in slot a."""
        TrustedSet(TrustedMetadata(root))  # raises if the root does not sign itself
        (self.path / "trust").mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / "trust" / "root.json", root)
        self.slots.provision(image, slot_image)
        write_atomic(self.path / "device.json",
                     json.dumps({"model": self.model, "kind": self.kind}).encode())

    # -- what it runs ------------------------------------------------------------------

    def state(self) -> BootState:
        return self.slots.load()

    def installed(self) -> Installed:
        return Installed(self.model, self.kind, self.state().good_image.version)

    def report(self) -> Report:
        state = self.state()
        return Report(self.model, self.kind, state.good_image.version, state.good,
                      root_version(self.trusted().root), state.event)

    def trusted(self) -> TrustedMetadata:
        files = {role: self._read_trust(role) for role in ROLES}
        root = files.pop("root")
        if root is None:
            raise SlotError("the device holds no root metadata", path=str(self.path))
        return TrustedMetadata(root, files["timestamp"], files["snapshot"], files["targets"])

    def last_time(self) -> int:
        try:
            value = json.loads((self.path / "time.json").read_text())["last"]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return value if isinstance(value, int) else 0

    # -- an offer at a dock ------------------------------------------------------------

    def challenge(self) -> bytes:
        """A fresh nonce for the kiosk's time token (one per dock)."""
        self._nonce = new_nonce()
        return self._nonce

    def consider(self, name: str, metadata: bytes, token: bytes | None) -> ImageEntry:
        """Check the offer of the image ``name``: the metadata bundle, the time
        token answering this dock's nonce, then the image's signed entry against
        what the device runs. Keeps what verified (newer metadata, the later
        time) even when the image is then refused. Returns the entry; raises a
        VerificationError or a TimeError."""
        nonce, self._nonce = self._nonce, None  # a nonce answers once

        def accepted(issued: int) -> int | None:
            if token is None or nonce is None:
                return None
            taken = accept_time(token, nonce=nonce, keys=self.time_keys,
                                last=self.last_time(), latest_signed=issued)
            write_atomic(self.path / "time.json", json.dumps({"last": taken}).encode())
            return taken

        return self._check(name, MetadataBundle.from_bytes(metadata), accepted)

    def consider_own(self, name: str, bundle: MetadataBundle, clock: int) -> ImageEntry:
        """The same checks as :meth:`consider` for a kiosk updating itself from
        its own copy of the repository: expiry is checked at the kiosk's own
        clock ``clock`` (seconds; a kiosk keeps network time, a tablet never
        uses this), or the newest signed ``issued`` time if that is later."""
        return self._check(name, bundle, lambda issued: clock)

    def install_from(self, entry: ImageEntry, source: ImageSource) -> BootState:
        """Receive the entry :meth:`consider_own` returned from ``source`` (the
        kiosk's copy of the repository) as a tablet receives it at a dock, then
        :meth:`finish`: staged durably, bounded by the signed length, hashed,
        installed in the inactive slot on trial."""
        offset = self.begin(entry)
        while offset < entry.length:
            data = source.chunk(entry.sha256, offset, MAX_CHUNK)
            if not data:
                raise TransferError("the image ends before its signed length",
                                    target=entry.name, expected=entry.length,
                                    observed=offset)
            offset = self.write(offset, data)
        return self.finish()

    def take_time(self, token: bytes) -> int:
        """Accept the kiosk's time token for this dock's nonce when no offer came
        (the ceiling is the trusted timestamp's signed time). Returns the time;
        raises a TimeError."""
        nonce, self._nonce = self._nonce, None
        if nonce is None:
            raise NoTrustedTime("no nonce was made at this dock")
        timestamp = self._read_trust("timestamp")
        issued = signed_issued(timestamp) if timestamp is not None else 0
        accepted = accept_time(token, nonce=nonce, keys=self.time_keys, last=self.last_time(),
                               latest_signed=issued)
        write_atomic(self.path / "time.json", json.dumps({"last": accepted}).encode())
        return accepted

    def begin(self, entry: ImageEntry) -> int:
        """Start (or resume) receiving the entry :meth:`consider` returned."""
        if entry != self._entry:
            raise TransferError("only the image just considered can be received",
                                target=entry.name)
        return self.sink.begin(entry)

    def write(self, offset: int, data: bytes) -> int:
        return self.sink.write(offset, data)

    def finish(self) -> BootState:
        """Verify what was received and install it in the inactive slot."""
        entry = self.sink.entry
        if entry is None:
            raise TransferError("no image is being received")
        verified = self.sink.finish()
        state = self.slots.install(verified, entry)
        self.sink.discard()
        self._entry = None
        log.info("firmware %s installed in slot %s, on trial", entry.name, state.trying)
        return state

    # -- inside --------------------------------------------------------------------------

    def _check(self, name: str, bundle: MetadataBundle,
               accepted: Callable[[int], int | None]) -> ImageEntry:
        """The chain of checks (docs/firmware.md, "Verification on the device");
        ``accepted`` gives the time taken for expiry, from the newest signed
        ``issued`` time."""
        checks = TrustedSet(self.trusted())
        for root in bundle.roots:
            checks.update_root(root)
        checks.update_timestamp(bundle.timestamp)
        now = trusted_now(accepted(checks.issued), checks.issued)
        verified = checks.finish(bundle.snapshot, bundle.targets, now)
        self._keep(verified.trusted)
        entry = check_image(verified.targets, name, self.installed())
        self._entry = entry
        return entry

    def _keep(self, trusted: TrustedMetadata) -> None:
        # root first: a crash between files leaves an older timestamp with a
        # newer root, which only lowers nothing (the floors are per role)
        for role, data in (("root", trusted.root), ("timestamp", trusted.timestamp),
                           ("snapshot", trusted.snapshot), ("targets", trusted.targets)):
            if data is not None and data != self._read_trust(role):
                write_atomic(self.path / "trust" / f"{role}.json", data)

    def _read_trust(self, role: str) -> bytes | None:
        try:
            return (self.path / "trust" / f"{role}.json").read_bytes()
        except FileNotFoundError:
            return None

