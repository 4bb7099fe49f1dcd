"""The kiosk's simulated peripherals, through the same links the kiosk uses."""

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.serial_link import open_link
from simulators.errors import SimError
from simulators.kiosk_hw import BadgeReader, NetworkSwitch, ReceiptPrinter, UsbStickPort


def test_badge_swipes_arrive_as_lines() -> None:
    reader = BadgeReader()
    reader.open()
    try:
        with open_link(f"serial://{reader.tty}") as link:
            reader.swipe("B-1001")
            assert link.read_exactly(8, timeout=2) == b"B-1001\r\n"
        with pytest.raises(SimError):
            reader.swipe("B 1001; rm -rf")
    finally:
        reader.close()


def test_a_usb_stick_pulled_out_takes_what_it_holds_and_comes_back_a_new_mount(
        tmp_path: Path) -> None:
    port = UsbStickPort(tmp_path / "usb-stick", tmp_path / "usb-stick.out")
    port.open()
    assert port.inserted and port.files() == {}
    (port.mount / "a.txt").write_bytes(b"kept")
    mounted = port.mount.stat().st_ino
    with (port.mount / "b.zip").open("wb") as open_file:  # being written when pulled
        open_file.write(b"PK")
        port.pull()
        assert not port.inserted and not port.mount.exists()
        open_file.write(b"\x03\x04")  # the writer's open file is not the port's any more
    assert port.files() == {"a.txt": b"kept", "b.zip": b"PK\x03\x04"}
    port.pull()  # out already
    port.put_back()
    assert port.inserted and port.mount.stat().st_ino != mounted  # mounted afresh
    assert port.files() == {"a.txt": b"kept", "b.zip": b"PK\x03\x04"}
    port.put_back()  # in already
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usb-stick"]
    with pytest.raises(SimError):
        UsbStickPort(tmp_path / "usb-stick", tmp_path / "elsewhere" / "out")


def test_printer_output_lands_in_the_spool(tmp_path: Path) -> None:
    printer = ReceiptPrinter(tmp_path / "spool")
    printer.open()
    try:
        with open_link(f"serial://{printer.tty}") as link:
            link.write(b"RECEIPT\ntest print\n", timeout=1)
        deadline = 50
        while printer.printed() != b"RECEIPT\ntest print\n" and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert printer.printed() == b"RECEIPT\ntest print\n"
    finally:
        printer.close()


@pytest.fixture
def echo_server() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    server.shutdown(socket.SHUT_RDWR)
    server.close()


def talk(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(data)
        return s.recv(4096)


def test_switch_relays_cuts_and_restores(echo_server: int) -> None:
    switch = NetworkSwitch(("127.0.0.1", echo_server))
    switch.open()
    try:
        assert talk(switch.port, b"ping") == b"ping"
        held = socket.create_connection(("127.0.0.1", switch.port), timeout=2)
        held.sendall(b"a")
        assert held.recv(10) == b"a"
        switch.cut()
        assert held.recv(10) == b""  # the open connection is dropped
        held.close()
        try:  # refused, reset or closed at once: in no case answered
            reply: bytes | None = talk(switch.port, b"ping")
        except OSError:
            reply = None
        assert reply in (None, b"")
        switch.restore()
        assert talk(switch.port, b"back") == b"back"
    finally:
        switch.close()


def test_switch_only_relays_to_loopback() -> None:
    with pytest.raises(SimError, match="loopback"):
        NetworkSwitch(("192.0.2.1", 443))
