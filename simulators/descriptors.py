"""USB descriptors of simulated devices: building them, and parsing them back.

The bytes are laid out as the USB 2.0 specification (chapter 9) gives them,
and as Linux shows them in a device's sysfs ``descriptors`` attribute: the
device descriptor followed by the configuration descriptor with its
interfaces and endpoints.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from typing import Any

DT_DEVICE = 1
DT_CONFIG = 2
DT_STRING = 3
DT_INTERFACE = 4
DT_ENDPOINT = 5

EP_INTERRUPT = 0x03
EP_BULK = 0x02


@dataclass(frozen=True)
class EndpointSpec:
    address: int
    attributes: int
    max_packet: int
    interval: int = 0


@dataclass(frozen=True)
class InterfaceSpec:
    cls: int
    subclass: int
    protocol: int
    endpoints: tuple[EndpointSpec, ...] = ()


CDC_ACM = (
    InterfaceSpec(0x02, 0x02, 0x01, (EndpointSpec(0x83, EP_INTERRUPT, 16, 9),)),
    InterfaceSpec(0x0A, 0x00, 0x00,
                  (EndpointSpec(0x81, EP_BULK, 512), EndpointSpec(0x02, EP_BULK, 512))),
)
HID_KEYBOARD = InterfaceSpec(0x03, 0x01, 0x01, (EndpointSpec(0x84, EP_INTERRUPT, 8, 10),))
MASS_STORAGE = InterfaceSpec(
    0x08, 0x06, 0x50, (EndpointSpec(0x85, EP_BULK, 512), EndpointSpec(0x06, EP_BULK, 512))
)


@dataclass(frozen=True)
class UsbDeviceSpec:
    """A USB device as its descriptors describe it."""

    vendor_id: int
    product_id: int
    serial: str | None
    manufacturer: str | None = "Sallyport"
    product: str | None = "JP5S tablet (simulated)"
    bcd_device: int = 0x0100
    interfaces: tuple[InterfaceSpec, ...] = field(default=CDC_ACM)

    def strings(self) -> dict[int, str]:
        """String descriptor index to text (0 is the language table)."""
        table = {}
        for index, text in ((1, self.manufacturer), (2, self.product), (3, self.serial)):
            if text is not None:
                table[index] = text
        return table


def device_descriptor(spec: UsbDeviceSpec) -> bytes:
    strings = spec.strings()
    return struct.pack(
        "<BBHBBBBHHHBBBB",
        18, DT_DEVICE, 0x0200, 0x00, 0x00, 0x00, 64,
        spec.vendor_id, spec.product_id, spec.bcd_device,
        1 if 1 in strings else 0, 2 if 2 in strings else 0, 3 if 3 in strings else 0,
        1,
    )


def config_descriptor(spec: UsbDeviceSpec) -> bytes:
    body = b""
    for number, intf in enumerate(spec.interfaces):
        body += struct.pack("<BBBBBBBBB", 9, DT_INTERFACE, number, 0, len(intf.endpoints),
                            intf.cls, intf.subclass, intf.protocol, 0)
        for ep in intf.endpoints:
            body += struct.pack("<BBBBHB", 7, DT_ENDPOINT, ep.address, ep.attributes,
                                ep.max_packet, ep.interval)
    header = struct.pack("<BBHBBBBB", 9, DT_CONFIG, 9 + len(body), len(spec.interfaces),
                         1, 0, 0x80, 250)
    return header + body


def sysfs_descriptors(spec: UsbDeviceSpec) -> bytes:
    """What Linux shows in the device's ``descriptors`` attribute."""
    return device_descriptor(spec) + config_descriptor(spec)


def string_descriptor(text: str) -> bytes:
    data = text.encode("utf-16-le")[:252]
    return bytes([2 + len(data), DT_STRING]) + data


def langid_descriptor() -> bytes:
    return bytes([4, DT_STRING]) + struct.pack("<H", 0x0409)


# -- parsing ---------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEndpoint:
    bLength: int
    bDescriptorType: int
    bEndpointAddress: int
    bmAttributes: int
    wMaxPacketSize: int
    bInterval: int
    extra_descriptors: bytes = b""


