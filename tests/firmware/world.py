"""A firmware world for tests: a repository signed with the TEST-ONLY keys of
tests/vectors/firmware, images built from small directories, and tablets'
firmware directories provisioned with version 1 in slot a."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from securesystemslib.signer import Signer

from firmware_images.device import FirmwareDevice
from firmware_images.image import BuiltImage, Manifest, build_image
from firmware_images.keys import signer_of
from firmware_images.repository import Lifetimes, Repository
from firmware_images.signed_time import sign_time
from firmware_images.slots import SlotImage
from tests.vectors.firmware.make_firmware_vectors import WHEN, fixed_key

KIOSK = "K-B2-01"
TIME_KEY = fixed_key("time-kiosk-K-B2-01")
HOUR = datetime.timedelta(hours=1)


def signer(name: str) -> Signer:
    return signer_of(fixed_key(name))


def build(directory: Path, out: Path, version: int, *, min_version: int = 1,
          model: str = "JP5S", kind: str = "tablet", size: int = 4096,
          selftest: str = "pass") -> BuiltImage:
    src = directory / f"src-{model}-{kind}-{version}"
    src.mkdir(parents=True, exist_ok=True)
    seed = hashlib.sha256(f"{model} {kind} {version}".encode()).digest()
    blob = (seed * (size // 32 + 1))[:size]
    (src / "rootfs.bin").write_bytes(blob)
    return build_image(src, out, Manifest(model, kind, version, min_version,
                                          f"test {version}", selftest))


@dataclass
class Publisher:
    """The agency's repository with every key at hand (thresholds: targets 2)."""

    path: Path
    now: datetime.datetime = WHEN
    signers: dict[str, list[Signer]] = field(default_factory=lambda: {
        "root": [signer("root-1")], "targets": [signer("targets-1"), signer("targets-2")],
        "snapshot": [signer("snapshot-1")], "timestamp": [signer("timestamp-1")]})
    repo: Repository = field(init=False)

    def __post_init__(self) -> None:
        keys = {role: [s.public_key for s in ss] for role, ss in self.signers.items()}
        self.repo = Repository.create(self.path / "repo", keys=keys,
                                      thresholds={"targets": 2}, signers=self.signers,
                                      now=self.now, lifetimes=Lifetimes())

    def publish(self, version: int, **kwargs: object) -> BuiltImage:
        image = build(self.path, self.path / f"image-{version}.img", version,
                      **kwargs)  # type: ignore[arg-type]
        self.repo.add_image(image.path, signers=self.signers, now=self.now)
        return image

    def root(self, version: int = 1) -> bytes:
        return (self.repo.metadata_dir / f"{version}.root.json").read_bytes()

    def bundle(self, trusted_root: int = 1) -> bytes:
        return self.repo.bundle(trusted_root).to_bytes()


def provision(path: Path, publisher: Publisher, *, model: str = "JP5S") -> FirmwareDevice:
    device = FirmwareDevice(path, model=model, kind="tablet",
                            time_keys={KIOSK: TIME_KEY.public_key()})
    first = build(path.parent / f"{path.name}-factory", path.parent / f"{path.name}-1.img",
                  1, model=model)
    device.provision(publisher.root(1), first.path,
                     SlotImage(f"{model}/tablet-1.img", 1, first.sha256))
    return device


def token(device: FirmwareDevice, when: datetime.datetime) -> bytes:
    """The kiosk's answer to this dock's nonce, its clock reading ``when``."""
    return sign_time(TIME_KEY, KIOSK, device.challenge(), int(when.timestamp()))


def offer(device: FirmwareDevice, publisher: Publisher, name: str,
          when: datetime.datetime | None = None) -> object:
    """Consider ``name`` as offered now: the kiosk's clock reads ``when``, by
    default an hour after the repository signed, or a minute after the time
    the tablet accepted last."""
    if when is None:
        last = datetime.datetime.fromtimestamp(device.last_time(), datetime.UTC)
        when = max(publisher.now + HOUR, last + datetime.timedelta(minutes=1))
    return device.consider(name, publisher.bundle(device.report().root_version),
                           token(device, when))
