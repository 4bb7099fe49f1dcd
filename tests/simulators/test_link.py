"""The simulated cable: bytes arrive unchanged, faults do what they say, an
unplug ends a blocked read with our error."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.errors import DeviceGone
from hw.serial_link import SerialLink, open_link
from simulators.errors import SimError
from simulators.link import Fault, SimLink

Cable = tuple[SimLink, SerialLink, SerialLink]


@contextmanager
def plugged_cable(name: str) -> Iterator[Cable]:
    """A simulated link with the kiosk's and the tablet's ends open."""
    link = SimLink(name)
    link.open()
    kiosk = open_link(f"serial://{link.kiosk_tty}")
    tablet = open_link(f"serial://{link.gadget_tty}")
    try:
        yield link, kiosk, tablet
    finally:
        kiosk.close()
        tablet.close()
        link.cut()


@pytest.fixture(scope="module")
def cable() -> Iterator[Cable]:
    with plugged_cable("P1") as ends:
        yield ends


def read_all(link: SerialLink, size: int) -> bytes:
    return link.read_exactly(size, timeout=10) if size else b""


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(down=st.binary(max_size=70_000), up=st.binary(max_size=70_000))
def test_bytes_cross_unchanged_both_ways(cable: Cable,
                                         down: bytes, up: bytes) -> None:
    _, kiosk, tablet = cable
    got: dict[str, bytes] = {}
    # Both directions at once, as a real session does.
    reader = threading.Thread(target=lambda: got.setdefault("down", read_all(tablet, len(down))))
    reader.start()
    writer = threading.Thread(target=lambda: tablet.write(up, timeout=10))
    writer.start()
    kiosk.write(down, timeout=10)
    got["up"] = read_all(kiosk, len(up))
    reader.join(10)
    writer.join(10)
    assert got == {"down": down, "up": up}


@pytest.fixture
def fresh() -> Iterator[Cable]:
    with plugged_cable("P2") as ends:
        yield ends


def test_unplug_mid_read_ends_it_with_our_error(fresh: Cable) -> None:
    link, kiosk, tablet = fresh
    tablet.write(b"partial", timeout=1)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            kiosk.read_exactly(1000, timeout=30)
        except DeviceGone as e:
            errors.append(e)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    link.cut()
    thread.join(10)
    assert not thread.is_alive(), "the read hung after the unplug"
    assert time.monotonic() - started < 5
    assert len(errors) == 1 and isinstance(errors[0], DeviceGone)


def test_corrupt_flips_exactly_the_named_byte(fresh: Cable) -> None:
    link, kiosk, tablet = fresh
    link.set_fault(Fault(direction="down", corrupt_at=5))
    payload = bytes(range(20))
    kiosk.write(payload, timeout=1)
    got = tablet.read_exactly(20, timeout=5)
    assert [i for i in range(20) if got[i] != payload[i]] == [5]
    assert got[5] == payload[5] ^ 0xFF
    tablet.write(payload, timeout=1)  # the other direction is untouched
    assert kiosk.read_exactly(20, timeout=5) == payload


def test_drop_delivers_exactly_n_bytes_then_the_link_is_gone(
        fresh: Cable) -> None:
    link, kiosk, tablet = fresh
    link.set_fault(Fault(drop_at=1000))
    kiosk.write(bytes(3000), timeout=5)
    assert tablet.read_exactly(1000, timeout=5) == bytes(1000)
    with pytest.raises(DeviceGone):
        tablet.read(10, timeout=5)
    with pytest.raises(DeviceGone):
        kiosk.read(10, timeout=5)
    assert link.bytes["down"] == 1000


def test_stall_holds_until_cleared(fresh: Cable) -> None:
    link, kiosk, tablet = fresh
    link.set_fault(Fault(direction="up", stall=True))
    tablet.write(b"held", timeout=1)
    with pytest.raises(Exception, match="nothing received"):
        kiosk.read(10, timeout=0.3)
    link.set_fault(None)
    assert kiosk.read_exactly(4, timeout=5) == b"held"


def test_delay_holds_each_chunk(fresh: Cable) -> None:
    link, kiosk, tablet = fresh
    link.set_fault(Fault(direction="down", delay_s=0.3))
    kiosk.write(b"x", timeout=1)
    with pytest.raises(Exception, match="nothing received"):
        tablet.read(1, timeout=0.1)
    assert tablet.read(1, timeout=5) == b"x"


@pytest.mark.parametrize("kwargs", [{"direction": "sideways"}, {"drop_at": -1},
                                    {"corrupt_at": "5"}, {"delay_s": 61}])
def test_bad_faults_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(SimError):
        Fault(**kwargs)  # type: ignore[arg-type]
