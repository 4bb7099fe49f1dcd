"""What the session's firmware step asks of each end (docs/protocol.md, "The
firmware step"). The sync layer knows nothing of images or signed metadata:
the kiosk's and the tablet's firmware code (firmware_images/dock.py)
implements these interfaces; the session moves their values as frames.

Kiosk side, :class:`KioskFirmware`: take the tablet's status (for the version
census), answer its nonce with a signed time, hand over newer feature
switches, offer an image, serve its chunks, hear the answer.
Tablet side, :class:`TabletFirmware`: report its status with a fresh nonce,
take the signed time and the switches, consider an offer (verify; where to
resume), write chunks durably, finish (verify and install).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FirmwareStatus:
    """What a tablet runs (DeviceStatus, without the nonce)."""

    model: str
    kind: str
    version: int
    slot: str
    event: str
    root_version: int
    features: int


@dataclass(frozen=True)
class OfferedImage:
    """An image the kiosk offers: its name in the signed targets, its size and
    SHA-256, and the metadata bundle to check it with."""

    name: str
    size: int
    sha: bytes
    metadata: bytes


@dataclass(frozen=True)
class Answer:
    """The tablet's answer to an offer: take it from ``offset``, or not, and
    then why (``refusal``: an error code; empty when it simply does not want it)."""

    accept: bool
    offset: int = 0
    refusal: str = ""


class KioskFirmware(Protocol):
    def status(self, serial: str, status: FirmwareStatus) -> None:
        """The tablet's status, at every dock (queued for the central server)."""

    def signed_time(self, nonce: bytes) -> bytes:
        """A time token answering ``nonce``."""

    def features(self, held: int) -> tuple[int, Mapping[str, bool]] | None:
        """The agency's switches and their version, if newer than ``held``."""

    def offer(self, serial: str, status: FirmwareStatus) -> OfferedImage | None:
        """An image for this tablet now (its rollout reaches it), or None."""

    def chunk(self, sha: bytes, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of the image from ``offset``."""

    def answered(self, serial: str, image: OfferedImage, answer: Answer) -> None:
        """The tablet's answer; a refusal is the kiosk's to alert."""

    def installed(self, serial: str, image: OfferedImage) -> None:
        """The tablet verified the image and installed it in its other slot."""


class TabletFirmware(Protocol):
    def status(self) -> tuple[FirmwareStatus, bytes]:
        """What the tablet runs, and a fresh nonce for this dock."""

    def take_time(self, token: bytes) -> None:
        """The kiosk's signed time (checked with the offer, or at the end)."""

    def take_features(self, version: int, switches: Mapping[str, bool]) -> None:
        """Keep the agency's switches (durably)."""

    def consider(self, image: OfferedImage) -> Answer:
        """Check the offer (metadata, time, image entry). Never raises for a
        refusal: it is the answer's ``refusal``."""

    def write(self, offset: int, data: bytes) -> int:
        """Write a chunk durably; returns the bytes durable. Raises on a chunk
        out of place or past the signed length."""

    def finish(self) -> None:
        """Verify length and hash and install. Raises when they do not match."""

    def dock_ended(self) -> None:
        """The session is over: keep the signed time even when nothing was offered."""

    def close(self) -> None:
        """The session ended, well or not (an unplug): let go of open files."""
