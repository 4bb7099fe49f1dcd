"""Mutual TLS 1.3 over a byte stream: the good path, and every way to break it."""

import ssl
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_security import messages, reasons
from device_security.channel import CIPHER, MAX_HANDSHAKE_BYTES, SecureChannel, make_context
from device_security.errors import ChannelClosed, ChannelError, HandshakeFailed, HandshakeTimeout
from device_security.messages import TabletHello
from device_security.pki import Role
from hw.serial_link import open_link
from simulators.link import SimLink
from tests.device_security.conftest import Facility, Issued, background, stream_pair


def connect_pair(facility: Facility, kiosk: Issued, tablet: Issued, *, kiosk_ca=None,
                 tablet_ca=None, timeout: float = 5.0):
    kiosk_end, tablet_end = stream_pair()
    server = background(SecureChannel.accept, tablet_end,
                        make_context("accept", tablet.credentials, tablet_ca or facility.ca,
                                     peer_certificate="optional"), timeout=timeout)
    try:
        client = SecureChannel.connect(kiosk_end, make_context(
            "connect", kiosk.credentials, kiosk_ca or facility.ca), timeout=timeout)
    except Exception:
        server.exception(timeout + 5)
        raise
    return client, server.result(timeout + 5), kiosk_end, tablet_end


@pytest.fixture
def pair(facility: Facility):
    kiosk = facility.issue(Role.KIOSK, "kiosk K-101")
    tablet = facility.issue(Role.TABLET, "tablet JP5S-000001", "JP5S-000001")
    return kiosk, tablet


def test_mutual_handshake_and_messages(facility: Facility, pair) -> None:
    kiosk, tablet = pair
    client, server, _, _ = connect_pair(facility, *pair)
    assert client.cipher == server.cipher == CIPHER
    assert client.peer_certificate == tablet.certificate
    assert server.peer_certificate == kiosk.certificate
    messages.send(client, TabletHello("JP5S-000001", 1))
    assert messages.receive(server, 5, TabletHello) == TabletHello("JP5S-000001", 1)
    server.send(b"x" * 100_000)
    assert client.recv_exactly(100_000, 5) == b"x" * 100_000
    server.close()
    with pytest.raises(ChannelClosed):
        client.recv(10, 5)


def test_handshake_over_the_simulated_usb_link(facility: Facility, pair) -> None:
    kiosk, tablet = pair
    cable = SimLink("tls")
    cable.open()
    try:
        with open_link(f"serial://{cable.kiosk_tty}") as k, \
                open_link(f"serial://{cable.gadget_tty}") as t:
            server = background(SecureChannel.accept, t,
                                make_context("accept", tablet.credentials, facility.ca))
            client = SecureChannel.connect(k, make_context("connect", kiosk.credentials,
                                                           facility.ca))
            channel = server.result(10)
            messages.send(channel, TabletHello("JP5S-000001", 7))
            assert messages.receive(client, 5, TabletHello).counter == 7
    finally:
        cable.cut()


def refusal(fn: Callable[[], object]) -> str:
    with pytest.raises(HandshakeFailed) as info:
        fn()
    return info.value.reason


def test_kiosk_refuses_a_self_signed_tablet(facility: Facility, pair) -> None:
    kiosk, _ = pair
    fake = facility.self_signed(Role.TABLET, "tablet JP5S-000001", "JP5S-000001")
    assert refusal(lambda: connect_pair(facility, kiosk, fake)) == reasons.CERTIFICATE_UNTRUSTED


def test_kiosk_refuses_another_facilitys_tablet(facility: Facility, other_facility: Facility,
                                               pair) -> None:
    kiosk, _ = pair
    foreign = other_facility.issue(Role.TABLET, "tablet", "JP5S-000001")
    assert refusal(lambda: connect_pair(facility, kiosk, foreign, tablet_ca=other_facility.ca)) \
        == reasons.CERTIFICATE_UNTRUSTED


def test_expired_and_not_yet_valid_tablets(facility: Facility, pair) -> None:
    import datetime

    kiosk, _ = pair
    now = datetime.datetime.now(datetime.UTC)
    old = facility.issue(Role.TABLET, "t", "JP5S-000001",
                         not_before=now - datetime.timedelta(days=20), days=10)
    assert refusal(lambda: connect_pair(facility, kiosk, old)) == reasons.CERTIFICATE_EXPIRED
    early = facility.issue(Role.TABLET, "t", "JP5S-000001",
                           not_before=now + datetime.timedelta(days=1))
    assert refusal(lambda: connect_pair(facility, kiosk, early)) == \
        reasons.CERTIFICATE_NOT_YET_VALID


