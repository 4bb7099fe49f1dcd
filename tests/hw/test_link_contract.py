"""One contract for every link: the simulated tablet link, pyserial's loopback,
and a real serial port with a loopback plug (``--device``)."""

import threading
from collections.abc import Iterator

import pytest

from hw.errors import LinkTimeout
from hw.serial_link import MAX_READ, SerialLink, open_link
from simulators.link import SimLink


class Echo:
    """The far end of a simulated link, sending back what it gets."""

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.link.read(65536, timeout=0.1)
            except LinkTimeout:
                continue
            except Exception:  # noqa: BLE001 - the link went away; the test will say
                return
            self.link.write(data, timeout=5)


@pytest.fixture(params=["sim", "loop", "device"])
def echo_link(request: pytest.FixtureRequest) -> Iterator[SerialLink]:
    if request.param == "loop":
        with open_link("loop://") as link:
            yield link
    elif request.param == "device":
        address = request.getfixturevalue("device_address")
        with open_link(address) as link:
            yield link
    else:
        cable = SimLink("contract")
        cable.open()
        far = open_link(f"serial://{cable.gadget_tty}")
        echo = Echo(far)
        try:
            with open_link(f"serial://{cable.kiosk_tty}") as link:
                yield link
        finally:
            echo.stop.set()
            echo.thread.join(5)
            far.close()
            cable.cut()


def test_bytes_come_back_unchanged(echo_link: SerialLink) -> None:
    # In pieces no bigger than a UART's buffer, as a loopback plug needs.
    payload = bytes(range(256)) * 64
    back = b""
    for start in range(0, len(payload), 1024):
        piece = payload[start:start + 1024]
        echo_link.write(piece, timeout=5)
        back += echo_link.read_exactly(len(piece), timeout=10)
    assert back == payload


def test_silence_is_a_timeout_not_a_hang(echo_link: SerialLink) -> None:
    with pytest.raises(LinkTimeout):
        echo_link.read(1, timeout=0.2)


def test_reads_are_bounded(echo_link: SerialLink) -> None:
    with pytest.raises(ValueError):
        echo_link.read(MAX_READ + 1, timeout=1)


def test_partial_reads_return_early(echo_link: SerialLink) -> None:
    echo_link.write(b"abc", timeout=1)
    got = b""
    while len(got) < 3:
        got += echo_link.read(100, timeout=2)
    assert got == b"abc"
