"""The kiosk updating itself: a kiosk image published on a real central
server (over TLS, on loopback) and rolled out to its facility reaches the
kiosk's copy, a round installs it into the inactive slot of the kiosk's own
firmware directory (on disk) and, once no dock is in progress, asks for the
restart; the next start (prepare_start, as `sallyport kiosk boot`) runs it on
trial, the watchdog's health check marks it good, and the census shows the
kiosk's version. An image signed by one targets key of two, an older image
and an image that already failed its trial are refused, and nothing changes."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_images.device import FirmwareDevice
from firmware_images.errors import RollbackError
from firmware_images.image import BuiltImage, Manifest, build_image
from firmware_images.kiosk_boot import TrialWatch, prepare_start
from firmware_images.repository import ImageEntry
from firmware_images.slots import TRIES, SlotImage
from kiosk.central_client import CentralClient
from kiosk.firmware import FirmwareMirror
from kiosk.own_firmware import OwnFirmware
from tests.central.api_server import ApiServer
from tests.firmware.world import Publisher, signer

CBOR = {"Content-Type": "application/cbor"}
MODEL = "KX1"


@pytest.fixture
def publisher(api: ApiServer, tmp_path: Path) -> Publisher:
    now = datetime.datetime.fromtimestamp(api.facility.clock(), datetime.UTC)
    return Publisher(tmp_path / "agency", now=now - datetime.timedelta(minutes=1))


def _built(directory: Path, version: int) -> BuiltImage:
    """A kiosk image (``sallyport firmware build``'s format): bin/kiosk."""
    source = directory / f"kiosk-{version}"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "kiosk").write_text(f"echo kiosk {version}\n")
    return build_image(source, directory / f"kiosk-{version}.img",
                       Manifest(MODEL, "kiosk", version, 1, f"kiosk {version}"))


def _kiosk_image(directory: Path, version: int) -> Path:
    return _built(directory, version).path


def _provisioned(tmp_path: Path, publisher: Publisher, version: int = 1) -> Path:
    """The kiosk's firmware directory: the agency's root, ``version`` in slot a."""
    firmware = tmp_path / "kiosk-slots"
    built = _built(tmp_path / "factory", version)
    FirmwareDevice(firmware, model=MODEL, kind="kiosk", time_keys={}).provision(
        publisher.root(1), built.path,
        SlotImage(built.manifest.target_name, version, built.sha256))
    return firmware


def _publish(api: ApiServer, publisher: Publisher, tmp_path: Path, version: int) -> ImageEntry:
    entry = publisher.repo.add_image(_kiosk_image(tmp_path / "agency-images", version),
                                     signers=publisher.signers, now=publisher.now)
    admin = api.staff("administrator")
    answer = admin.put("/v1/staff/firmware/metadata",
                       data=publisher.repo.bundle(0).to_bytes(), headers=CBOR)
    assert answer.status_code == 200, answer.text
    assert admin.put(f"/v1/staff/firmware/images/{entry.sha256}",
                     data=publisher.repo.image_path(entry.sha256).read_bytes()
                     ).status_code == 201
    assert admin.post("/v1/staff/firmware/rollouts", json={
        "image": entry.name, "facility_id": "F1", "percent": 100}).status_code == 201
    return entry


def _census(api: ApiServer) -> list[dict[str, object]]:
    return [row for row in api.staff("administrator").get("/v1/staff/firmware/census").json()
            if row["kind"] == "kiosk"]


def _state(firmware: Path) -> bytes:
    return (firmware / "slots" / "boot.json").read_bytes()


def test_the_server_tells_a_kiosk_its_id(client: CentralClient) -> None:
    assert client.kiosk_id() == "K-A2"


def test_a_published_kiosk_image_reaches_the_inactive_slot_and_the_next_start(
        api: ApiServer, client: CentralClient, publisher: Publisher, tmp_path: Path) -> None:
    firmware = _provisioned(tmp_path, publisher)
    entry = _publish(api, publisher, tmp_path, 2)
    restarts: list[str] = []
    quiet = [False]  # a dock in progress
    clock = api.facility.clock
    mirror = FirmwareMirror(tmp_path / "kiosk-cache-firmware",
                            own=OwnFirmware(firmware, "a", restart=restarts.append, clock=clock),
                            quiet=lambda: quiet[0])
    done = mirror.refresh(client)
    assert done.images == 1 and done.own == "installed" and not done.restarting
    assert restarts == []  # not while a tablet docks
    state = FirmwareDevice.open(firmware, time_keys={}).state()
    assert (state.good, state.trying, state.tries_left) == ("a", "b", TRIES)
    assert state.slots["b"] == SlotImage(entry.name, 2, entry.sha256)
    assert _census(api) == [{"kind": "kiosk", "model": MODEL, "version": 1, "slot": "a",
                             "event": "installed", "devices": 1}]

    quiet[0] = True
    done = mirror.refresh(client)
    assert done.own == "" and done.restarting  # installed once, restarted when quiet
    assert len(restarts) == 1 and "slot b" in restarts[0]

    start = prepare_start(firmware)  # systemd's Restart=always: the unit starts again
    assert (start.slot, start.version, start.on_trial) == ("b", 2, True)
    assert start.program.read_text() == "echo kiosk 2\n"
    environment = start.environment(firmware)
    own = OwnFirmware.from_environment(environment)
    assert own is not None and own.slot == "b"
    trial = TrialWatch(environment, started=0.0, period_s=1.0)
    assert not trial.pinged(0.5) and trial.pinged(1.0)  # a watchdog period pinged: good

    after = FirmwareMirror(tmp_path / "kiosk-cache-firmware",
                           own=OwnFirmware(own.directory, own.slot, restart=restarts.append,
                                           clock=clock), quiet=lambda: True)
    done = after.refresh(client)
    assert done.own == "" and not done.restarting and len(restarts) == 1
    assert _census(api) == [{"kind": "kiosk", "model": MODEL, "version": 2, "slot": "b",
                             "event": "marked_good", "devices": 1}]


