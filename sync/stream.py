"""Frames of the sync session over a transport (the mutual-TLS channel)."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from sync.errors import FrameTooLarge, MalformedFrame
from sync.frames import MAX_FRAME, PREFIX_SIZE, Frame, decode_body, encode_parts

log = logging.getLogger(__name__)


class FrameTransport(Protocol):
    """What frames travel over; :class:`device_security.channel.SecureChannel` is one.

    ``recv_into`` fills the front of ``buffer`` with what has arrived, at
    least one byte and at most ``len(buffer)``, and returns how many; it
    raises when nothing arrives in time (TimeoutError) or on the transport's
    own errors.
    """

    def send(self, data: bytes, timeout: float) -> None: ...

    def recv_into(self, buffer: memoryview, timeout: float) -> int: ...


class FrameStream:
    """Frames over a transport, counting the bytes that pass.

    Transport errors (TimeoutError, ChannelClosed, ChannelError) pass through
    unchanged. A frame is received into a buffer the stream keeps (it grows
    to the largest frame received) and decoded from there. What has arrived
    of a frame is kept across calls, so :meth:`poll` can wait a short while
    and :meth:`recv` go on later. After FrameTooLarge, MalformedFrame or a
    transport error other than a timeout, the stream is out of step: stop
    the session.
    """

    def __init__(self, transport: FrameTransport, *, max_frame: int = MAX_FRAME) -> None:
        if not 0 < max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be 1..{MAX_FRAME}")
        self._transport = transport
        self.max_frame = max_frame
        self.bytes_sent = 0
        self.bytes_received = 0
        self._prefix = bytearray(PREFIX_SIZE)
        self._buffer = bytearray()
        self._size: int | None = None  # the body's length, once its prefix is in
        self._got = 0  # bytes of the prefix, then of the body, received so far

    def send(self, frame: Frame, timeout: float) -> None:
        """Encode and send one frame. Raises what :func:`encode` raises (before
        anything is sent), or what the transport raises."""
        deadline = time.monotonic() + timeout
        parts = encode_parts(frame)
        for part in parts:
            self._transport.send(part, max(0.001, deadline - time.monotonic()))
        size = sum(len(part) for part in parts)
        self.bytes_sent += size
        log.debug("sent %s, %d bytes", type(frame).__name__, size)

    def recv(self, timeout: float) -> Frame:
        """Receive one frame within ``timeout`` seconds.

        Raises FrameTooLarge for a length over ``max_frame`` before reading
        any of the body, MalformedFrame or UnknownFrameType for a body that
        is not a valid frame, or what the transport raises.
        """
        deadline = time.monotonic() + timeout
        while self._size is None:
            self._fill(memoryview(self._prefix), PREFIX_SIZE, deadline, timeout)
            size = int.from_bytes(self._prefix, "big")
            self._got = 0
            if size > self.max_frame:
                raise FrameTooLarge(f"the peer announces a {size}-byte frame; the limit is "
                                    f"{self.max_frame}")
            if size == 0:
                raise MalformedFrame("an empty frame")
            if len(self._buffer) < size:
                self._buffer = bytearray(size)
            self._size = size
        size = self._size
        with memoryview(self._buffer) as view:
            self._fill(view, size, deadline, timeout)
            self._size = None
            self._got = 0
            frame = decode_body(view[:size])
        log.debug("received %s, %d bytes", type(frame).__name__, PREFIX_SIZE + size)
        return frame

    def poll(self, timeout: float) -> Frame | None:
        """The next frame if it is complete within ``timeout`` seconds, else
        None (what has arrived of it is kept for the next call). Raises what
        :meth:`recv` raises, but for the transport's TimeoutError."""
        try:
            return self.recv(timeout)
        except TimeoutError:
            return None

    def _fill(self, view: memoryview, size: int, deadline: float, timeout: float) -> None:
        """Receive into ``view`` until ``size`` bytes are there, by ``deadline``.
        The transport is asked at least once, so that its own errors show."""
        while self._got < size:
            left = deadline - time.monotonic()
            if left <= 0 < self._got:
                raise TimeoutError(f"received {self._got} of {size} bytes within "
                                   f"{timeout:.3f} s")
            got = self._transport.recv_into(view[self._got:size], max(0.001, left))
            if not 0 < got <= size - self._got:
                raise MalformedFrame(f"the transport gave {got} bytes where 1 to "
                                     f"{size - self._got} were asked for")
            self._got += got
            self.bytes_received += got
