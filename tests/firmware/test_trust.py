"""The device's checks of signed metadata and images: each "must never
happen" of firmware tried against a real repository signed with test keys."""

from __future__ import annotations

import contextlib
import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp

from firmware_images.bundle import MetadataBundle
from firmware_images.errors import (
    ExpiredError,
    FirmwareError,
    LengthError,
    MalformedMetadata,
    MixAndMatchError,
    NotForDevice,
    RollbackError,
    ThresholdError,
)
from firmware_images.trust import (
    Installed,
    TrustedMetadata,
    TrustedSet,
    check_image,
    choose_image,
    verify_bundle,
)
from tests.firmware.world import HOUR, Publisher, offer, provision, signer

JP5S = Installed("JP5S", "tablet", 1)


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return Publisher(tmp_path)


def test_a_signed_image_is_chosen_and_checked(publisher: Publisher) -> None:
    publisher.publish(2)
    publisher.publish(3, min_version=2)
    verified = verify_bundle(TrustedMetadata(publisher.root()),
                             MetadataBundle.from_bytes(publisher.bundle()), publisher.now + HOUR)
    # version 3 needs 2 installed first: a tablet on 1 is offered 2
    chosen = choose_image(verified.targets, JP5S)
    assert chosen is not None and chosen.version == 2
    assert choose_image(verified.targets, Installed("JP5S", "tablet", 2)).version == 3  # type: ignore[union-attr]
    assert choose_image(verified.targets, Installed("JP5S", "tablet", 3)) is None
    assert choose_image(verified.targets, Installed("JP6", "tablet", 1)) is None
    with pytest.raises(NotForDevice):
        check_image(verified.targets, "JP5S/tablet-3.img", JP5S)
    with pytest.raises(NotForDevice):
        check_image(verified.targets, "JP5S/tablet-9.img", JP5S)
    with pytest.raises(NotForDevice):
        check_image(verified.targets, "JP5S/tablet-2.img", Installed("JP5S", "kiosk", 1))


def test_an_image_signed_by_one_key_of_a_threshold_of_two_is_refused(
        publisher: Publisher, tmp_path: Path) -> None:
    device = provision(tmp_path / "tablet", publisher)
    publisher.signers["targets"] = [signer("targets-1")]  # the second key holder is absent
    publisher.publish(2)
    assert publisher.repo.status().roles[1].signed_by == 1
    with pytest.raises(ThresholdError) as refused:
        offer(device, publisher, "JP5S/tablet-2.img")
    assert refused.value.fields["role"] == "targets"
    assert device.report().version == 1 and device.state().trying is None
    # a key that is not the role's does not count towards its threshold
    publisher.signers["targets"] = [signer("targets-1"), signer("snapshot-1")]
    publisher.repo.sign("targets", publisher.signers["targets"])
    publisher.repo.refresh(signers=publisher.signers, now=publisher.now)
    with pytest.raises(ThresholdError):
        offer(device, publisher, "JP5S/tablet-2.img")
    # once the second holder signs, the same image is accepted
    publisher.repo.sign("targets", [signer("targets-2")])
    publisher.repo.refresh(signers=publisher.signers, now=publisher.now)
    assert offer(device, publisher, "JP5S/tablet-2.img").version == 2  # type: ignore[attr-defined]


def test_replayed_old_metadata_is_refused(publisher: Publisher, tmp_path: Path) -> None:
    device = provision(tmp_path / "tablet", publisher)
    publisher.publish(2)
    old = publisher.bundle()
    publisher.publish(3)
    offer(device, publisher, "JP5S/tablet-3.img")
    from tests.firmware.world import token
    for name in ("JP5S/tablet-2.img", "JP5S/tablet-3.img"):
        with pytest.raises(RollbackError) as refused:
            device.consider(name, old, token(device, publisher.now + 2 * HOUR))
        assert refused.value.fields["role"] == "timestamp"


