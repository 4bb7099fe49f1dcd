"""Mutual TLS 1.3 over any byte stream (a tablet's USB serial link), with memory BIOs.

The kiosk and the staff workstation connect; the tablet accepts. Only TLS 1.3
with ``TLS_AES_256_GCM_SHA384`` is accepted: the context refuses older
versions, and a session that negotiated anything else is closed at once.
The handshake is bounded in time and in bytes, so garbage from a device
ends in :class:`HandshakeFailed` or :class:`HandshakeTimeout`, never a hang.

Inside the channel go the messages of device_security/messages.py, then
(once a kiosk has paired the tablet) the frames of the sync session.
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from device_security import reasons
from device_security.errors import ChannelClosed, ChannelError, HandshakeFailed, HandshakeTimeout

log = logging.getLogger(__name__)

CIPHER = "TLS_AES_256_GCM_SHA384"
MAX_HANDSHAKE_BYTES = 64 * 1024
READ_CHUNK = 64 * 1024
SEND_PIECE = 64 * 1024  # plaintext encrypted and written at a time
ALERT, APPLICATION_DATA = 21, 23  # TLS record content types

Buffer: TypeAlias = bytes | bytearray | memoryview

# OpenSSL verify codes, mapped to our reason codes.
_VERIFY_REASONS = {
    9: reasons.CERTIFICATE_NOT_YET_VALID,
    10: reasons.CERTIFICATE_EXPIRED,
    23: reasons.CERTIFICATE_REVOKED,
    26: reasons.WRONG_ROLE,  # unsuitable certificate purpose
}


class ByteStream(Protocol):
    """What the channel runs over; :class:`hw.serial_link.SerialLink` is one.

    ``read`` returns at least one byte, or raises TimeoutError when none
    arrives in time. Any other error of the stream passes through unchanged.
    """

    def read(self, max_bytes: int, timeout: float) -> bytes: ...

    def write(self, data: bytes, timeout: float) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Credentials:
    """A device's certificate and key, as files (what Python's ssl loads)."""

    certificate: Path
    key: Path


def make_context(side: str, credentials: Credentials | None, ca: x509.Certificate, *,
                 peer_certificate: str = "required") -> ssl.SSLContext:
    """A TLS 1.3-only context. ``side`` is "connect" or "accept".

    ``peer_certificate`` is "required" or, for a tablet that also accepts a
    release token from a peer with no certificate, "optional".
    """
    if side not in ("connect", "accept"):
        raise ValueError("side is connect or accept")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if side == "connect"
                             else ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False  # a serial link has no host names; identity is checked after
    context.verify_mode = ssl.CERT_REQUIRED if peer_certificate == "required" \
        else ssl.CERT_OPTIONAL
    context.options |= ssl.OP_NO_TICKET  # no resumption: every dock proves its key afresh
    if side == "accept":
        context.num_tickets = 0
    context.load_verify_locations(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    if credentials is not None:
        context.load_cert_chain(str(credentials.certificate), str(credentials.key))
    return context


class SecureChannel:
    """One TLS session over a byte stream. Use :meth:`connect` or :meth:`accept`."""

    def __init__(self, stream: ByteStream, context: ssl.SSLContext, server_side: bool) -> None:
        self._stream = stream
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._in, self._out, server_side=server_side)
        self.handshake_bytes = 0
        self._closed = False  # no more application data
        self._shut = False  # close_notify exchanged (or given up on)
        self._rx = bytearray()  # received bytes of a TLS record not yet whole
        self._rx_whole = 5  # how long _rx must be to hold a whole record (its header first)
        self._failed: ChannelError | None = None  # found after plaintext already returned
        # Before the peer's first handshake record, whole records of a session that
        # ended are dropped: its close_notify can reach the link after the next
        # session opened it (a peer slow to close). Encrypted records (and, for the
        # accepting side, alerts) cannot start a TLS 1.3 handshake.
        self._stale_types = (ALERT, APPLICATION_DATA) if server_side else (APPLICATION_DATA,)
        self._lead: bytearray | None = bytearray()
        self.stale_bytes = 0

    @classmethod
    def connect(cls, stream: ByteStream, context: ssl.SSLContext, *,
                timeout: float = 5.0) -> SecureChannel:
        """Run the handshake as the connecting side. Raises HandshakeFailed,
        HandshakeTimeout, or what the stream raises."""
        channel = cls(stream, context, server_side=False)
        channel._handshake(time.monotonic() + timeout)
        return channel

    @classmethod
    def accept(cls, stream: ByteStream, context: ssl.SSLContext, *,
               timeout: float = 5.0) -> SecureChannel:
        """Run the handshake as the accepting side (the tablet)."""
        channel = cls(stream, context, server_side=True)
        channel._handshake(time.monotonic() + timeout)
        return channel

    # -- the handshake -----------------------------------------------------------

    def _flush(self, deadline: float) -> None:
        data = self._out.read()
        if data:
            self._stream.write(data, timeout=max(0.05, deadline - time.monotonic()))

    def _handshake(self, deadline: float) -> None:
        while True:
            try:
                self._ssl.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush(deadline)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HandshakeTimeout("no complete handshake in time") from None
                try:
                    data = self._stream.read(READ_CHUNK, timeout=left)
                except TimeoutError as e:
                    raise HandshakeTimeout("the peer stopped answering the handshake") from e
                self.handshake_bytes += len(data)
                if self.handshake_bytes > MAX_HANDSHAKE_BYTES:
                    raise HandshakeFailed(reasons.HANDSHAKE_FAILED,
                                          f"handshake larger than {MAX_HANDSHAKE_BYTES} bytes"
                                          ) from None
                self._in.write(self._skip_stale(data))
            except ssl.SSLCertVerificationError as e:
                self._send_alert(deadline)
                reason = _VERIFY_REASONS.get(e.verify_code, reasons.CERTIFICATE_UNTRUSTED)
                raise HandshakeFailed(reason, f"peer certificate: {e.verify_message}") from e
            except ssl.SSLError as e:
                self._send_alert(deadline)
                raise HandshakeFailed(reasons.HANDSHAKE_FAILED, f"TLS: {e.reason or e}") from e
        self._flush(deadline)
        # Bytes that came with the handshake's last flight belong to whole
        # records after it: from here on they go through the record assembler.
        self._take(self._in.read())
        cipher = self._ssl.cipher()
        if self._ssl.version() != "TLSv1.3" or cipher is None or cipher[0] != CIPHER:
            self.close()
            raise HandshakeFailed(reasons.HANDSHAKE_FAILED,
                                  f"negotiated {self._ssl.version()} {cipher}")

    def _skip_stale(self, data: bytes) -> bytes:
        """``data`` without the whole stale records that lead it (see __init__)."""
        lead = self._lead
        if lead is None:
            return data
        lead += data
        while len(lead) >= 5 and lead[0] in self._stale_types:
            end = 5 + int.from_bytes(lead[3:5], "big")
            if len(lead) < end:
                return b""
            self.stale_bytes += end
            del lead[:end]
        if not lead or (len(lead) < 5 and lead[0] in self._stale_types):
            return b""
        self._lead = None
        if self.stale_bytes:
            log.info("dropped %d bytes of an earlier session before the handshake",
                     self.stale_bytes)
        return bytes(lead)

    def _send_alert(self, deadline: float) -> None:
        try:
            self._flush(deadline)
        except Exception as e:  # noqa: BLE001 - the alert is a courtesy; the failure stands
            log.debug("could not send the TLS alert: %s", e)

    # -- after the handshake -------------------------------------------------------

    @property
    def peer_certificate(self) -> x509.Certificate | None:
        der = self._ssl.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der) if der else None

    @property
    def cipher(self) -> str:
        cipher = self._ssl.cipher()
        return cipher[0] if cipher else ""

    def send(self, data: Buffer, timeout: float = 10.0) -> None:
        """Encrypt and send ``data`` (any bytes-like object). Raises ChannelError,
        or what the stream raises.

        Large data is encrypted and written a piece at a time, so no copy of
        the whole is ever made and the link starts moving at once."""
        if self._closed:
            raise ChannelClosed("the channel is closed")
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        for start in range(0, len(view), SEND_PIECE):
            try:
                self._ssl.write(view[start:start + SEND_PIECE])
            except ssl.SSLError as e:
                raise ChannelError(f"TLS: {e.reason or e}") from e
            self._flush(deadline)

    def recv(self, max_bytes: int, timeout: float) -> bytes:
        """Up to ``max_bytes`` of plaintext as soon as any arrive.

        Raises TimeoutError when none arrive in time, ChannelClosed when the
        peer closed the channel, ChannelError on a TLS failure.
        """
        buffer = bytearray(min(max_bytes, READ_CHUNK))
        got = self.recv_into(memoryview(buffer), timeout)
        return bytes(memoryview(buffer)[:got])

    def recv_into(self, buffer: memoryview, timeout: float) -> int:
        """Decrypt into ``buffer`` as much plaintext as has arrived, waiting
        for the first byte at most ``timeout`` seconds; returns how many bytes
        (at least one). Raises what :meth:`recv` raises."""
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise ChannelClosed("the channel is closed")
        size = len(buffer)
        if size <= 0:
            raise ValueError("recv_into needs room for at least one byte")
        deadline = time.monotonic() + timeout
        while True:
            waiting = self._in.pending
            if not waiting and not self._ssl.pending():
                self._receive_record(deadline, timeout)
                continue
            try:
                got = self._read_into(buffer)
            except ssl.SSLWantReadError:
                # A record without application data (a key update, say).
                if self._in.pending == waiting:  # nothing taken: it needs more bytes
                    self._receive_record(deadline, timeout)
                continue
            except ssl.SSLZeroReturnError as e:
                self._closed = True
                raise ChannelClosed("the peer closed the channel") from e
            except ssl.SSLError as e:
                self._closed = True
                reason = str(e.reason or e)
                raise ChannelError(f"TLS: {reason}") from e
            if not got:
                self._closed = True
                raise ChannelClosed("the peer closed the channel")
            break
        # Add the records already received in full, without waiting.
        while got < size and (self._in.pending or self._ssl.pending()):
            try:
                more = self._read_into(buffer[got:])
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break  # a partial record, or the close_notify: for the next call
            except ssl.SSLError as e:  # a bad record after good ones: for the next call
                self._closed = True
                self._failed = ChannelError(f"TLS: {e.reason or e}")
                break
            if not more:
                break
            got += more
        return got

    def _receive_record(self, deadline: float, timeout: float) -> None:
        """Read from the stream until at least one more whole record is in
        ``_in`` (the link hands over a few KB at a time: this loop is kept short).
        Raises TimeoutError, or what the stream raises."""
        rx, read, clock = self._rx, self._stream.read, time.monotonic
        pending = self._in.pending
        while self._in.pending == pending:
            while len(rx) < self._rx_whole:
                left = deadline - clock()
                if left <= 0:
                    raise TimeoutError(f"nothing received within {timeout:.3f} s")
                rx += read(READ_CHUNK, left)
            self._take(b"")

    def _read_into(self, buffer: memoryview) -> int:
        """Decrypt straight into ``buffer``; how many bytes. Raises ssl's errors."""
        got: Any = self._ssl.read(len(buffer), buffer)
        return int(got)

    def _take(self, data: bytes) -> None:
        """Hand OpenSSL only whole TLS records, so that it is never asked to
        decrypt a record that has not fully arrived (that would cost a failed
        read for every piece the link delivers). ``_in`` holds whole records
        only: its ``pending`` says whether there is a record to read."""
        rx = self._rx
        rx += data
        end = self._rx_whole
        if len(rx) < end:  # most pieces: the record is not whole yet
            return
        whole = 0
        while len(rx) >= end:
            if end - whole == 5:  # the header is in: the record's length is known
                end = whole + 5 + int.from_bytes(rx[whole + 3:whole + 5], "big")
                if end - whole > 5:
                    continue
            whole, end = end, end + 5
        if whole:
            with memoryview(rx) as view:
                self._in.write(view[:whole])
            del rx[:whole]
        self._rx_whole = end - whole

    def recv_exactly(self, size: int, timeout: float) -> bytes:
        """Exactly ``size`` bytes of plaintext within ``timeout`` seconds in all.
        Raises what :meth:`recv` raises."""
        deadline = time.monotonic() + timeout
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"received {got} of {size} bytes within {timeout:.3f} s")
            got += self.recv_into(view[got:], left)
        view.release()
        return bytes(buffer)

    def close(self, timeout: float = 1.0) -> None:
        """Close the TLS session cleanly: send close_notify and take the peer's, so
        that the link carries nothing stale into the next session. Bounded by
        ``timeout``; a dead link just ends it."""
        if self._shut:
            return
        self._shut = True
        self._closed = True
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    self._ssl.unwrap()
                    self._flush(deadline)
                    return
                except ssl.SSLWantReadError:
                    self._flush(deadline)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._take(self._stream.read(READ_CHUNK, timeout=left))
        except Exception as e:  # noqa: BLE001 - closing over a dead or silent link is normal
            log.debug("channel closed without the peer's close_notify: %s", e)