def test_an_image_signed_by_one_targets_key_of_two_is_refused(
        client: CentralClient, publisher: Publisher, tmp_path: Path) -> None:
    firmware = _provisioned(tmp_path, publisher)
    # the copy the kiosk holds was tampered with: one release officer's signature
    entry = publisher.repo.add_image(
        _kiosk_image(tmp_path / "agency-images", 2),
        signers={**publisher.signers, "targets": [signer("targets-1")]}, now=publisher.now)
    before = _state(firmware)
    own = OwnFirmware(firmware, "a", restart=_never, clock=publisher.now.timestamp)
    rollouts = [{"image": entry.name, "sha256": entry.sha256, "length": entry.length,
                 "percent": 100}]
    assert own.install(publisher.repo, rollouts, "K-A2") == "refused: threshold_not_met"
    assert _state(firmware) == before
    assert not (firmware / "slots" / "slot-b.img").exists()
    assert not own.restart_if_due(True)


def test_an_older_image_is_refused_and_nothing_changes(
        api: ApiServer, client: CentralClient, publisher: Publisher, tmp_path: Path) -> None:
    firmware = _provisioned(tmp_path, publisher, version=3)
    entry = _publish(api, publisher, tmp_path, 2)
    before = _state(firmware)
    own = OwnFirmware(firmware, "a", restart=_never, clock=api.facility.clock)
    mirror = FirmwareMirror(tmp_path / "kiosk-cache-firmware", own=own, quiet=lambda: True)
    done = mirror.refresh(client)
    assert done.images == 1 and done.own == "" and not done.restarting
    assert _state(firmware) == before
    # and were it offered, the device's own check says no
    device = FirmwareDevice.open(firmware, time_keys={})
    with pytest.raises(RollbackError):
        device.consider_own(entry.name, mirror.repository.bundle(1), int(api.facility.clock()))
    assert _census(api) == [{"kind": "kiosk", "model": MODEL, "version": 3, "slot": "a",
                             "event": "provisioned", "devices": 1}]


def test_an_image_that_failed_its_trial_is_not_installed_again(
        api: ApiServer, client: CentralClient, publisher: Publisher, tmp_path: Path) -> None:
    firmware = _provisioned(tmp_path, publisher)
    _publish(api, publisher, tmp_path, 2)
    restarts: list[str] = []
    own = OwnFirmware(firmware, "a", restart=restarts.append, clock=api.facility.clock)
    mirror = FirmwareMirror(tmp_path / "kiosk-cache-firmware", own=own, quiet=lambda: True)
    assert mirror.refresh(client).own == "installed" and len(restarts) == 1
    for _ in range(TRIES):  # each start on trial dies before its watchdog period
        assert prepare_start(firmware).on_trial
    start = prepare_start(firmware)
    assert start.rolled_back and start.slot == "a"
    before = _state(firmware)
    done = mirror.refresh(client)
    assert done.own == "" and not done.restarting and len(restarts) == 1
    assert _state(firmware) == before
    assert _census(api) == [{"kind": "kiosk", "model": MODEL, "version": 1, "slot": "a",
                             "event": "rolled_back", "devices": 1}]


def test_the_restart_stops_the_kiosk_as_systemctl_stop_would(tmp_path: Path) -> None:
    """The default restart: SIGTERM to itself, which the kiosk's main loop
    (or, without one, the signal's default) turns into an exit."""
    program = ("import signal, sys, time\n"
               "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
               "from kiosk.own_firmware import exit_for_restart\n"
               "exit_for_restart('a test')\n"
               "time.sleep(30)\n"
               "sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", program], check=False, capture_output=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert b"systemd (Restart=always) starts the new slot on trial" in done.stderr


def _never(reason: str) -> None:
    raise AssertionError(f"no restart was due: {reason}")
