"""A copy of a tablet's storage shows no message text, photo or media bytes."""

import os
import shutil
from pathlib import Path

import pytest

from device_security.at_rest import SealedFiles, Sealer
from device_security.errors import IntegrityError
from device_security.secure_element import KeyFileSecureElement

MESSAGE = b"Hi Dad, the visit is on Saturday at 10. Love, Mia"
PHOTO = b"\xff\xd8\xff\xe0JFIF" + os.urandom(2000) + b"\xff\xd9"


@pytest.fixture
def element(tmp_path: Path) -> KeyFileSecureElement:
    se = KeyFileSecureElement(tmp_path / "secure-element.pem")
    se.generate()
    return se


def test_a_copied_store_reveals_nothing(tmp_path: Path, element: KeyFileSecureElement) -> None:
    store = SealedFiles(tmp_path / "storage", Sealer(element.derive_key(b"storage")))
    store.write("message/m-001", MESSAGE)
    store.write("photo/p-001.jpg", PHOTO)
    stolen = tmp_path / "stolen"
    shutil.copytree(tmp_path / "storage", stolen)
    everything = b"".join(p.read_bytes() + p.name.encode() for p in stolen.rglob("*"))
    for secret in (MESSAGE, b"visit is on Saturday", PHOTO[100:140], b"JFIF", b"m-001",
                   b"photo"):
        assert secret not in everything
    assert store.read("message/m-001") == MESSAGE
    assert sorted(store.labels()) == ["message/m-001", "photo/p-001.jpg"]


def test_another_devices_key_opens_nothing(tmp_path: Path, element: KeyFileSecureElement) -> None:
    store = SealedFiles(tmp_path / "storage", Sealer(element.derive_key(b"storage")))
    store.write("message/m-001", MESSAGE)
    other = KeyFileSecureElement(tmp_path / "other.pem")
    other.generate()
    thief = SealedFiles(tmp_path / "storage", Sealer(other.derive_key(b"storage")))
    with pytest.raises((IntegrityError, KeyError)):
        thief.read("message/m-001")
    with pytest.raises(IntegrityError):
        list(thief.labels())


def test_tampering_and_swapping_are_detected(tmp_path: Path,
                                             element: KeyFileSecureElement) -> None:
    sealer = Sealer(element.derive_key(b"storage"))
    store = SealedFiles(tmp_path / "storage", sealer)
    store.write("a", b"first")
    store.write("b", b"second")
    path_a = tmp_path / "storage" / sealer.name("a")
    path_b = tmp_path / "storage" / sealer.name("b")
    data = bytearray(path_a.read_bytes())
    data[-1] ^= 1
    path_a.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        store.read("a")
    path_a.write_bytes(path_b.read_bytes())  # b's file under a's name
    with pytest.raises(IntegrityError):
        store.read("a")


def test_sealed_values_are_bound_to_their_context(element: KeyFileSecureElement) -> None:
    sealer = Sealer(element.derive_key(b"storage"))
    sealed = sealer.seal(MESSAGE, b"messages/1/body")
    assert sealer.open(sealed, b"messages/1/body") == MESSAGE
    with pytest.raises(IntegrityError):
        sealer.open(sealed, b"messages/2/body")
    assert sealer.seal(MESSAGE, b"x") != sealer.seal(MESSAGE, b"x")  # fresh nonces


def test_the_key_depends_on_device_and_purpose(tmp_path: Path,
                                               element: KeyFileSecureElement) -> None:
    assert element.derive_key(b"storage") == element.derive_key(b"storage")
    assert element.derive_key(b"storage") != element.derive_key(b"receipts")
