"""The firmware step of a dock, both ends, over the session's interfaces
(sync/firmware_step.py).

:class:`KioskDockFirmware` offers images from the kiosk's copy of the
repository to the tablets a rollout reaches, signs the time with the kiosk's
key, passes on the agency's feature switches and hears what each tablet runs.
:class:`TabletDockFirmware` is the tablet's end: its status and nonce, the
signed time (checked against the key of the kiosk that just proved itself in
the handshake), the switches (kept in ``features.json``), the checks of an
offer and the image's chunks into the inactive slot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from base.files import write_atomic
from firmware_images.device import FirmwareDevice
from firmware_images.errors import FirmwareError, HashError, LengthError
from firmware_images.repository import ImageEntry, Repository
from firmware_images.transfer import ImageSource
from firmware_images.trust import Installed
from sync.errors import BlobMismatchError
from sync.firmware_step import Answer, FirmwareStatus, OfferedImage

log = logging.getLogger(__name__)
TIME_KEY = "kiosk"  # the name a kiosk's time token gives its key: the tablet trusts the
# key of the kiosk certificate it just checked, and only for this dock


class KioskDockFirmware:
    """The kiosk's end. ``repository`` is the kiosk's copy (kiosk/firmware.py
    keeps it); ``eligible(serial, entry)`` says whether a rollout reaches the
    tablet; ``features()`` gives the agency's switches and their version."""

    def __init__(self, repository: Repository, *, sign_time: Callable[[bytes], bytes],
                 eligible: Callable[[str, ImageEntry], bool],
                 features: Callable[[], tuple[int, Mapping[str, bool]]],
                 on_status: Callable[[str, FirmwareStatus], None],
                 on_refused: Callable[[str, str, str], None]) -> None:
        self.source = ImageSource(repository, eligible)
        self._sign_time = sign_time
        self._features = features
        self._on_status = on_status
        self._on_refused = on_refused

    def status(self, serial: str, status: FirmwareStatus) -> None:
        self._on_status(serial, status)

    def signed_time(self, nonce: bytes) -> bytes:
        return self._sign_time(nonce)

    def features(self, held: int) -> tuple[int, Mapping[str, bool]] | None:
        version, switches = self._features()
        return (version, switches) if version > held else None

    def offer(self, serial: str, status: FirmwareStatus) -> OfferedImage | None:
        repo = self.source.repository
        if not (repo.metadata_dir / "targets.json").exists():
            return None
        try:
            offer = self.source.offer(serial, Installed(status.model, status.kind,
                                                        status.version), status.root_version)
        except FirmwareError as e:
            log.warning("no firmware offer for %s: %s", serial, e)
            return None
        if offer is None or not repo.image_path(offer.entry.sha256).exists():
            return None
        entry = offer.entry
        return OfferedImage(entry.name, entry.length, bytes.fromhex(entry.sha256),
                            offer.metadata)

    def chunk(self, sha: bytes, offset: int, size: int) -> bytes:
        return self.source.chunk(sha.hex(), offset, size)

    def answered(self, serial: str, image: OfferedImage, answer: Answer) -> None:
        if answer.accept:
            log.info("tablet %s takes %s from byte %d", serial, image.name, answer.offset)
        elif answer.refusal:
            log.warning("tablet %s refused %s: %s", serial, image.name, answer.refusal)
            self._on_refused(serial, image.name, answer.refusal)

    def installed(self, serial: str, image: OfferedImage) -> None:
        log.info("tablet %s installed %s in its other slot", serial, image.name)


class TabletDockFirmware:
    """The tablet's end for one dock with the kiosk whose certificate key is
    ``kiosk_key``. ``path`` is the tablet's firmware directory."""

    def __init__(self, path: Path, *, kiosk_key: Ed25519PublicKey,
                 features_path: Path) -> None:
        self.device = FirmwareDevice.open(path, time_keys={TIME_KEY: kiosk_key})
        self.features_path = features_path
        self._token: bytes | None = None
        self.refused: FirmwareError | None = None  # the last refusal, for the tablet's log

    def status(self) -> tuple[FirmwareStatus, bytes]:
        report = self.device.report()
        status = FirmwareStatus(report.model, report.kind, report.version, report.slot,
                                report.event, report.root_version,
                                read_features(self.features_path)[0])
        return status, self.device.challenge()

    def take_time(self, token: bytes) -> None:
        self._token = token

    def take_features(self, version: int, switches: Mapping[str, bool]) -> None:
        if version > read_features(self.features_path)[0]:
            write_atomic(self.features_path, json.dumps(
                {"version": version, "features": dict(sorted(switches.items()))}).encode())

    def consider(self, image: OfferedImage) -> Answer:
        token, self._token = self._token, None
        state = self.device.state()
        other = state.slots[state.inactive]
        if other is not None and other.sha256 == image.sha.hex():
            # on trial (waiting for its boot), or tried and rolled back: the slot
            # that is not good holds it only then; it is not taken again
            self._token = token  # kept for dock_ended: the time still counts
            return Answer(False)
        try:
            entry = self.device.consider(image.name, image.metadata, token)
            if entry.length != image.size:
                raise LengthError("the offer's size is not the signed length",
                                  target=entry.name, expected=entry.length,
                                  observed=image.size)
            if entry.sha256 != image.sha.hex():
                raise HashError("the offer's SHA-256 is not the signed one", target=entry.name,
                                expected=entry.sha256, observed=image.sha.hex())
            return Answer(True, self.device.begin(entry))
        except FirmwareError as e:
            log.warning("firmware %s refused: %s", image.name, e)
            self.refused = e
            return Answer(False, 0, e.code)

    def write(self, offset: int, data: bytes) -> int:
        try:
            return self.device.write(offset, data)
        except FirmwareError as e:
            self.device.sink.close()
            raise BlobMismatchError(f"firmware: {e}") from e

    def finish(self) -> None:
        try:
            self.device.finish()
        except FirmwareError as e:
            raise BlobMismatchError(f"firmware: {e}") from e

    def close(self) -> None:
        self.device.sink.close()

    def dock_ended(self) -> None:
        self.device.sink.close()
        token, self._token = self._token, None
        if token is None:
            return
        try:
            self.device.take_time(token)
        except (FirmwareError, OSError) as e:
            log.info("the kiosk's time was not taken: %s", e)


def read_features(path: Path) -> tuple[int, dict[str, bool]]:
    """The feature switches a tablet holds, and their version (0: none yet)."""
    try:
        data = json.loads(path.read_text())
        version, features = data["version"], data["features"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0, {}
    if not isinstance(version, int) or not isinstance(features, dict):
        return 0, {}
    return version, {str(k): bool(v) for k, v in features.items()}


def feature_enabled(path: Path, feature: str, *, default: bool = True) -> bool:
    """Whether the agency left ``feature`` on (a feature it never switched is
    ``default``)."""
    return read_features(path)[1].get(feature, default)
