"""The committed firmware vectors are what the script makes, byte for byte,
and a tablet that trusts root 1 accepts the committed bundle (through root 2)."""

from __future__ import annotations

import datetime

from firmware_images.bundle import MetadataBundle
from firmware_images.image import read_manifest
from firmware_images.trust import Installed, TrustedMetadata, check_image, verify_bundle
from tests.vectors.firmware.make_firmware_vectors import HERE, WHEN, vectors


def test_regenerating_gives_the_committed_bytes() -> None:
    made = vectors()
    for name, data in made.items():
        assert (HERE / name).read_bytes() == data, name
    committed = {p.relative_to(HERE).as_posix() for p in HERE.rglob("*")
                 if p.is_file() and p.suffix not in {".py", ".pyc"}}
    assert committed == set(made)


def test_the_committed_bundle_verifies_through_a_root_rotation() -> None:
    root = (HERE / "repository" / "metadata" / "1.root.json").read_bytes()
    bundle = MetadataBundle.from_bytes((HERE / "bundle-from-root-1.cbor").read_bytes())
    verified = verify_bundle(TrustedMetadata(root), bundle,
                             WHEN + datetime.timedelta(hours=1))
    assert verified.root_version == 2
    entry = check_image(verified.targets, "JP5S/tablet-2.img", Installed("JP5S", "tablet", 1))
    image = (HERE / "JP5S-tablet-2.img").read_bytes()
    assert entry.length == len(image)
    assert read_manifest(HERE / "JP5S-tablet-2.img").version == 2
