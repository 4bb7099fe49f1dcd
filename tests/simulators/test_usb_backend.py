"""hw's pyusb code, unchanged, over the simulator's pyusb backend."""

import time

import pytest

from hw.errors import DeviceNotFound
from hw.records import CLASS_CDC_COMM, CLASS_CDC_DATA, CLASS_HID, UsbId
from hw.usb_descriptors import DescriptorReader, load_backend
from simulators.usb_backend import SimUsbBackend
from simulators.world import World

pytestmark = pytest.mark.udev


def where(world: World, name: str) -> tuple[int, int]:
    bus, address = world.status()["tablets"][name]["usb_address"]
    return bus, address


def test_descriptors_of_a_plugged_tablet(world: World) -> None:
    tablet = world.add_tablet()
    world.plug(tablet.spec.name)
    desc = DescriptorReader(SimUsbBackend()).read(*where(world, tablet.spec.name))
    assert desc.usb_id == UsbId(0x1D6B, 0x0104)
    assert desc.serial == tablet.spec.serial
    assert desc.manufacturer == "Sallyport"
    assert desc.product == "JP5S tablet (simulated)"
    assert desc.interface_classes == (CLASS_CDC_COMM, CLASS_CDC_DATA)


def test_a_keyboard_in_a_composite_device_is_visible(world: World) -> None:
    rogue = world.add_tablet(extras=("keyboard",))
    world.plug(rogue.spec.name)
    desc = DescriptorReader(SimUsbBackend()).read(*where(world, rogue.spec.name))
    assert CLASS_HID in desc.interface_classes


def test_a_spoofed_descriptor_serial_is_what_descriptors_say(world: World) -> None:
    spoof = world.add_tablet(usb_serial="JP5S-999999")
    world.plug(spoof.spec.name)
    desc = DescriptorReader(SimUsbBackend()).read(*where(world, spoof.spec.name))
    assert desc.serial == "JP5S-999999" != spoof.spec.serial


def test_unplugged_tablet_is_not_found(world: World) -> None:
    tablet = world.add_tablet()
    world.plug(tablet.spec.name)
    bus, address = where(world, tablet.spec.name)
    world.unplug(tablet.spec.name)
    with pytest.raises(DeviceNotFound):
        DescriptorReader(SimUsbBackend()).read(bus, address)


def test_port_reset_goes_through_the_backend(world: World) -> None:
    tablet = world.add_tablet()
    link = world.plug(tablet.spec.name)
    reader = DescriptorReader(SimUsbBackend(reset=world.reset_by_address))
    reader.reset_port(*where(world, tablet.spec.name))
    assert not link.is_open
    assert world.link(tablet.spec.name) is not link
    assert world.link(tablet.spec.name).is_open


def test_reset_without_a_harness_is_a_transport_error(world: World) -> None:
    tablet = world.add_tablet()
    world.plug(tablet.spec.name)
    with pytest.raises(Exception, match="cannot reset"):
        DescriptorReader(SimUsbBackend()).reset_port(*where(world, tablet.spec.name))


def test_backends_are_chosen_by_name() -> None:
    assert isinstance(load_backend("sim"), SimUsbBackend)
    with pytest.raises(Exception, match="no USB backend called"):
        load_backend("nonesuch")


def test_reading_is_quick(world: World) -> None:
    tablet = world.add_tablet()
    world.plug(tablet.spec.name)
    started = time.monotonic()
    DescriptorReader(SimUsbBackend()).read(*where(world, tablet.spec.name))
    assert time.monotonic() - started < 5
