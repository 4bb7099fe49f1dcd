"""The demo facility's firmware: an agency repository with keys of its own
(made fresh for each demo, like its CA), the factory image every simulated
tablet is provisioned with, and later images to publish.

::

    <directory>/keys/<role>.pem        one Ed25519 key per role (threshold 1)
    <directory>/repository/            the agency's signed repository
    <directory>/build/<version>/       what each image is built from

The keys made here are for a simulator only.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_images.image import Manifest, build_image
from firmware_images.keys import generate_key_file, load_signer
from firmware_images.repository import ROLES, ImageEntry, Repository

MODEL = "JP5S"  # the simulated tablets' model
FACTORY_VERSION = 1


def target_name(version: int) -> str:
    return f"{MODEL}/tablet-{version}.img"


FACTORY_IMAGE = target_name(FACTORY_VERSION)


@dataclass(frozen=True)
class DemoFirmware:
    """The demo agency's firmware repository in ``directory``."""

    directory: Path
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)

    @property
    def repository(self) -> Repository:
        return Repository(self.directory / "repository")

    def signers(self) -> dict[str, list[Any]]:
        return {role: [load_signer(self.directory / "keys" / f"{role}.pem")] for role in ROLES}

    @classmethod
    def create(cls, directory: Path) -> DemoFirmware:
        """Keys, a repository, and the factory image (version 1) signed in it."""
        made = cls(directory)
        (directory / "keys").mkdir(parents=True, exist_ok=True)
        signers = {role: [generate_key_file(directory / "keys" / f"{role}.pem")]
                   for role in ROLES}
        Repository.create(directory / "repository",
                          keys={role: [s.public_key for s in ss] for role, ss in signers.items()},
                          thresholds={}, signers=signers, now=made.clock())
        made.add(FACTORY_VERSION, "factory")
        return made

    def add(self, version: int, label: str, *, size: int = 64 * 1024,
            selftest: str = "pass") -> ImageEntry:
        """Build the tablet image ``version`` (a small root file system of
        ``size`` bytes) and sign it into the repository."""
        source = self.directory / "build" / str(version)
        source.mkdir(parents=True, exist_ok=True)
        (source / "release.txt").write_text(f"Sallyport demo tablet firmware {version} "
                                            f"({label})\n")
        pattern = f"demo firmware {version}\n".encode()
        (source / "rootfs.bin").write_bytes((pattern * (size // len(pattern) + 1))[:size])
        built = build_image(source, self.directory / "build" / f"tablet-{version}.img",
                            Manifest(MODEL, "tablet", version, FACTORY_VERSION, label, selftest))
        return self.repository.add_image(built.path, signers=self.signers(), now=self.clock())