def test_a_replayed_older_image_is_refused_after_a_newer_one(publisher: Publisher,
                                                            tmp_path: Path) -> None:
    """The tablet runs 3; version 2 is still signed in the repository: refused."""
    device = provision(tmp_path / "tablet", publisher)
    publisher.publish(2)
    publisher.publish(3)
    for version in (2, 3):
        entry = offer(device, publisher, f"JP5S/tablet-{version}.img",
                      publisher.now + version * HOUR)
        device.begin(entry)  # type: ignore[arg-type]
        data = (publisher.path / f"image-{version}.img").read_bytes()
        device.write(0, data)
        device.finish()
        device.slots.boot()
        device.slots.mark_good(device.state().trying or "")
    assert device.report().version == 3
    with pytest.raises(RollbackError):
        offer(device, publisher, "JP5S/tablet-2.img", publisher.now + 5 * HOUR)
    with pytest.raises(RollbackError):
        offer(device, publisher, "JP5S/tablet-3.img", publisher.now + 6 * HOUR)


def test_a_timestamp_with_an_older_snapshot_is_refused(publisher: Publisher) -> None:
    publisher.publish(2)
    trusted = verify_bundle(TrustedMetadata(publisher.root()),
                            MetadataBundle.from_bytes(publisher.bundle()),
                            publisher.now + HOUR).trusted
    # a timestamp re-signed (a newer version) but naming the older snapshot
    ts_md = Metadata[Timestamp].from_bytes(trusted.timestamp or b"")
    old_snapshot = Metadata[Snapshot].from_bytes(trusted.snapshot or b"")
    ts_md.signed.version += 1
    ts_md.signed.snapshot_meta.version = old_snapshot.signed.version - 1
    ts_md.sign(signer("timestamp-1"))
    bundle = MetadataBundle((), ts_md.to_bytes(), trusted.snapshot or b"",
                            trusted.targets or b"")
    with pytest.raises(RollbackError):
        verify_bundle(trusted, bundle, publisher.now + HOUR)


def test_mix_and_match_of_two_snapshots_is_refused(publisher: Publisher) -> None:
    publisher.publish(2)
    first = publisher.repo.bundle(1)
    publisher.publish(3)
    second = publisher.repo.bundle(1)
    trusted = TrustedMetadata(publisher.root())
    now = publisher.now + HOUR
    # the new timestamp with the old snapshot (and its targets)
    with pytest.raises(MixAndMatchError):
        verify_bundle(trusted, MetadataBundle((), second.timestamp, first.snapshot,
                                              first.targets), now)
    # the new timestamp and snapshot with the old targets
    with pytest.raises(MixAndMatchError):
        verify_bundle(trusted, MetadataBundle((), second.timestamp, second.snapshot,
                                              first.targets), now)
    # the old timestamp and snapshot with the new targets
    with pytest.raises(MixAndMatchError):
        verify_bundle(trusted, MetadataBundle((), first.timestamp, first.snapshot,
                                              second.targets), now)
    # a snapshot signed properly but with another version than the timestamp names
    snap = Metadata[Snapshot].from_bytes(second.snapshot)
    snap.signed.version += 1
    snap.sign(signer("snapshot-1"))
    with pytest.raises(MixAndMatchError):
        verify_bundle(trusted, MetadataBundle((), second.timestamp, snap.to_bytes(),
                                              second.targets), now)


def test_expired_metadata_is_refused_at_the_trusted_time(publisher: Publisher) -> None:
    publisher.publish(2)
    bundle = MetadataBundle.from_bytes(publisher.bundle())
    trusted = TrustedMetadata(publisher.root())
    with pytest.raises(ExpiredError) as refused:
        verify_bundle(trusted, bundle, publisher.now + datetime.timedelta(days=2))
    assert refused.value.fields["role"] == "timestamp"
    # a fresh timestamp does not make an expired snapshot valid
    publisher.now += datetime.timedelta(days=20)
    publisher.repo.sign("timestamp", [])  # nothing; the refresh below re-signs
    later = publisher.now + HOUR
    publisher.repo.refresh(signers=publisher.signers, now=publisher.now)
    assert verify_bundle(trusted, MetadataBundle.from_bytes(publisher.bundle()), later)
    with pytest.raises(ExpiredError) as refused:
        verify_bundle(trusted, MetadataBundle.from_bytes(publisher.bundle()),
                      publisher.now + datetime.timedelta(days=100))
    assert refused.value.fields["role"] in {"root", "timestamp", "snapshot", "targets"}


