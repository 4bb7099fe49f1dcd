"""Firmware from the agency to a unit's tablet, on simulated hardware: the
central server (over TLS) publishes an image and stages it for the unit; the
kiosk's copy takes it; the tablet, docked through udev with its own software
on the other end of the cable, takes the image over several unplugs into slot
B, boots it at its next start and marks it good, and says so at the next dock,
which reaches the server's census. A second image that fails its health check
rolls back to the good slot by itself and is reported so. An image signed by
one key of a threshold of two, planted in the kiosk's copy, is refused by the
tablet and alerted by the kiosk."""

from __future__ import annotations

import datetime
import json
import os
import random
import shutil
import threading
from pathlib import Path

import pytest

from central.services import accounts
from device_security.alerts import Alerter, AlertQueue
from firmware_images.device import FirmwareDevice
from firmware_images.slots import SlotImage
from hw.config import HwConfig
from hw.hotplug import UdevHotplug
from hw.records import HotplugEvent
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.dock import Dock as KioskDock
from kiosk.dock import dock_and_sync
from kiosk.events import Docked, Event
from kiosk.firmware import FirmwareMirror, load_kiosk_key
from simulators.link import Fault
from tablet.device import TabletDirectory
from tests.central.api_server import ApiServer
from tests.central.facility import SYSTEM
from tests.device_security.test_docking import (  # noqa: F401 - fixtures
    ANA,
    TABLET_ID,
    Dock,
    dock,
    sallyport,
)
from tests.firmware.world import Publisher, signer
from tests.firmware.world import build as build_image
from tests.kiosk.test_dock import _cache

pytestmark = pytest.mark.udev
CBOR = {"Content-Type": "application/cbor"}
MB = 1024 * 1024
# The acceptance's 200 MB, made by the test (docs/firmware.md: it adds about 8 s
# to the 20 MB run on a 2-core machine); SALLYPORT_ACCEPTANCE_IMAGE_MB for others.
IMAGE = int(os.environ.get("SALLYPORT_ACCEPTANCE_IMAGE_MB", "200")) * MB + 4321


def _publish(api: ApiServer, publisher: Publisher) -> None:
    admin = api.staff("administrator")
    answer = admin.put("/v1/staff/firmware/metadata", data=publisher.repo.bundle(0).to_bytes(),
                       headers=CBOR)
    assert answer.status_code == 200, answer.text
    held = {i["sha256"] for i in admin.get("/v1/staff/firmware/images").json()
            if i["uploaded"]}
    for entry in publisher.repo.images():
        if entry.sha256 not in held:
            with publisher.repo.image_path(entry.sha256).open("rb") as f:
                assert admin.put(f"/v1/staff/firmware/images/{entry.sha256}",
                                 data=f).status_code == 201


def _roll_out(api: ApiServer, image: str) -> None:
    answer = api.staff("administrator").post("/v1/staff/firmware/rollouts", json={
        "image": image, "facility_id": "F1", "unit_id": "U-A", "percent": 100})
    assert answer.status_code == 201, answer.text


