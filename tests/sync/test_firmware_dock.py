"""The firmware step at the dock, over the simulated USB cable with mutual
TLS: the tablet reports what it runs, takes the kiosk's signed time and the
agency's feature switches, and an image reaches its other slot over several
unplugs; refused images are answered with why, and the session still ends
well. The kiosk's key, from the handshake, is the only time key the tablet
believes."""

from __future__ import annotations

import datetime
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.channel import SecureChannel
from firmware_images.boot import start
from firmware_images.dock import TIME_KEY, KioskDockFirmware, TabletDockFirmware, read_features
from firmware_images.image import read_manifest
from firmware_images.signed_time import sign_time
from simulators.link import Fault
from sync.firmware_step import FirmwareStatus, OfferedImage
from sync.session import FIRMWARE_CHUNK, SessionSummary
from tests.device_security.conftest import Facility
from tests.firmware.world import Publisher, provision, signer
from tests.sync.rig import SyncRig

MB = 1024 * 1024


class FirmwareWorld:
    """A rig whose kiosk holds the agency's repository and whose tablet has
    firmware version 1 in slot a; the kiosk's clock moves an hour a dock."""

    def __init__(self, root: Path, facility: Facility, *,
                 kiosk_key: Ed25519PrivateKey | None = None) -> None:
        self.rig = SyncRig(root, facility)
        self.publisher = Publisher(root / "agency")
        self.device = provision(root / "tablet-firmware", self.publisher)
        self.features_path = root / "features.json"
        self.clock = self.publisher.now
        self.statuses: list[tuple[str, FirmwareStatus]] = []
        self.refusals: list[tuple[str, str, str]] = []
        self.reaches: set[str] = {self.rig.serial}
        self.switches: tuple[int, dict[str, bool]] = (0, {})
        time_key = kiosk_key or self.rig.kiosk_id.key
        self.tablet_ends: list[TabletDockFirmware] = []

        def sign(nonce: bytes) -> bytes:
            self.clock += datetime.timedelta(hours=1)
            return sign_time(time_key, TIME_KEY, nonce, int(self.clock.timestamp()))

        def kiosk_end() -> KioskDockFirmware:
            return KioskDockFirmware(
                self.publisher.repo, sign_time=sign,
                eligible=lambda serial, entry: serial in self.reaches,
                features=lambda: self.switches,
                on_status=lambda serial, status: self.statuses.append((serial, status)),
                on_refused=lambda *why: self.refusals.append(why))

        def tablet_end(channel: SecureChannel) -> TabletDockFirmware:
            key = channel.peer_certificate.public_key()  # type: ignore[union-attr]
            end = TabletDockFirmware(self.device.path, kiosk_key=key,  # type: ignore[arg-type]
                                     features_path=self.features_path)
            self.tablet_ends.append(end)
            return end

        self.rig.kiosk_firmware = kiosk_end
        self.rig.tablet_firmware = tablet_end

    def boot(self) -> object:
        store = self.device.slots
        return start(store, lambda c: read_manifest(store.image_path(c.slot)).selftest == "pass")

    def dock(self, fault: Fault | None = None) -> tuple[SessionSummary, SessionSummary]:
        result = self.rig.dock(fault)
        if fault is None:
            assert result.complete, (result.kiosk, result.tablet)
            assert isinstance(result.kiosk, SessionSummary)
            assert isinstance(result.tablet, SessionSummary)
            return result.kiosk, result.tablet
        return result.kiosk, result.tablet  # type: ignore[return-value]


@pytest.fixture
def world(tmp_path: Path) -> FirmwareWorld:
    return FirmwareWorld(tmp_path, Facility(tmp_path / "facility"))


def test_a_dock_with_nothing_new_reports_and_keeps_the_time(world: FirmwareWorld) -> None:
    world.rig.message("hello")
    kiosk, _ = world.dock()
    assert kiosk.records == 1 and kiosk.firmware == "" and not kiosk.firmware_refused
    serial, status = world.statuses[-1]
    assert serial == world.rig.serial
    assert (status.model, status.kind, status.version, status.slot, status.root_version) == \
        ("JP5S", "tablet", 1, "a", 1)
    assert world.device.last_time() == int(world.clock.timestamp())  # taken without an offer


def test_an_image_installs_to_slot_b_boots_and_is_marked_good(world: FirmwareWorld) -> None:
    image = world.publisher.publish(2, size=3 * MB + 123)
    world.switches = (7, {"music": True, "video_calls": False})
    kiosk, tablet = world.dock()
    assert kiosk.firmware == tablet.firmware == "JP5S/tablet-2.img"
    assert kiosk.firmware_bytes == image.length
    assert read_features(world.features_path) == (7, {"music": True, "video_calls": False})
    state = world.device.state()
    assert state.trying == "b" and state.good == "a"
    assert world.device.slots.image_path("b").read_bytes() == image.path.read_bytes()
    # the next dock before a boot: not sent again
    kiosk, _ = world.dock()
    assert kiosk.firmware == "" and kiosk.firmware_bytes == 0 and not world.refusals
    outcome = world.boot()
    assert outcome.marked_good and outcome.slot == "b"  # type: ignore[attr-defined]
    world.dock()
    status = world.statuses[-1][1]
    assert (status.version, status.slot, status.event, status.features) == \
        (2, "b", "marked_good", 7)


