import threading
import time
from pathlib import Path

import pytest

from hw.errors import AddressError, DeviceGone, DeviceNotFound, LinkTimeout, TransportError
from hw.serial_link import MAX_READ, open_link, resolve_address


@pytest.mark.parametrize(("address", "port"), [
    ("serial:///dev/ttyACM0", "/dev/ttyACM0"),
    ("serial:///dev/pts/7", "/dev/pts/7"),
    ("loop://", "loop://"),
])
def test_addresses_name_the_backend(address: str, port: str) -> None:
    assert resolve_address(address) == port


@pytest.mark.parametrize("address", [
    "/dev/ttyACM0", "serial://dev/ttyACM0", "serial://host/dev/x", "serial:///dev/../etc/passwd",
    "nosuch://x", "",
])
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(AddressError):
        resolve_address(address)


def test_missing_device_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match="no device at"):
        open_link(f"serial://{tmp_path}/ttyACM9")


def test_not_a_tty_is_a_transport_error(tmp_path: Path) -> None:
    path = tmp_path / "plain-file"
    path.write_bytes(b"")
    with pytest.raises(TransportError, match="cannot open"):
        open_link(f"serial://{path}")


def test_loopback_round_trip_and_counters() -> None:
    with open_link("loop://") as link:
        link.write(b"hello", timeout=1)
        assert link.read_exactly(5, timeout=1) == b"hello"
        assert (link.bytes_read, link.bytes_written) == (5, 5)


def test_reads_are_bounded() -> None:
    with open_link("loop://") as link:
        for size in (0, MAX_READ + 1):
            with pytest.raises(ValueError, match="max_bytes"):
                link.read(size, timeout=1)
        with pytest.raises(ValueError, match="size"):
            link.read_exactly(MAX_READ + 1, timeout=1)
        with pytest.raises(ValueError, match="timeout"):
            link.read(10, timeout=0)


def test_read_gives_what_has_arrived_up_to_the_limit() -> None:
    with open_link("loop://") as link:
        link.write(b"abcdefgh", timeout=1)
        assert link.read(3, timeout=1) == b"abc"
        assert link.read(100, timeout=1) == b"defgh"


def test_silence_times_out() -> None:
    with open_link("loop://") as link:
        with pytest.raises(LinkTimeout, match="nothing received"):
            link.read(10, timeout=0.05)
        link.write(b"ab", timeout=1)
        with pytest.raises(LinkTimeout, match="received 2 of 5"):
            link.read_exactly(5, timeout=0.05)


def test_abort_from_another_thread_ends_a_blocked_read() -> None:
    link = open_link("loop://")
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            link.read(10, timeout=30)
        except DeviceGone as e:
            errors.append(e)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    link.abort()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert errors and "left" in str(errors[0])
    link.close()
    link.close()  # twice is harmless


def test_closed_link_says_so() -> None:
    link = open_link("loop://")
    link.close()
    with pytest.raises(TransportError, match="closed"):
        link.read(1, timeout=0.1)
