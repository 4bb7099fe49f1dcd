"""The kiosk's copy of the agency's firmware, kept from a real central server
over TLS: metadata as signed, the images of the rollouts that reach its unit
(resumed with Range after a cut), the feature switches, and the tablets'
reports, which reach the server's census. A tablet docked over the simulated
cable gets the image from that copy, with the time signed by the kiosk's key."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from central.services import accounts
from firmware_images.dock import TabletDockFirmware
from kiosk.central_client import CentralClient
from kiosk.firmware import FirmwareMirror, load_kiosk_key
from sync.session import SessionSummary
from tests.central.api_server import ApiServer
from tests.central.facility import SYSTEM
from tests.device_security.conftest import Facility as DeviceFacility
from tests.firmware.world import Publisher, provision
from tests.sync.rig import SyncRig, open_cache

CBOR = {"Content-Type": "application/cbor"}


def _published(api: ApiServer, tmp_path: Path) -> Publisher:
    now = datetime.datetime.fromtimestamp(api.facility.clock(), datetime.UTC)
    publisher = Publisher(tmp_path / "agency", now=now - datetime.timedelta(minutes=1))
    publisher.publish(2, size=700_000)
    admin = api.staff("administrator")
    answer = admin.put("/v1/staff/firmware/metadata",
                       data=publisher.repo.bundle(0).to_bytes(), headers=CBOR)
    assert answer.status_code == 200, answer.text
    for entry in publisher.repo.images():
        assert admin.put(f"/v1/staff/firmware/images/{entry.sha256}",
                         data=publisher.repo.image_path(entry.sha256).read_bytes()
                         ).status_code == 201
    return publisher


def test_the_copy_follows_the_server_and_resumes_an_image(
        api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    publisher = _published(api, tmp_path)
    mirror = FirmwareMirror(tmp_path / "kiosk-firmware")
    done = mirror.refresh(client)
    assert done.metadata and done.images == 0  # no rollout reaches this unit yet
    for name in ("1.root.json", "root.json", "timestamp.json", "snapshot.json",
                 "targets.json"):
        assert (mirror.repository.metadata_dir / name).read_bytes() == \
            (publisher.repo.metadata_dir / name).read_bytes()
    assert not mirror.refresh(client).metadata  # nothing new: one small request
    admin = api.staff("administrator")
    started = admin.post("/v1/staff/firmware/rollouts", json={
        "image": "JP5S/tablet-2.img", "facility_id": "F1", "unit_id": "U-A", "percent": 100})
    assert started.status_code == 201
    (entry,) = publisher.repo.images()
    # half the image came in an earlier round that was cut off
    image = publisher.repo.image_path(entry.sha256).read_bytes()
    partial = mirror.repository.image_path(entry.sha256)
    partial = partial.with_name(partial.name + ".partial")
    partial.write_bytes(image[:300_000])
    assert mirror.refresh(client).images == 1
    assert mirror.repository.image_path(entry.sha256).read_bytes() == image
    assert mirror.eligible("JP5S-000001", entry)
    assert admin.put("/v1/staff/firmware/features/music", json={"enabled": False}
                     ).status_code == 204
    mirror.refresh(client)
    assert mirror.features()[1] == {"music": False}
    _patch(admin, f"/v1/staff/firmware/rollouts/{started.json()['id']}", {"state": "paused"})
    mirror.refresh(client)
    assert not mirror.eligible("JP5S-000001", entry)


def test_a_tablet_gets_the_image_and_its_report_reaches_the_census(
        api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    publisher = _published(api, tmp_path)
    admin = api.staff("administrator")
    assert admin.post("/v1/staff/firmware/rollouts", json={
        "image": "JP5S/tablet-2.img", "facility_id": "F1", "percent": 100}).status_code == 201
    mirror = FirmwareMirror(tmp_path / "kiosk-firmware")
    mirror.refresh(client)
    # a tablet of this facility, docked at this kiosk's cable
    rig = SyncRig(tmp_path / "rig", DeviceFacility(tmp_path / "devices"))
    accounts.register_tablet(api.facility.central, rig.serial, None, scope=SYSTEM,
                             facility_id="F1")
    device = provision(tmp_path / "tablet-firmware", publisher)
    kiosk_key = rig.kiosk_id.key
    clock = [api.facility.clock() + 60.0]
    rig.kiosk_firmware = lambda: mirror.dock_firmware(kiosk_key, clock=lambda: clock[0])
    rig.tablet_firmware = lambda channel: TabletDockFirmware(
        device.path, kiosk_key=channel.peer_certificate.public_key(),  # type: ignore
        features_path=tmp_path / "features.json")
    result = rig.dock()
    assert result.complete, (result.kiosk, result.tablet)
    assert isinstance(result.kiosk, SessionSummary)
    assert result.kiosk.firmware == "JP5S/tablet-2.img"
    assert device.state().trying == "b"
    assert mirror.refresh(client).reports == 1
    census = admin.get("/v1/staff/firmware/census").json()
    assert census == [{"kind": "tablet", "model": "JP5S", "version": 1, "slot": "a",
                       "event": "provisioned", "devices": 1}]
    assert mirror.refresh(client).reports == 0  # sent once


def test_a_tablet_docked_before_the_kiosks_first_round_syncs_and_reports_later(
        api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "agency")
    publisher.publish(1, size=1000)
    mirror = FirmwareMirror(tmp_path / "kiosk-firmware")  # no round yet: nothing on disk
    rig = SyncRig(tmp_path / "rig", DeviceFacility(tmp_path / "devices"))
    accounts.register_tablet(api.facility.central, rig.serial, None, scope=SYSTEM,
                             facility_id="F1")
    device = provision(tmp_path / "tablet-firmware", publisher)
    kiosk_key = rig.kiosk_id.key
    rig.kiosk_firmware = lambda: mirror.dock_firmware(kiosk_key)
    rig.tablet_firmware = lambda channel: TabletDockFirmware(
        device.path, kiosk_key=channel.peer_certificate.public_key(),  # type: ignore
        features_path=tmp_path / "features.json")
    result = rig.dock()
    assert result.complete, (result.kiosk, result.tablet)
    assert mirror.refresh(client).reports == 1


def test_the_kiosk_key_loads(api: ApiServer) -> None:
    key = load_kiosk_key(api.kiosks["K-A2"].key)
    assert key.public_key() is not None
    with pytest.raises(ValueError):
        load_kiosk_key(api.kiosks["K-A2"].certificate)


def _patch(client: object, path: str, body: dict[str, object]) -> None:
    answer = client.http.patch(client.base + path, json=body, timeout=30)  # type: ignore
    assert answer.status_code == 200, answer.text


def test_a_round_keeps_the_copy(api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    from kiosk.rounds import CentralSync

    publisher = _published(api, tmp_path)
    assert api.staff("administrator").post("/v1/staff/firmware/rollouts", json={
        "image": "JP5S/tablet-2.img", "facility_id": "F1", "percent": 30}).status_code == 201
    mirror = FirmwareMirror(tmp_path / "kiosk-firmware")
    done = CentralSync(client, open_cache(tmp_path / "cache"), firmware=mirror).run_once()
    assert not done.error and done.steps[-1] == "firmware" and done.firmware_images == 1
    (entry,) = publisher.repo.images()
    assert mirror.repository.image_path(entry.sha256).exists()