@dataclass(frozen=True)
class ParsedInterface:
    bLength: int
    bDescriptorType: int
    bInterfaceNumber: int
    bAlternateSetting: int
    bNumEndpoints: int
    bInterfaceClass: int
    bInterfaceSubClass: int
    bInterfaceProtocol: int
    iInterface: int
    endpoints: tuple[ParsedEndpoint, ...]
    extra_descriptors: bytes = b""


@dataclass(frozen=True)
class ParsedConfig:
    bLength: int
    bDescriptorType: int
    wTotalLength: int
    bNumInterfaces: int
    bConfigurationValue: int
    iConfiguration: int
    bmAttributes: int
    bMaxPower: int
    interfaces: tuple[ParsedInterface, ...]
    raw: bytes
    extra_descriptors: bytes = b""


@dataclass(frozen=True)
class ParsedDevice:
    bLength: int
    bDescriptorType: int
    bcdUSB: int
    bDeviceClass: int
    bDeviceSubClass: int
    bDeviceProtocol: int
    bMaxPacketSize0: int
    idVendor: int
    idProduct: int
    bcdDevice: int
    iManufacturer: int
    iProduct: int
    iSerialNumber: int
    bNumConfigurations: int
    raw: bytes


def _fields(cls: type, values: tuple[int, ...]) -> dict[str, Any]:
    """Name the unpacked values after the leading fields of a Parsed* record."""
    names = [f.name for f in dataclasses.fields(cls)][: len(values)]
    return dict(zip(names, values, strict=True))


def parse_descriptors(data: bytes) -> tuple[ParsedDevice, tuple[ParsedConfig, ...]]:
    """Parse a sysfs ``descriptors`` blob; raises ValueError if it is malformed."""
    if len(data) < 18 or data[0] != 18 or data[1] != DT_DEVICE:
        raise ValueError("no device descriptor at the start")
    device = ParsedDevice(**_fields(ParsedDevice, struct.unpack("<BBHBBBBHHHBBBB", data[:18])),
                          raw=data[:18])
    configs = []
    pos = 18
    while pos < len(data):
        if pos + 9 > len(data) or data[pos + 1] != DT_CONFIG or data[pos] != 9:
            raise ValueError(f"no configuration descriptor at offset {pos}")
        total = struct.unpack("<H", data[pos + 2:pos + 4])[0]
        if total < 9 or pos + total > len(data):
            raise ValueError(f"configuration at offset {pos} claims {total} bytes")
        configs.append(_parse_config(data[pos:pos + total]))
        pos += total
    if len(configs) != device.bNumConfigurations:
        raise ValueError(f"{device.bNumConfigurations} configurations announced, "
                         f"{len(configs)} present")
    return device, tuple(configs)


def _parse_config(raw: bytes) -> ParsedConfig:
    head = struct.unpack("<BBHBBBBB", raw[:9])
    interfaces: list[ParsedInterface] = []
    pos = 9
    current: tuple[int, ...] | None = None
    endpoints: list[ParsedEndpoint] = []

    def finish() -> None:
        if current is not None:
            interfaces.append(ParsedInterface(**_fields(ParsedInterface, current),
                                              endpoints=tuple(endpoints)))

    while pos < len(raw):
        length, kind = raw[pos], raw[pos + 1] if pos + 1 < len(raw) else -1
        if length < 2 or pos + length > len(raw):
            raise ValueError(f"descriptor at offset {pos} has length {length}")
        chunk = raw[pos:pos + length]
        if kind == DT_INTERFACE:
            if length != 9:
                raise ValueError(f"interface descriptor of length {length}")
            finish()
            current = struct.unpack("<BBBBBBBBB", chunk)
            endpoints = []
        elif kind == DT_ENDPOINT:
            if length != 7 or current is None:
                raise ValueError(f"stray endpoint descriptor at offset {pos}")
            endpoints.append(ParsedEndpoint(**_fields(ParsedEndpoint,
                                                      struct.unpack("<BBBBHB", chunk))))
        pos += length
    finish()
    if len({i.bInterfaceNumber for i in interfaces}) != head[3]:
        raise ValueError(f"{head[3]} interfaces announced, {len(interfaces)} present")
    return ParsedConfig(**_fields(ParsedConfig, head), interfaces=tuple(interfaces), raw=raw)
