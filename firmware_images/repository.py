"""The repository side: a TUF repository of firmware images in a directory,
made and signed with python-tuf's metadata API.

::

    <repository>/metadata/1.root.json, 2.root.json, ...   every root version
    <repository>/metadata/root.json                        the newest root
    <repository>/metadata/targets.json, snapshot.json, timestamp.json
    <repository>/images/<sha256>.img                       the images, by hash

Each target names an image by ``<model>/<kind>-<version>.img`` with its
length, SHA-256 and custom fields (``model``, ``kind``, ``version``,
``min_version``, ``label``). The timestamp also carries the time it was
signed (``x-sallyport-issued``, seconds): a device never believes a time
earlier than one central has signed (docs/firmware.md, "Time").

Signing takes the signers given. Fewer than a role's threshold may sign (the
others add their signatures later, each with their own key); a device refuses
metadata until the threshold is met, and :meth:`Repository.status` says what
is missing.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import RepositoryError as TufRepositoryError
from tuf.api.metadata import (
    TOP_LEVEL_ROLE_NAMES,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    T,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError

from base.files import write_atomic
from firmware_images.bundle import MetadataBundle
from firmware_images.errors import ImageFormatError, RepositoryError
from firmware_images.image import Manifest, read_manifest

ISSUED = "x-sallyport-issued"
CUSTOM = "sallyport"
ROLES = ("root", "targets", "snapshot", "timestamp")
_BLOCK = 1024 * 1024
Signers = Mapping[str, Sequence[Signer]]


@dataclass(frozen=True)
class Lifetimes:
    """How long each role's metadata stays valid once signed. The timestamp's is
    short: a device that is handed no fresh timestamp stops trusting the old one
    within a day, so nobody can keep it on old metadata for long."""

    root: datetime.timedelta = datetime.timedelta(days=365)
    targets: datetime.timedelta = datetime.timedelta(days=90)
    snapshot: datetime.timedelta = datetime.timedelta(days=14)
    timestamp: datetime.timedelta = datetime.timedelta(days=1)

    def of(self, role: str) -> datetime.timedelta:
        value: datetime.timedelta = getattr(self, role)
        return value


@dataclass(frozen=True)
class RoleStatus:
    role: str
    version: int
    expires: datetime.datetime
    threshold: int
    signed_by: int


@dataclass(frozen=True)
class ImageEntry:
    name: str
    length: int
    sha256: str
    model: str
    kind: str
    version: int
    min_version: int
    label: str


@dataclass(frozen=True)
class RepositoryStatus:
    roles: tuple[RoleStatus, ...]
    images: tuple[ImageEntry, ...] = field(default=())


def image_entry(name: str, target: TargetFile) -> ImageEntry:
    """A target's fields as the device reads them. Raises RepositoryError when
    the custom fields are missing or wrong."""
    custom = target.unrecognized_fields.get("custom", {}).get(CUSTOM) \
        if isinstance(target.unrecognized_fields.get("custom"), dict) else None
    if not isinstance(custom, dict) or "sha256" not in target.hashes:
        raise RepositoryError("a target without Sallyport's fields", target=name)
    try:
        manifest = Manifest.from_fields(custom)
    except ImageFormatError as e:
        raise RepositoryError(f"a target with wrong fields: {e.message}", target=name) from e
    return ImageEntry(name, target.length, target.hashes["sha256"], manifest.model,
                      manifest.kind, manifest.version, manifest.min_version, manifest.label)


class Repository:
    """A firmware repository in ``path``. The constructor does no I/O."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.metadata_dir = path / "metadata"
        self.images_dir = path / "images"

    # -- making one --------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, *, keys: Mapping[str, Sequence[Key]],
               thresholds: Mapping[str, int], signers: Signers, now: datetime.datetime,
               lifetimes: Lifetimes = Lifetimes()) -> Repository:
        """A new repository: root version 1 naming ``keys`` for each role with
        its threshold, and empty targets, snapshot and timestamp, signed by
        ``signers``. Raises RepositoryError for an existing repository, a role
        without keys or a threshold it cannot meet."""
        repo = cls(path)
        if repo.metadata_dir.exists():
            raise RepositoryError("a repository is already there", path=str(path))
        root = Root(expires=now + lifetimes.root, consistent_snapshot=False)
        for role in ROLES:
            role_keys = list(keys.get(role, ()))
            threshold = thresholds.get(role, 1)
            if not 1 <= threshold <= len(role_keys):
                raise RepositoryError("each role needs at least its threshold of keys",
                                      role=role, keys=len(role_keys), threshold=threshold)
            for key in role_keys:
                root.add_key(key, role)
            root.roles[role].threshold = threshold
        repo.metadata_dir.mkdir(parents=True)
        repo.images_dir.mkdir()
        repo._write_root(Metadata(root), signers.get("root", ()))
        targets = Targets(expires=now + lifetimes.targets)
        repo._publish(targets, signers, now, lifetimes)
        return repo

    # -- reading -----------------------------------------------------------------------

    def read(self, role: str, cls: type[T]) -> Metadata[T]:
        """The current metadata of ``role``. Raises RepositoryError."""
        return self._read(self.metadata_dir / f"{role}.json", cls)

    def root_version(self) -> int:
        return self.read("root", Root).signed.version

    def images(self) -> list[ImageEntry]:
        targets = self.read("targets", Targets).signed
        return [image_entry(name, t) for name, t in sorted(targets.targets.items())]

    def image_path(self, sha256: str) -> Path:
        """Where the image with this hash is kept (the name is checked: 64 hex digits)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise RepositoryError("an image is named by its SHA-256 in hex", observed=sha256)
        return self.images_dir / f"{sha256}.img"

    def bundle(self, trusted_root: int) -> MetadataBundle:
        """What a device that trusts root version ``trusted_root`` needs: the
        later roots, then the current timestamp, snapshot and targets."""
        newest = self.root_version()
        roots = tuple(self._bytes(f"{v}.root.json")
                      for v in range(trusted_root + 1, newest + 1))
        return MetadataBundle(roots, self._bytes("timestamp.json"),
                              self._bytes("snapshot.json"), self._bytes("targets.json"))

    def status(self) -> RepositoryStatus:
        root = self.read("root", Root).signed
        roles = []
        for role, cls in (("root", Root), ("targets", Targets), ("snapshot", Snapshot),
                          ("timestamp", Timestamp)):
            md: Metadata[Any] = self.read(role, cls)
            result = root.get_verification_result(role, md.signed_bytes, md.signatures)
            roles.append(RoleStatus(role, md.signed.version, md.signed.expires,
                                    root.roles[role].threshold, len(result.signed)))
        return RepositoryStatus(tuple(roles), tuple(self.images()))

    # -- changing it -------------------------------------------------------------------

    def add_image(self, image: Path, *, signers: Signers, now: datetime.datetime,
                  lifetimes: Lifetimes = Lifetimes()) -> ImageEntry:
        """Add the image file ``image`` (its manifest gives model, kind and
        versions) as a new target, then sign new targets, snapshot and timestamp.
        Raises ImageFormatError for a file that is not an image, RepositoryError
        for a version the repository already has for that model and kind."""
        manifest = read_manifest(image)
        length, sha = length_and_sha256(image)
        targets_md = self.read("targets", Targets)
        targets = targets_md.signed
        if manifest.target_name in targets.targets:
            raise RepositoryError("this version is already in the repository",
                                  target=manifest.target_name)
        shutil.copyfile(image, self.images_dir / f".{sha}.tmp")
        os.replace(self.images_dir / f".{sha}.tmp", self.image_path(sha))
        custom = {CUSTOM: {"model": manifest.model, "kind": manifest.kind,
                           "version": manifest.version, "min_version": manifest.min_version,
                           "label": manifest.label}}
        targets.targets[manifest.target_name] = TargetFile(
            length, {"sha256": sha}, manifest.target_name, {"custom": custom})
        targets.version += 1
        targets.expires = now + lifetimes.targets
        self._publish(targets, signers, now, lifetimes)
        return image_entry(manifest.target_name, targets.targets[manifest.target_name])

    def refresh(self, *, signers: Signers, now: datetime.datetime,
                lifetimes: Lifetimes = Lifetimes()) -> None:
        """A new timestamp (and snapshot) version, valid from ``now``: what the
        central server's timestamp key does every few hours."""
        self._publish(None, signers, now, lifetimes)

    def sign(self, role: str, signers: Sequence[Signer]) -> None:
        """Add signatures to the current metadata of ``role`` (threshold signing:
        each key holder adds theirs)."""
        if role not in ROLES:
            raise RepositoryError("an unknown role", observed=role)
        cls: type[Any] = {"root": Root, "targets": Targets, "snapshot": Snapshot,
                          "timestamp": Timestamp}[role]
        md: Metadata[Any] = self.read(role, cls)
        for signer in signers:
            md.sign(signer, append=True)
        if role == "root":
            self._write_bytes(f"{md.signed.version}.root.json", md.to_bytes())
        self._write_bytes(f"{role}.json", md.to_bytes())

    def rotate(self, role: str, new_keys: Sequence[Key], threshold: int, *,
               signers: Signers, now: datetime.datetime,
               lifetimes: Lifetimes = Lifetimes()) -> int:
        """Replace the keys of ``role`` with ``new_keys`` in a new root version,
        signed by ``signers['root']`` (it must hold the old root threshold and,
        when the root keys change, the new one too). When a signing role's keys
        change, its metadata is signed again by ``signers[role]``, and so are the
        roles after it. Returns the new root version."""
        if role not in ROLES or not 1 <= threshold <= len(new_keys):
            raise RepositoryError("an unknown role, or a threshold its keys cannot meet",
                                  role=role, keys=len(new_keys), threshold=threshold)
        root_md = self.read("root", Root)
        root = root_md.signed
        for keyid in list(root.roles[role].keyids):
            root.revoke_key(keyid, role)
        for key in new_keys:
            root.add_key(key, role)
        root.roles[role].threshold = threshold
        root.version += 1
        root.expires = now + lifetimes.root
        self._write_root(Metadata(root), signers.get("root", ()))
        if role != "root":
            targets = self.read("targets", Targets).signed
            if role == "targets":
                targets.version += 1
                targets.expires = now + lifetimes.targets
                self._publish(targets, signers, now, lifetimes)
            else:
                self._publish(None, signers, now, lifetimes)
        return root.version

    # -- inside ------------------------------------------------------------------------

    def _publish(self, targets: Targets | None, signers: Signers, now: datetime.datetime,
                 lifetimes: Lifetimes) -> None:
        """Write new targets (if given), then a new snapshot and timestamp."""
        if targets is not None:
            data = self._signed(Metadata(targets), signers.get("targets", ()))
            self._write_bytes("targets.json", data)
        targets_data = self._bytes("targets.json")
        targets_version = Metadata[Targets].from_bytes(targets_data).signed.version
        old_snapshot = self._maybe("snapshot.json", Snapshot)
        snapshot = Snapshot(version=old_snapshot.signed.version + 1 if old_snapshot else 1,
                            expires=now + lifetimes.snapshot,
                            meta={"targets.json": MetaFile(
                                targets_version, len(targets_data),
                                {"sha256": hashlib.sha256(targets_data).hexdigest()})})
        snapshot_data = self._signed(Metadata(snapshot), signers.get("snapshot", ()))
        old_timestamp = self._maybe("timestamp.json", Timestamp)
        timestamp = Timestamp(
            version=old_timestamp.signed.version + 1 if old_timestamp else 1,
            expires=now + lifetimes.timestamp,
            snapshot_meta=MetaFile(snapshot.version, len(snapshot_data),
                                   {"sha256": hashlib.sha256(snapshot_data).hexdigest()}),
            unrecognized_fields={ISSUED: int(now.timestamp())})
        timestamp_data = self._signed(Metadata(timestamp), signers.get("timestamp", ()))
        # snapshot before timestamp: a reader never sees a timestamp naming a
        # snapshot that is not there yet
        self._write_bytes("snapshot.json", snapshot_data)
        self._write_bytes("timestamp.json", timestamp_data)

    def _write_root(self, md: Metadata[Root], signers: Sequence[Signer]) -> None:
        data = self._signed(md, signers)
        self._write_bytes(f"{md.signed.version}.root.json", data)
        self._write_bytes("root.json", data)

    @staticmethod
    def _signed(md: Metadata[Any], signers: Sequence[Signer]) -> bytes:
        md.signatures.clear()
        for signer in signers:
            md.sign(signer, append=True)
        data: bytes = md.to_bytes()
        return data

    def _write_bytes(self, name: str, data: bytes) -> None:
        write_atomic(self.metadata_dir / name, data)

    def _bytes(self, name: str) -> bytes:
        try:
            return (self.metadata_dir / name).read_bytes()
        except OSError as e:
            raise RepositoryError(f"cannot read {name}: {e.strerror}",
                                  path=str(self.metadata_dir / name)) from e

    def _read(self, path: Path, cls: type[T]) -> Metadata[T]:
        try:
            md = Metadata[T].from_bytes(path.read_bytes())
        except OSError as e:
            raise RepositoryError(f"cannot read {path.name}: {e.strerror}",
                                  path=str(path)) from e
        except (DeserializationError, TufRepositoryError, ValueError) as e:
            raise RepositoryError(f"{path.name} is not TUF metadata: {e}",
                                  path=str(path)) from e
        if not isinstance(md.signed, cls):
            raise RepositoryError(f"{path.name} is not {cls.type} metadata", path=str(path))
        return md

    def _maybe(self, name: str, cls: type[T]) -> Metadata[T] | None:
        path = self.metadata_dir / name
        return self._read(path, cls) if path.exists() else None


def length_and_sha256(path: Path) -> tuple[int, str]:
    """A file's length and SHA-256 (hex). Raises OSError."""
    digest = hashlib.sha256()
    length = 0
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            length += len(block)
    return length, digest.hexdigest()


assert set(ROLES) == set(TOP_LEVEL_ROLE_NAMES)