def test_a_tablet_certificate_cannot_act_as_a_kiosk(facility: Facility, pair) -> None:
    _, tablet = pair
    other_tablet = facility.issue(Role.TABLET, "t2", "JP5S-000002")
    kiosk_end, tablet_end = stream_pair()
    server = background(SecureChannel.accept, tablet_end,
                        make_context("accept", tablet.credentials, facility.ca), timeout=3)
    with pytest.raises((HandshakeFailed, ChannelError)):
        client = SecureChannel.connect(kiosk_end, make_context(
            "connect", other_tablet.credentials, facility.ca), timeout=3)
        client.recv(10, 3)  # TLS 1.3: the server's verdict arrives after the client finishes
    with pytest.raises(HandshakeFailed) as info:
        server.result(10)
    assert info.value.reason == reasons.WRONG_ROLE


def test_a_kiosk_certificate_cannot_act_as_a_tablet(facility: Facility, pair) -> None:
    kiosk, _ = pair
    impostor = facility.issue(Role.KIOSK, "kiosk K-666")
    assert refusal(lambda: connect_pair(facility, kiosk, impostor)) == reasons.WRONG_ROLE


def test_tls_12_is_refused(facility: Facility, pair) -> None:
    _, tablet = pair
    kiosk_end, tablet_end = stream_pair()
    server = background(SecureChannel.accept, tablet_end,
                        make_context("accept", tablet.credentials, facility.ca), timeout=3)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    with pytest.raises(HandshakeFailed):
        SecureChannel.connect(kiosk_end, old, timeout=3)
    with pytest.raises(HandshakeFailed):
        server.result(10)


def test_a_replayed_handshake_is_refused(facility: Facility, pair) -> None:
    kiosk, tablet = pair
    _, _, recorded_kiosk, recorded_tablet = connect_pair(facility, kiosk, tablet)
    # Replay the kiosk's recorded bytes to the tablet ...
    attacker, tablet_end = stream_pair()
    server = background(SecureChannel.accept, tablet_end,
                        make_context("accept", tablet.credentials, facility.ca), timeout=2)
    for chunk in recorded_kiosk.written:
        attacker.write(chunk, 1)
    with pytest.raises((HandshakeFailed, HandshakeTimeout)):
        server.result(10)
    # ... and the tablet's recorded bytes to a kiosk.
    kiosk_end, attacker = stream_pair()
    for chunk in recorded_tablet.written:
        attacker.write(chunk, 1)
    with pytest.raises((HandshakeFailed, HandshakeTimeout)):
        SecureChannel.connect(kiosk_end, make_context("connect", kiosk.credentials, facility.ca),
                              timeout=2)


def accept_garbage(facility: Facility, tablet: Issued, data: bytes, timeout: float) -> float:
    attacker, tablet_end = stream_pair()
    attacker.write(data, 1)
    started = time.monotonic()
    with pytest.raises((HandshakeFailed, HandshakeTimeout)):
        SecureChannel.accept(tablet_end, make_context("accept", tablet.credentials, facility.ca),
                             timeout=timeout)
    return time.monotonic() - started


@settings(max_examples=30, deadline=None)
@given(data=st.binary(min_size=1, max_size=4096))
def test_garbage_handshakes_end_cleanly(tmp_path_factory, data: bytes) -> None:
    facility = Facility(tmp_path_factory.mktemp("fuzz"))
    tablet = facility.issue(Role.TABLET, "t", "JP5S-000001")
    assert accept_garbage(facility, tablet, data, timeout=0.1) < 5


@settings(max_examples=25, deadline=None)
@given(data=st.binary(min_size=1, max_size=4096))
def test_garbage_from_a_tablet_ends_the_kiosks_handshake_cleanly(tmp_path_factory,
                                                                 data: bytes) -> None:
    facility = Facility(tmp_path_factory.mktemp("fuzz"))
    kiosk = facility.issue(Role.KIOSK, "k")
    kiosk_end, fake_tablet = stream_pair()
    fake_tablet.write(data, 1)
    started = time.monotonic()
    with pytest.raises((HandshakeFailed, HandshakeTimeout)):
        SecureChannel.connect(kiosk_end, make_context("connect", kiosk.credentials, facility.ca),
                              timeout=0.1)
    assert time.monotonic() - started < 5


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=1, max_value=400), flip=st.integers(min_value=0, max_value=399))
def test_truncated_or_damaged_client_hello(tmp_path_factory, cut: int, flip: int) -> None:
    facility = Facility(tmp_path_factory.mktemp("fuzz"))
    kiosk = facility.issue(Role.KIOSK, "k")
    tablet = facility.issue(Role.TABLET, "t", "JP5S-000001")
    kiosk_end, _ = stream_pair()
    with pytest.raises((HandshakeTimeout, HandshakeFailed)):
        SecureChannel.connect(kiosk_end, make_context("connect", kiosk.credentials, facility.ca),
                              timeout=0.05)
    hello = bytearray(b"".join(kiosk_end.written))[:cut]
    if flip < len(hello):
        hello[flip] ^= 0x5A
    assert accept_garbage(facility, tablet, bytes(hello), timeout=0.1) < 5


