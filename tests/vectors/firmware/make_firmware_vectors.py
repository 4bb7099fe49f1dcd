"""Make the committed firmware vectors from fixed TEST-ONLY keys.

    python tests/vectors/firmware/make_firmware_vectors.py     # rewrite the files
    (tests/firmware/test_vectors.py checks that this gives the same bytes)

The keys come from fixed seeds (their PEM files are written under keys/,
named TEST-ONLY), the times are fixed, Ed25519 signatures are deterministic,
python-tuf writes compact JSON and images are built with fixed owners and
times, so the output never changes unless the code that makes it does.
These keys protect nothing.

What is written: a repository whose targets role has a threshold of two
(root version 1, then version 2 rotating the timestamp key), one signed image
for the JP5S tablet (version 2), the metadata bundle a tablet that trusts
root version 1 receives, and a kiosk's time token.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from firmware_images.image import Manifest, build_image  # noqa: E402
from firmware_images.keys import signer_of  # noqa: E402
from firmware_images.repository import Lifetimes, Repository  # noqa: E402
from firmware_images.signed_time import sign_time  # noqa: E402

HERE = Path(__file__).resolve().parent
WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
NONCE = bytes(range(16))
KEY_NAMES = ("root-1", "root-2", "targets-1", "targets-2", "snapshot-1", "timestamp-1",
             "timestamp-2", "time-kiosk-K-B2-01")


def fixed_key(name: str) -> Ed25519PrivateKey:
    """A TEST-ONLY key derived from its name."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"sallyport TEST-ONLY firmware key: {name}".encode()).digest())


def image_source(directory: Path, version: int) -> Path:
    """A small image's directory: a fixed 'system' and a version file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "system").mkdir(exist_ok=True)
    (directory / "system" / "rootfs.bin").write_bytes(
        hashlib.sha256(f"rootfs {version}".encode()).digest() * 64)
    (directory / "VERSION").write_text(f"{version}\n")
    return directory


def vectors() -> dict[str, bytes]:
    signers = {name: signer_of(fixed_key(name)) for name in KEY_NAMES}
    out: dict[str, bytes] = {}
    for name in KEY_NAMES:
        out[f"keys/TEST-ONLY-{name}.pem"] = fixed_key(name).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        keys = {"root": [signers["root-1"].public_key, signers["root-2"].public_key],
                "targets": [signers["targets-1"].public_key, signers["targets-2"].public_key],
                "snapshot": [signers["snapshot-1"].public_key],
                "timestamp": [signers["timestamp-1"].public_key]}
        role_signers = {"root": [signers["root-1"], signers["root-2"]],
                        "targets": [signers["targets-1"], signers["targets-2"]],
                        "snapshot": [signers["snapshot-1"]],
                        "timestamp": [signers["timestamp-1"]]}
        repo = Repository.create(work / "repo", keys=keys,
                                 thresholds={"root": 2, "targets": 2}, signers=role_signers,
                                 now=WHEN, lifetimes=Lifetimes())
        image = build_image(image_source(work / "src", 2), work / "tablet-2.img",
                            Manifest("JP5S", "tablet", 2, 1, "2026.01 test image"))
        repo.add_image(image.path, signers=role_signers, now=WHEN)
        role_signers["timestamp"] = [signers["timestamp-2"]]
        repo.rotate("timestamp", [signers["timestamp-2"].public_key], 1,
                    signers=role_signers, now=WHEN)
        for name in ("1.root.json", "2.root.json", "targets.json", "snapshot.json",
                     "timestamp.json"):
            out[f"repository/metadata/{name}"] = (repo.metadata_dir / name).read_bytes()
        out["JP5S-tablet-2.img"] = image.path.read_bytes()
        out["bundle-from-root-1.cbor"] = repo.bundle(1).to_bytes()
        shutil.rmtree(work / "src")
    out["time-token.cbor"] = sign_time(fixed_key("time-kiosk-K-B2-01"), "K-B2-01", NONCE,
                                       int(WHEN.timestamp()) + 3600)
    return out


def main() -> int:
    for name, data in vectors().items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote tests/vectors/firmware/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
