from hw.hotplug import diff_devices, expects_tty
from hw.records import DockedDevice, UsbId, UsbInterface

ACM = (UsbInterface(0, 0x02, 0x02, 0x01), UsbInterface(1, 0x0A, 0, 0))


def device(path: str, serial: str = "S1", tty: str | None = "/dev/ttyACM0") -> DockedDevice:
    return DockedDevice(serial=serial, sys_path=path, usb_id=UsbId(0x1D6B, 0x0104), bus=1,
                        address=2, interfaces=ACM, tty=tty)


def test_nothing_changed_means_no_events() -> None:
    a = device("/sys/a")
    assert diff_devices({"/sys/a": a}, {"/sys/a": a}) == []


def test_arrival_and_departure() -> None:
    a, b = device("/sys/a", "A"), device("/sys/b", "B")
    events = diff_devices({"/sys/a": a}, {"/sys/b": b})
    assert [(e.kind, e.device.serial) for e in events] == [("left", "A"), ("arrived", "B")]


def test_a_changed_record_leaves_and_arrives() -> None:
    before = device("/sys/a", tty="/dev/ttyACM0")
    after = device("/sys/a", tty="/dev/ttyACM1")
    events = diff_devices({"/sys/a": before}, {"/sys/a": after})
    assert [(e.kind, e.device.tty) for e in events] == [("left", "/dev/ttyACM0"),
                                                        ("arrived", "/dev/ttyACM1")]


def test_a_reset_that_comes_back_the_same_still_leaves_and_arrives() -> None:
    """A port reset whose tty returns under the same name (and is seen only
    after it is back) is still a departure and an arrival: the link the
    kiosk held is gone."""
    a = device("/sys/a")
    events = diff_devices({"/sys/a": a}, {"/sys/a": a}, bounced=["/sys/a"])
    assert [e.kind for e in events] == ["left", "arrived"]
    # A bounce of a device that is gone for good is one departure.
    assert [e.kind for e in diff_devices({"/sys/a": a}, {}, bounced=["/sys/a"])] == ["left"]


def test_serial_interfaces_expect_a_tty() -> None:
    assert expects_tty(ACM)
    assert not expects_tty((UsbInterface(0, 0x03, 1, 1),))
