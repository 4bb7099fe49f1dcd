"""What a device trusts, and the checks new metadata must pass: a pure core
(no I/O, no clock: the time is a value passed in) in the manner of
python-tuf's ``TrustedMetadataSet``, whose ngclient takes the time from the
system clock, which a tablet does not have. docs/firmware.md ("Verification")
gives the order.

Metadata is loaded in order: the roots after the trusted one, each signed by
the threshold of the previous root and of itself; the timestamp; then, once
the caller has a trusted time, the expiry of root and timestamp, the snapshot
the timestamp names (length, hash and version) and the targets the snapshot
names (version). No role's version may go below the one trusted before, so
replayed old metadata is refused; a snapshot or targets that another
timestamp or snapshot names is refused as mix-and-match.

Every check raises a VerificationError (firmware_images/errors.py).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from securesystemslib.exceptions import FormatError, UnsupportedAlgorithmError
from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Signed, Snapshot, T, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from firmware_images.bundle import MetadataBundle
from firmware_images.errors import (
    ExpiredError,
    MalformedMetadata,
    MixAndMatchError,
    NotForDevice,
    RepositoryError,
    RollbackError,
    ThresholdError,
    VerificationError,
)
from firmware_images.repository import ISSUED, ImageEntry, image_entry

MAX_METADATA = 48 * 1024  # one role's metadata


@dataclass(frozen=True)
class TrustedMetadata:
    """The metadata a device trusts, as the exact bytes it verified; kept on the
    device between docks. ``root`` is required (provisioned with the device)."""

    root: bytes
    timestamp: bytes | None = None
    snapshot: bytes | None = None
    targets: bytes | None = None


@dataclass(frozen=True)
class Verified:
    """Metadata that passed every check at ``now``: the new trusted state and
    the targets to choose an image from."""

    trusted: TrustedMetadata
    targets: Targets
    root_version: int
    issued: int
    now: datetime.datetime


@dataclass(frozen=True)
class Installed:
    """What a device runs: its model, its kind (tablet or kiosk), the version in
    its good slot."""

    model: str
    kind: str
    version: int


class TrustedSet:
    """The checks, step by step, over values. Use :func:`verify_bundle` for
    the whole sequence, or call :meth:`update_root` (each new root),
    :meth:`update_timestamp`, then :meth:`finish` with the trusted time."""

    def __init__(self, trusted: TrustedMetadata) -> None:
        root_md = _load(trusted.root, Root, "root")
        _verify(root_md.signed, "root", root_md)
        self.root = root_md.signed
        self._root_bytes = trusted.root
        self._old = trusted
        # The versions nothing may go below, from what was trusted before.
        self.floor_timestamp = 0
        self.floor_snapshot = 0
        self.floor_targets = 0
        self.issued = 0
        if trusted.timestamp is not None:
            old_ts = _load(trusted.timestamp, Timestamp, "timestamp").signed
            self.floor_timestamp = old_ts.version
            self.floor_snapshot = old_ts.snapshot_meta.version
            self.issued = _issued(old_ts)
        if trusted.snapshot is not None:
            old_snap = _load(trusted.snapshot, Snapshot, "snapshot").signed
            self.floor_snapshot = max(self.floor_snapshot, old_snap.version)
            meta = old_snap.meta.get("targets.json")
            self.floor_targets = meta.version if meta else 0
        if trusted.targets is not None:
            old_targets = _load(trusted.targets, Targets, "targets").signed
            self.floor_targets = max(self.floor_targets, old_targets.version)
        self.timestamp: Timestamp | None = None
        self._timestamp_bytes: bytes | None = None

    def update_root(self, data: bytes) -> Root:
        """The next root version, signed by the threshold of the trusted root
        and of itself. A rotation of the timestamp or snapshot keys lets their
        versions start again (TUF's recovery from a fast-forward attack)."""
        if self.timestamp is not None:
            raise VerificationError("roots come before the timestamp")
        md = _load(data, Root, "root")
        new = md.signed
        if new.version != self.root.version + 1:
            raise RollbackError("root versions follow one another",
                                role="root", expected=self.root.version + 1,
                                observed=new.version)
        _verify(self.root, "root", md)
        _verify(new, "root", md)
        if new.roles["timestamp"].keyids != self.root.roles["timestamp"].keyids:
            self.floor_timestamp = 0
            self.floor_snapshot = 0
        if new.roles["snapshot"].keyids != self.root.roles["snapshot"].keyids:
            self.floor_snapshot = 0
        if new.roles["targets"].keyids != self.root.roles["targets"].keyids:
            self.floor_targets = 0
        self.root = new
        self._root_bytes = data
        return new

    def update_timestamp(self, data: bytes) -> Timestamp:
        """The timestamp, signed by the threshold of the root's timestamp keys,
        not older than the one trusted. Its expiry waits for :meth:`finish`.
        Returns it; :attr:`issued` is then the latest signed time known."""
        md = _load(data, Timestamp, "timestamp")
        _verify(self.root, "timestamp", md)
        ts = md.signed
        if ts.version < self.floor_timestamp:
            raise RollbackError("an older timestamp than the one trusted", role="timestamp",
                                expected=self.floor_timestamp, observed=ts.version)
        if ts.version == self.floor_timestamp and self._old.timestamp is not None \
                and data != self._old.timestamp:
            raise RollbackError("a different timestamp with the version already trusted",
                                role="timestamp", observed=ts.version)
        if ts.snapshot_meta.version < self.floor_snapshot:
            raise RollbackError("the timestamp names an older snapshot than the one trusted",
                                role="snapshot", expected=self.floor_snapshot,
                                observed=ts.snapshot_meta.version)
        self.timestamp = ts
        self._timestamp_bytes = data
        self.issued = max(self.issued, _issued(ts))
        return ts

    def finish(self, snapshot: bytes, targets: bytes, now: datetime.datetime) -> Verified:
        """Check expiry at ``now`` (a trusted time), then the snapshot and the
        targets. Returns the verified state to keep."""
        ts = self.timestamp
        if ts is None or self._timestamp_bytes is None:
            raise VerificationError("the timestamp comes before the snapshot")
        _fresh(self.root, "root", now)
        _fresh(ts, "timestamp", now)
        snap_md = _load(snapshot, Snapshot, "snapshot")
        try:
            ts.snapshot_meta.verify_length_and_hashes(snapshot)
        except LengthOrHashMismatchError as e:
            raise MixAndMatchError("the snapshot is not the one the timestamp names",
                                   role="snapshot", reason=str(e)) from e
        _verify(self.root, "snapshot", snap_md)
        snap = snap_md.signed
        if snap.version != ts.snapshot_meta.version:
            raise MixAndMatchError("the snapshot's version is not the timestamp's",
                                   role="snapshot", expected=ts.snapshot_meta.version,
                                   observed=snap.version)
        if snap.version < self.floor_snapshot:
            raise RollbackError("an older snapshot than the one trusted", role="snapshot",
                                expected=self.floor_snapshot, observed=snap.version)
        _fresh(snap, "snapshot", now)
        meta = snap.meta.get("targets.json")
        if meta is None:
            raise MixAndMatchError("the snapshot does not name the targets", role="snapshot")
        try:
            meta.verify_length_and_hashes(targets)
        except LengthOrHashMismatchError as e:
            raise MixAndMatchError("the targets are not the ones the snapshot names",
                                   role="targets", reason=str(e)) from e
        if meta.version < self.floor_targets:
            raise RollbackError("the snapshot names older targets than the ones trusted",
                                role="targets", expected=self.floor_targets,
                                observed=meta.version)
        targets_md = _load(targets, Targets, "targets")
        _verify(self.root, "targets", targets_md)
        tgt = targets_md.signed
        if tgt.version != meta.version:
            raise MixAndMatchError("the targets' version is not the one the snapshot names",
                                   role="targets", expected=meta.version, observed=tgt.version)
        _fresh(tgt, "targets", now)
        trusted = TrustedMetadata(self._root_bytes, self._timestamp_bytes, snapshot, targets)
        return Verified(trusted, tgt, self.root.version, self.issued, now)


def verify_bundle(trusted: TrustedMetadata, bundle: MetadataBundle,
                  now: datetime.datetime) -> Verified:
    """Every check of :class:`TrustedSet` on ``bundle`` at the trusted time ``now``."""
    checks = TrustedSet(trusted)
    for root in bundle.roots:
        checks.update_root(root)
    checks.update_timestamp(bundle.timestamp)
    return checks.finish(bundle.snapshot, bundle.targets, now)


def all_images(targets: Targets) -> list[ImageEntry]:
    """Every image the targets name, by name (targets without Sallyport's
    fields are left out)."""
    found = []
    for name, target in sorted(targets.targets.items()):
        try:
            found.append(image_entry(name, target))
        except RepositoryError:
            continue
    return found


def images_for(targets: Targets, device: Installed) -> list[ImageEntry]:
    """The images for this device's model and kind, newest first."""
    return sorted((e for e in all_images(targets)
                   if (e.model, e.kind) == (device.model, device.kind)),
                  key=lambda e: e.version, reverse=True)


def choose_image(targets: Targets, device: Installed) -> ImageEntry | None:
    """The newest image this device may install now: later than what it runs,
    and made to replace it (``min_version`` at most its version); or None."""
    for entry in images_for(targets, device):
        if entry.version <= device.version:
            return None
        if entry.min_version <= device.version:
            return entry
    return None


def check_image(targets: Targets, name: str, device: Installed) -> ImageEntry:
    """The signed entry of the image ``name`` for this device, or raises:
    NotForDevice (unknown, another model or kind, or it needs a later version
    installed first) or RollbackError (not later than what the device runs)."""
    target = targets.targets.get(name)
    if target is None:
        raise NotForDevice("the signed targets do not name this image", target=name)
    try:
        entry = image_entry(name, target)
    except RepositoryError as e:
        raise NotForDevice(e.message, target=name) from e
    if (entry.model, entry.kind) != (device.model, device.kind):
        raise NotForDevice("an image for another device", target=name,
                           expected=f"{device.model}/{device.kind}",
                           observed=f"{entry.model}/{entry.kind}")
    if entry.version <= device.version:
        raise RollbackError("not later than the version installed", target=name,
                            expected=f"> {device.version}", observed=entry.version)
    if entry.min_version > device.version:
        raise NotForDevice("the image needs a later version installed first", target=name,
                           expected=entry.min_version, observed=device.version)
    return entry


def signed_issued(timestamp: bytes) -> int:
    """The ``issued`` time of timestamp metadata the device verified before."""
    return _issued(_load(timestamp, Timestamp, "timestamp").signed)


def root_version(root: bytes) -> int:
    """The version of the root metadata ``root`` (not verified)."""
    return _load(root, Root, "root").signed.version


def _load(data: bytes, cls: type[T], role: str) -> Metadata[T]:
    if len(data) > MAX_METADATA:
        raise MalformedMetadata("metadata larger than a role's limit", role=role,
                                observed=len(data))
    try:
        md = Metadata[T].from_bytes(data)
    except (DeserializationError, ValueError, TypeError, KeyError) as e:
        raise MalformedMetadata(f"not TUF metadata: {e}", role=role) from e
    if not isinstance(md.signed, cls):
        raise MalformedMetadata("metadata of another role", role=role,
                                observed=md.signed.type)
    return md


def _verify(delegator: Root, role: str, md: Metadata[Any]) -> None:
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as e:
        raise ThresholdError("not signed by the threshold of the role's keys", role=role,
                             version=md.signed.version, reason=str(e)) from e
    except (ValueError, FormatError, UnsupportedAlgorithmError) as e:
        raise MalformedMetadata(f"cannot check the signatures: {e}", role=role) from e


def _fresh(signed: Signed, role: str, now: datetime.datetime) -> None:
    if signed.is_expired(now):
        raise ExpiredError("metadata expired at the trusted time", role=role,
                           version=signed.version, expires=signed.expires.isoformat(),
                           now=now.isoformat())


def _issued(ts: Timestamp) -> int:
    value = ts.unrecognized_fields.get(ISSUED, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) \
        and 0 <= value < 2**40 else 0