def test_oversized_handshake_is_cut_off(facility: Facility, pair) -> None:
    _, tablet = pair
    # A record header promising a huge handshake, then endless bytes.
    flood = b"\x16\x03\x01\x40\x00" + b"\x01" * (MAX_HANDSHAKE_BYTES * 2)
    attacker, tablet_end = stream_pair()
    for i in range(0, len(flood), 4096):
        attacker.write(flood[i:i + 4096], 1)
    with pytest.raises(HandshakeFailed):
        SecureChannel.accept(tablet_end, make_context("accept", tablet.credentials, facility.ca),
                             timeout=5)


def test_silence_times_out(facility: Facility, pair) -> None:
    _, tablet = pair
    _, tablet_end = stream_pair()
    started = time.monotonic()
    with pytest.raises(HandshakeTimeout):
        SecureChannel.accept(tablet_end, make_context("accept", tablet.credentials, facility.ca),
                             timeout=0.3)
    assert time.monotonic() - started < 3


def test_messages_are_bounded_and_checked(facility: Facility, pair) -> None:
    client, server, _, _ = connect_pair(facility, *pair)
    client.send(b"\x7f\xff\xff\xff")
    with pytest.raises(ChannelError, match="limit"):
        messages.receive(server, 2, TabletHello, max_size=1024)
    client.send(b"\x00\x00\x00\x02\xff\xff")
    with pytest.raises(ChannelError, match="indefinite"):
        messages.receive(server, 2, TabletHello)


def test_channel_data_tampering_is_detected(facility: Facility, pair) -> None:
    kiosk, tablet = pair
    kiosk_end, tablet_end = stream_pair()
    server = background(SecureChannel.accept, tablet_end,
                        make_context("accept", tablet.credentials, facility.ca))
    client = SecureChannel.connect(kiosk_end, make_context("connect", kiosk.credentials,
                                                           facility.ca))
    channel = server.result(10)
    # Flip a bit of the next record on its way.
    client._ssl.write(b"pay 5 stamps")
    record = bytearray(client._out.read())
    record[-3] ^= 1
    tablet_end._inbox.put(bytes(record))
    with pytest.raises(ChannelError):
        channel.recv(100, 2)




class _LateBytes:
    """A stream that hands over the tail of an earlier session before the new one's bytes."""

    def __init__(self, stream, stale: bytes) -> None:
        self.stream = stream
        self.stale = stale

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self.stale:
            first, self.stale = self.stale[:3], self.stale[3:]  # in pieces, as a link does
            return first
        return self.stream.read(max_bytes, timeout)

    def write(self, data: bytes, timeout: float) -> None:
        self.stream.write(data, timeout)

    def close(self) -> None:
        self.stream.close()


# An earlier session's encrypted close_notify (content type 23), and a plaintext alert.
LATE_CLOSE = bytes([23, 3, 3, 0, 19]) + bytes(range(19))
LATE_ALERT = bytes([21, 3, 3, 0, 2, 1, 0])


@pytest.mark.parametrize("stale", [LATE_CLOSE, LATE_CLOSE * 2, LATE_ALERT + LATE_CLOSE],
                         ids=["close", "two-records", "alert-and-close"])
def test_an_earlier_sessions_late_records_do_not_spoil_the_tablets_handshake(
        facility: Facility, pair, stale: bytes) -> None:
    kiosk, tablet = pair
    kiosk_end, tablet_end = stream_pair()
    server = background(SecureChannel.accept, _LateBytes(tablet_end, stale),
                        make_context("accept", tablet.credentials, facility.ca))
    client = SecureChannel.connect(kiosk_end, make_context("connect", kiosk.credentials,
                                                           facility.ca))
    channel = server.result(10)
    assert channel.stale_bytes == len(stale)
    messages.send(client, TabletHello("JP5S-000001", 3))
    assert messages.receive(channel, 5, TabletHello).counter == 3


def test_an_earlier_sessions_late_close_does_not_spoil_the_kiosks_handshake(
        facility: Facility, pair) -> None:
    kiosk, tablet = pair
    kiosk_end, tablet_end = stream_pair()
    server = background(SecureChannel.accept, tablet_end,
                        make_context("accept", tablet.credentials, facility.ca))
    client = SecureChannel.connect(_LateBytes(kiosk_end, LATE_CLOSE),
                                   make_context("connect", kiosk.credentials, facility.ca))
    assert client.stale_bytes == len(LATE_CLOSE)
    messages.send(server.result(10), TabletHello("JP5S-000001", 4))
    assert messages.receive(client, 5, TabletHello).counter == 4


def test_a_plaintext_alert_still_ends_the_kiosks_handshake(facility: Facility, pair) -> None:
    kiosk, _ = pair
    kiosk_end, fake_tablet = stream_pair()
    fake_tablet.write(bytes([21, 3, 3, 0, 2, 2, 40]), 1)  # handshake_failure, as a refusal
    with pytest.raises(HandshakeFailed):
        SecureChannel.connect(kiosk_end, make_context("connect", kiosk.credentials, facility.ca),
                              timeout=2)
