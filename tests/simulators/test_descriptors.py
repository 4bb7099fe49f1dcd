import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.descriptors import (
    CDC_ACM,
    HID_KEYBOARD,
    UsbDeviceSpec,
    parse_descriptors,
    sysfs_descriptors,
)


def test_round_trip() -> None:
    spec = UsbDeviceSpec(0x1D6B, 0x0104, "JP5S-000001", interfaces=(*CDC_ACM, HID_KEYBOARD))
    device, (config,) = parse_descriptors(sysfs_descriptors(spec))
    assert (device.idVendor, device.idProduct, device.iSerialNumber) == (0x1D6B, 0x0104, 3)
    assert [i.bInterfaceClass for i in config.interfaces] == [0x02, 0x0A, 0x03]
    assert [len(i.endpoints) for i in config.interfaces] == [1, 2, 1]


@given(st.binary(max_size=200))
def test_garbage_raises_value_error_only(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_descriptors(data)


@given(st.integers(min_value=0, max_value=80), st.integers(min_value=0, max_value=255))
def test_damaged_descriptors_raise_value_error_only(offset: int, value: int) -> None:
    data = bytearray(sysfs_descriptors(UsbDeviceSpec(1, 2, "S", interfaces=CDC_ACM)))
    if offset < len(data):
        data[offset] = value
    with contextlib.suppress(ValueError):
        parse_descriptors(bytes(data))


def test_truncated_is_refused() -> None:
    data = sysfs_descriptors(UsbDeviceSpec(1, 2, "S"))
    with pytest.raises(ValueError):
        parse_descriptors(data[:-3])
