"""The real pyudev code path over a umockdev testbed: what the kiosk sees
when tablets are plugged and unplugged."""

import random
import time
from collections.abc import Callable

import pytest

from hw.hotplug import UdevHotplug
from hw.records import CLASS_CDC_COMM, CLASS_CDC_DATA, CLASS_HID
from hw.serial_link import open_link
from simulators.world import World
from tests.conftest import EventLog

pytestmark = pytest.mark.udev
Watch = Callable[..., tuple[UdevHotplug, EventLog]]


def test_plugged_tablet_is_reported_within_a_second(world: World, watch: Watch) -> None:
    tablet = world.add_tablet()
    _, log = watch(poll_interval=30)
    plugged_at = time.monotonic()
    link = world.plug(tablet.spec.name)
    event = log.wait_for("arrived", tablet.spec.serial, timeout=1.0)
    assert time.monotonic() - plugged_at < 1.0
    device = event.device
    assert device.serial == tablet.spec.serial
    assert device.tty == link.kiosk_tty
    assert device.interface_classes == (CLASS_CDC_COMM, CLASS_CDC_DATA)
    assert device.sys_path.endswith("/usb1/1-1")

    world.unplug(tablet.spec.name)
    gone = log.wait_for("left", tablet.spec.serial, timeout=1.0)
    assert gone.device == device


def test_the_reported_tty_is_the_tablets_link(world: World, watch: Watch) -> None:
    tablet = world.add_tablet()
    _, log = watch()
    link = world.plug(tablet.spec.name)
    device = log.wait_for("arrived", tablet.spec.serial).device
    assert device.link_address is not None
    with open_link(device.link_address) as kiosk_end, \
            open_link(f"serial://{link.gadget_tty}") as tablet_end:
        kiosk_end.write(b"hello tablet", timeout=1)
        assert tablet_end.read_exactly(12, timeout=2) == b"hello tablet"


def test_ten_tablets_in_random_order_are_all_tracked(tmp_path: object, watch: Watch,
                                                       world: World) -> None:
    world.ports = 10
    names = [world.add_tablet().spec.name for _ in range(10)]
    source, log = watch(poll_interval=30)
    rng = random.Random(20261123)
    plugged: set[str] = set()
    for _ in range(60):
        name = rng.choice(names)
        serial = world.tablet(name).spec.serial
        if name in plugged:
            world.unplug(name)
            plugged.remove(name)
            log.wait_for("left", serial)
        else:
            world.plug(name)
            plugged.add(name)
            log.wait_for("arrived", serial)
        present = {d.serial for d in source.present()}
        assert present == {world.tablet(n).spec.serial for n in plugged}
    assert {d.serial for d in source.scan()} == present


def test_duplicate_uevents_report_nothing_new(world: World, watch: Watch) -> None:
    tablet = world.add_tablet()
    _, log = watch()
    world.plug(tablet.spec.name)
    log.wait_for("arrived", tablet.spec.serial)
    sys_path = world.status()["tablets"][tablet.spec.name]["sys_path"]
    for _ in range(3):
        world.testbed._tb.uevent(sys_path, "change")
        world.testbed._tb.uevent(sys_path, "add")
    time.sleep(0.5)
    assert [e.kind for e in log.seen] == ["arrived"]


def test_composite_device_shows_its_keyboard(world: World, watch: Watch) -> None:
    rogue = world.add_tablet(extras=("keyboard",))
    _, log = watch()
    world.plug(rogue.spec.name)
    device = log.wait_for("arrived", rogue.spec.serial).device
    assert CLASS_HID in device.interface_classes


def test_port_reset_brings_the_tty_back(world: World, watch: Watch) -> None:
    tablet = world.add_tablet()
    _, log = watch()
    world.plug(tablet.spec.name)
    before = log.wait_for("arrived", tablet.spec.serial).device
    new_link = world.reset_port(tablet.spec.name)
    log.wait_for("left", tablet.spec.serial)
    after = log.wait_for("arrived", tablet.spec.serial).device
    assert after.sys_path == before.sys_path
    assert after.tty == new_link.kiosk_tty
    with open_link(f"serial://{after.tty}") as kiosk_end, \
            open_link(f"serial://{new_link.gadget_tty}") as tablet_end:
        kiosk_end.write(b"again", timeout=1)
        assert tablet_end.read_exactly(5, timeout=2) == b"again"


def test_polling_finds_tablets_without_events(world: World, watch: Watch) -> None:
    tablet = world.add_tablet()
    source, log = watch(events=False, poll_interval=0.2)
    assert not source.using_events
    world.plug(tablet.spec.name)
    log.wait_for("arrived", tablet.spec.serial, timeout=2)
    world.unplug(tablet.spec.name)
    log.wait_for("left", tablet.spec.serial, timeout=2)


def test_tablet_already_docked_at_start_is_reported(world: World, watch: Watch) -> None:
    tablet = world.add_tablet()
    world.plug(tablet.spec.name)
    _, log = watch()
    log.wait_for("arrived", tablet.spec.serial, timeout=2)


def test_other_usb_devices_are_ignored(world: World, watch: Watch) -> None:
    source, _ = watch()
    time.sleep(0.2)
    assert source.scan() == []  # the root hub is there, and is no tablet


def test_a_device_that_sysfs_describes_badly_is_skipped_not_fatal(world: World,
                                                                  watch: Watch) -> None:
    good, bad = world.add_tablet(), world.add_tablet()
    source, log = watch(poll_interval=0.2)
    world.plug(bad.spec.name)
    interface = world.status()["tablets"][bad.spec.name]["sys_path"] + "/1-1:1.0"
    world.testbed._tb.set_attribute(interface, "bInterfaceClass", "zz")
    world.plug(good.spec.name)
    log.wait_for("arrived", good.spec.serial)
    time.sleep(0.5)
    assert {d.serial for d in source.present()} == {good.spec.serial}
    assert {d.serial for d in source.scan()} == {good.spec.serial}