def test_an_image_crosses_several_unplugs_sending_at_most_a_chunk_twice(
        world: FirmwareWorld) -> None:
    image = world.publisher.publish(2, size=6 * MB + 7)
    rand = random.Random(14)
    sent = 0
    unplugs = 0
    while True:
        durable = world.device.sink.part_path.stat().st_size \
            if world.device.sink.part_path.exists() else 0
        if world.device.state().trying == "b":
            break
        cut = rand.randrange(MB, 3 * MB)
        result = world.rig.dock(Fault(direction="down", drop_at=cut))
        kiosk = result.kiosk
        if isinstance(kiosk, SessionSummary):
            sent += kiosk.firmware_bytes
            continue
        unplugs += 1
        after = world.device.sink.part_path.stat().st_size \
            if world.device.sink.part_path.exists() else 0
        # what this dock sent beyond what became durable is at most one chunk
        sent += after - durable
        assert unplugs < 20
    assert unplugs >= 2
    assert world.device.slots.image_path("b").read_bytes() == image.path.read_bytes()
    assert sent <= image.length + unplugs * FIRMWARE_CHUNK


def test_an_image_signed_by_one_key_of_two_is_refused_and_reported(
        world: FirmwareWorld) -> None:
    world.publisher.signers["targets"] = [signer("targets-1")]
    world.publisher.publish(2, size=100_000)
    world.rig.message("still delivered")
    kiosk, tablet = world.dock()
    assert kiosk.records == 1  # the rest of the dock goes on
    assert kiosk.firmware_refused == tablet.firmware_refused == "threshold_not_met"
    assert world.refusals == [(world.rig.serial, "JP5S/tablet-2.img", "threshold_not_met")]
    assert world.device.state().trying is None and world.device.report().version == 1


def test_a_replayed_older_image_is_refused(world: FirmwareWorld, tmp_path: Path) -> None:
    world.publisher.publish(2, size=100_000)
    world.dock()
    world.boot()
    assert world.device.report().version == 2
    # a kiosk whose copy still offers version 2 to a tablet that reports 1: a lie or
    # an old copy; the tablet checks what it runs itself
    world.statuses.clear()

    class Stale(KioskDockFirmware):
        def offer(self, serial: str, status: FirmwareStatus) -> OfferedImage | None:
            return super().offer(serial, FirmwareStatus(status.model, status.kind, 1, "a",
                                                        status.event, 1, 0))

    make = world.rig.kiosk_firmware
    world.rig.kiosk_firmware = lambda: Stale(
        world.publisher.repo, sign_time=make()._sign_time,  # type: ignore[union-attr]
        eligible=lambda s, e: True, features=lambda: (0, {}),
        on_status=lambda *a: None, on_refused=lambda *why: world.refusals.append(why))
    kiosk, _ = world.dock()
    assert kiosk.firmware_refused == "rollback"
    assert world.refusals[-1][2] == "rollback"


def test_a_kiosk_outside_the_rollout_offers_nothing(world: FirmwareWorld) -> None:
    world.publisher.publish(2, size=100_000)
    world.reaches = set()
    kiosk, _ = world.dock()
    assert kiosk.firmware == "" and world.device.state().trying is None


def test_a_time_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    """A kiosk signing its time with a key other than its certificate's."""
    world = FirmwareWorld(tmp_path, Facility(tmp_path / "facility"),
                          kiosk_key=Ed25519PrivateKey.generate())
    world.publisher.publish(2, size=100_000)
    kiosk, _ = world.dock()
    assert kiosk.firmware_refused == "bad_time_token"
    assert world.device.last_time() == 0


def test_the_sessions_without_firmware_are_unchanged(world: FirmwareWorld) -> None:
    """A tablet without firmware meets a kiosk with it, and the other way round."""
    world.publisher.publish(2, size=100_000)
    make_tablet = world.rig.tablet_firmware
    world.rig.tablet_firmware = lambda channel: None
    world.rig.message("one")
    kiosk, _ = world.dock()
    assert kiosk.records == 1 and not world.statuses
    world.rig.tablet_firmware = make_tablet
    world.rig.kiosk_firmware = lambda: None
    world.rig.message("two")
    kiosk, _ = world.dock()
    assert kiosk.records == 1 and world.device.state().trying is None