def test_targets_edited_after_signing_are_refused(publisher: Publisher) -> None:
    """A mirror that lengthens a target (to feed endless data) breaks the chain."""
    publisher.publish(2)
    bundle = publisher.repo.bundle(1)
    md = Metadata[Targets].from_bytes(bundle.targets)
    md.signed.targets["JP5S/tablet-2.img"].length = 10**12
    tampered = md.to_bytes()
    with pytest.raises(MixAndMatchError):
        verify_bundle(TrustedMetadata(publisher.root()),
                      MetadataBundle((), bundle.timestamp, bundle.snapshot, tampered),
                      publisher.now + HOUR)


def test_key_rotation_through_a_new_root(publisher: Publisher, tmp_path: Path) -> None:
    publisher.publish(2)
    device = provision(tmp_path / "tablet", publisher)
    offer(device, publisher, "JP5S/tablet-2.img")
    # the targets keys are replaced (lost laptop): root 2, signed by the old root key
    new_targets = [signer("targets-2"), signer("timestamp-2")]
    publisher.signers["targets"] = new_targets
    assert publisher.repo.rotate("targets", [s.public_key for s in new_targets], 2,
                                 signers=publisher.signers, now=publisher.now) == 2
    publisher.publish(3)
    entry = offer(device, publisher, "JP5S/tablet-3.img", publisher.now + 2 * HOUR)
    assert entry.version == 3  # type: ignore[attr-defined]
    assert device.report().root_version == 2
    # metadata signed by the old targets pair is now refused
    publisher.signers["targets"] = [signer("targets-1"), signer("targets-2")]
    publisher.publish(4)
    with pytest.raises(ThresholdError):
        offer(device, publisher, "JP5S/tablet-4.img", publisher.now + 3 * HOUR)


def test_a_root_not_signed_by_the_old_root_keys_is_refused(publisher: Publisher) -> None:
    """An attacker's root 2 naming their own keys, signed only by them."""
    publisher.publish(2)
    root1 = publisher.root()
    evil = Metadata.from_bytes(root1)
    evil.signed.version = 2
    for keyid in list(evil.signed.roles["root"].keyids):
        evil.signed.revoke_key(keyid, "root")
    evil.signed.add_key(signer("time-kiosk-K-B2-01").public_key, "root")
    evil.sign(signer("time-kiosk-K-B2-01"))
    checks = TrustedSet(TrustedMetadata(root1))
    with pytest.raises(ThresholdError):
        checks.update_root(evil.to_bytes())
    skipped = Metadata.from_bytes(root1)
    skipped.signed.version = 3
    skipped.sign(signer("root-1"))
    with pytest.raises(RollbackError):
        checks.update_root(skipped.to_bytes())


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048))
def test_malformed_bundles_raise_only_firmware_errors(data: bytes) -> None:
    with contextlib.suppress(FirmwareError):
        MetadataBundle.from_bytes(data)


@settings(max_examples=40, deadline=None)
@given(role=st.sampled_from(["timestamp", "snapshot", "targets"]), position=st.integers(0, 10**6),
       byte=st.integers(0, 255))
def test_a_flipped_byte_anywhere_in_the_metadata_is_refused(
        tmp_path_factory: pytest.TempPathFactory, role: str, position: int, byte: int) -> None:
    publisher = _shared(tmp_path_factory)
    bundle = publisher.repo.bundle(1)
    parts = {"timestamp": bundle.timestamp, "snapshot": bundle.snapshot,
             "targets": bundle.targets}
    original = parts[role]
    data = bytearray(original)
    index = position % len(data)
    if data[index] == byte:
        return
    data[index] = byte
    parts[role] = bytes(data)
    try:
        verify_bundle(TrustedMetadata(publisher.root()),
                      MetadataBundle((), parts["timestamp"], parts["snapshot"],
                                     parts["targets"]), publisher.now + HOUR)
    except (MalformedMetadata, ThresholdError, MixAndMatchError, RollbackError,
            LengthError, ExpiredError):
        return
    # accepted only when the change is not in what was signed (a signature's
    # hex digit in upper case reads as the same signature)
    assert role == "timestamp"
    assert Metadata.from_bytes(bytes(data)).signed_bytes == \
        Metadata.from_bytes(original).signed_bytes


_SHARED: dict[str, Publisher] = {}


def _shared(factory: pytest.TempPathFactory) -> Publisher:
    if "p" not in _SHARED:
        publisher = Publisher(factory.mktemp("shared"))
        publisher.publish(2)
        _SHARED["p"] = publisher
    return _SHARED["p"]