def test_an_image_reaches_a_tablet_boots_and_a_bad_one_rolls_back(
        dock: Dock, api: ApiServer, tmp_path: Path) -> None:  # noqa: F811
    now = datetime.datetime.fromtimestamp(api.facility.clock(), datetime.UTC)
    publisher = Publisher(tmp_path / "agency", now=now - datetime.timedelta(minutes=1))
    publisher.publish(1)  # the factory image
    publisher.publish(2, size=IMAGE)
    _publish(api, publisher)
    _roll_out(api, "JP5S/tablet-2.img")

    # the tablet: provisioned as the factory does (`sallyport device provision`), the
    # repository's root and its firmware version 1 in slot a
    serial = dock.provision("T1", "A100", "Ana Reyes",
                            firmware=(publisher.repo.path, "JP5S/tablet-1.img"))
    tablet_dir = TabletDirectory(dock.world.tablet("T1").directory)
    # the census knows the tablet as one of the facility's
    accounts.register_tablet(api.facility.central, serial, None, scope=SYSTEM,
                             facility_id="F1")

    # the kiosk: its cache, its copy of the firmware, its key
    cache, _ = _cache(tmp_path / "kiosk", serial)
    ident = api.kiosks["K-A2"]
    client = CentralClient(api.url, KioskCredentials(ident.certificate, ident.key,
                                                     api.ca_file), attempts=2, backoff=0.01)
    mirror = FirmwareMirror(tmp_path / "kiosk-firmware")
    assert mirror.refresh(client).images == 1
    key = load_kiosk_key(dock.root / "kiosk" / "key.pem")
    clock = [api.facility.clock() + 60.0]

    def docked(fault: Fault | None = None) -> object:
        clock[0] += 60
        dock.world.plug("T1", fault=fault)
        outcome = dock_and_sync(dock.gate, *dock.plugged("T1"), ANA, cache, kiosk="K-B2-01",
                                firmware=mirror.dock_firmware(key, clock=lambda: clock[0]))
        dock.done()
        if dock.world.port_of("T1") is not None:  # a fault's cut unplugs by itself
            dock.world.unplug("T1")
        return outcome

    # several unplugs on the way
    rand = random.Random(14)
    unplugs = 0
    while True:
        outcome = docked(Fault(direction="down",
                               drop_at=rand.randrange(IMAGE * 3 // 20, IMAGE * 9 // 20)))
        summary = outcome.summary  # type: ignore[attr-defined]
        if summary is not None and summary.firmware:
            break
        assert outcome.problem is not None  # type: ignore[attr-defined]
        unplugs += 1
        assert unplugs < 12
    assert unplugs >= 2
    assert summary.firmware == "JP5S/tablet-2.img"
    device = FirmwareDevice.open(tablet_dir.firmware_path, time_keys={})
    assert device.state().trying == "b"
    assert "firmware JP5S/tablet-2.img installed" in dock.world.sessions["T1"][-1]

    # the tablet's next start boots slot b, which passes its self-test
    outcome = docked()
    assert outcome.summary is not None and not outcome.summary.firmware  # type: ignore
    state = device.state()
    assert (state.good, state.event, state.good_image.version) == ("b", "marked_good", 2)
    mirror.refresh(client)
    census = api.staff("technician").get("/v1/staff/firmware/census").json()
    assert [(r["version"], r["slot"], r["event"]) for r in census] == [(2, "b", "marked_good")]

    # a second image that fails its health check
    publisher.publish(3, size=200_000, selftest="fail")
    _publish(api, publisher)
    _roll_out(api, "JP5S/tablet-3.img")
    mirror.refresh(client)
    outcome = docked()
    assert outcome.summary.firmware == "JP5S/tablet-3.img"  # type: ignore[attr-defined]
    assert device.state().trying == "a"
    docked()  # the next start: three tries fail, slot b boots again by itself
    state = device.state()
    assert (state.good, state.trying, state.event) == ("b", None, "rolled_back")
    docked()  # reported at the next dock
    mirror.refresh(client)
    census = api.staff("technician").get("/v1/staff/firmware/census").json()
    assert [(r["version"], r["slot"], r["event"]) for r in census] == [(2, "b", "rolled_back")]
    client.close()


def test_an_image_short_of_its_threshold_is_refused_and_alerted(
        dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    """The kiosk's copy is planted with an image that only one of the two
    targets keys signed (central would not publish it)."""
    publisher = Publisher(tmp_path / "agency")
    serial = dock.provision("T2", "A100", "Ana Reyes")
    tablet_dir = TabletDirectory(dock.world.tablet("T2").directory)
    factory = build_image(tmp_path / "factory", tmp_path / "factory.img", 1)
    FirmwareDevice(tablet_dir.firmware_path, model="JP5S", kind="tablet", time_keys={}) \
        .provision(publisher.root(1), factory.path,
                   SlotImage("JP5S/tablet-1.img", 1, factory.sha256))
    publisher.signers["targets"] = [signer("targets-1")]
    publisher.publish(2, size=50_000)
    mirror = FirmwareMirror(tmp_path / "kiosk-firmware")
    shutil.copytree(publisher.repo.path, mirror.repository.path)
    (entry,) = publisher.repo.images()
    (mirror.directory / "rollouts.json").write_text(json.dumps({"rollouts": [
        {"image": entry.name, "sha256": entry.sha256, "length": entry.length, "percent": 100}],
        "features": {}, "features_version": 0}))
    cache, _ = _cache(tmp_path / "kiosk", serial)
    key = load_kiosk_key(dock.root / "kiosk" / "key.pem")
    events: list[Event] = []
    seen = threading.Condition()

    def emit(event: Event) -> None:
        with seen:
            events.append(event)
            seen.notify_all()

    queue = AlertQueue(tmp_path / "alerts.db")
    when = publisher.now + datetime.timedelta(hours=1)
    kiosk_dock = KioskDock(dock.gate, cache, HwConfig(), location="K-B2-01",
                           sessions=lambda: ANA, alerter=Alerter(queue, None), emit=emit,
                           firmware=lambda: mirror.dock_firmware(key,
                                                                 clock=when.timestamp))
    dock.world.plug("T2")
    sys_path = dock.world.status()["tablets"]["T2"]["sys_path"]
    (device,) = [d for d in UdevHotplug([TABLET_ID]).scan() if d.sys_path == sys_path]
    kiosk_dock.on_hotplug(HotplugEvent("arrived", device))
    with seen:
        assert seen.wait_for(lambda: any(isinstance(e, Docked) for e in events), 60)
    (done,) = [e for e in events if isinstance(e, Docked)]
    assert done.synced, done
    (alert,) = [q.alert for q, _ in queue.recent() if q.alert.reason == "firmware_refused"]
    assert "threshold_not_met" in alert.detail and alert.tablet_serial == serial
    assert alert.resident_id == "A100"
    assert FirmwareDevice.open(tablet_dir.firmware_path, time_keys={}).state().trying is None
    kiosk_dock.stop()
    dock.world.unplug("T2")
