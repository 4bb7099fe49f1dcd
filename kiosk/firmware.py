"""The kiosk's part in firmware (docs/firmware.md): a copy of the agency's
signed repository kept from the central server, the images of the rollouts
that reach this kiosk's unit, the agency's feature switches, and the tablets'
reports queued for the server; and, when the kiosk runs from its own slots,
its own update and report (kiosk/own_firmware.py). A round calls
:meth:`FirmwareMirror.refresh`;
each dock gets :meth:`FirmwareMirror.dock_firmware` (firmware_images/dock.py),
which signs the time with the kiosk's own key.

::

    <directory>/repository/metadata/...   as the server holds it, bytes as signed
    <directory>/repository/images/<sha256>.img
    <directory>/rollouts.json             rollouts and feature switches, last fetched
    <directory>/reports.json              tablets' status not yet sent, by serial

The kiosk checks nothing it passes on: the tablet verifies everything itself,
and the server checked it when it was published.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from base.files import write_atomic
from firmware_images.dock import TIME_KEY, KioskDockFirmware
from firmware_images.errors import FirmwareError, RepositoryError
from firmware_images.repository import ImageEntry, Repository
from firmware_images.rollout import in_rollout
from firmware_images.signed_time import sign_time
from kiosk.central_client import BlobMismatch, CentralClient, CentralRefused
from kiosk.own_firmware import OwnFirmware
from sync.firmware_step import FirmwareStatus

log = logging.getLogger(__name__)
MAX_ROOTS_A_ROUND = 16


@dataclass
class FirmwareRound:
    """What a round did: metadata fetched, images fetched, reports sent."""

    metadata: bool = False
    images: int = 0
    reports: int = 0
    own: str = ""  # the kiosk's own image: "", installed, refused: <code> (kiosk/own_firmware.py)
    restarting: bool = False


class FirmwareMirror:
    """The kiosk's firmware directory. The constructor does no I/O.

    ``own``: the slots the kiosk runs from (``OwnFirmware.from_environment``),
    when it updates itself and reports its own version; ``quiet``: whether
    no dock is in progress, the moment to restart into a new slot (unset, a
    new image waits for the kiosk's next start)."""

    def __init__(self, directory: Path, *, own: OwnFirmware | None = None,
                 quiet: Callable[[], bool] | None = None) -> None:
        self.directory = directory
        self.own = own
        self.quiet = quiet
        self._kiosk_id: str | None = None
        self.repository = Repository(directory / "repository")
        self._state = directory / "rollouts.json"
        self._reports = directory / "reports.json"
        self._lock = threading.Lock()  # reports come from docks, leave from rounds

    # -- a round --------------------------------------------------------------------------

    def refresh(self, client: CentralClient) -> FirmwareRound:
        """Bring the copy up to date and send the reports. Raises the client's
        errors (CentralUnavailable: the round says the server is away)."""
        done = FirmwareRound()
        self.directory.mkdir(parents=True, exist_ok=True)  # before anything was published
        timestamp = client.firmware_metadata("timestamp.json")
        metadata = self.repository.metadata_dir
        if timestamp is not None and timestamp != _read(metadata / "timestamp.json"):
            self._fetch_metadata(client, timestamp)
            done.metadata = True
        rollouts = client.firmware_rollouts()
        version, features = client.firmware_features()
        write_atomic(self._state, json.dumps({"rollouts": rollouts, "features": features,
                                              "features_version": version}).encode())
        for rollout in rollouts:
            sha, length = str(rollout["sha256"]), int(rollout["length"])
            try:
                path = self.repository.image_path(sha)
            except RepositoryError:  # a bad name from the server: not fetched
                log.warning("a rollout names no image: %r", sha[:80])
                continue
            if path.exists():
                continue
            self.repository.images_dir.mkdir(parents=True, exist_ok=True)
            sink = FileSink(path)
            try:
                client.fetch_blob(sha, length, sink, route="/v1/kiosk/firmware/images/")
            except (CentralRefused, BlobMismatch) as e:
                log.warning("firmware image %s not fetched: %s", sha[:12], e)
                continue
            finally:
                sink.close()
            done.images += 1
        mine = self._own_round(client, rollouts, done)
        done.reports = self._send_reports(client, mine)
        if self.own is not None and self.quiet is not None:
            done.restarting = self.own.restart_if_due(self.quiet())
        return done

    def _own_round(self, client: CentralClient, rollouts: list[dict[str, Any]],
                   done: FirmwareRound) -> dict[str, Any] | None:
        """The kiosk's own image installed when one is due, and its own report."""
        if self.own is None:
            return None
        if self._kiosk_id is None:
            self._kiosk_id = client.kiosk_id()
        try:
            done.own = self.own.install(self.repository, rollouts, self._kiosk_id)
            return self.own.report(self._kiosk_id)
        except FirmwareError as e:  # its slots unreadable: the journal says so each round
            log.error("the kiosk's own firmware slots: %s", e)
            return None

    def _fetch_metadata(self, client: CentralClient, timestamp: bytes) -> None:
        metadata = self.repository.metadata_dir
        metadata.mkdir(parents=True, exist_ok=True)
        self.repository.images_dir.mkdir(parents=True, exist_ok=True)
        held = 0
        for path in metadata.glob("*.root.json"):
            number = path.name.split(".", 1)[0]
            held = max(held, int(number) if number.isdigit() else 0)
        for version in range(held + 1, held + 1 + MAX_ROOTS_A_ROUND):
            root = client.firmware_metadata(f"{version}.root.json")
            if root is None:
                break
            write_atomic(metadata / f"{version}.root.json", root)
            write_atomic(metadata / "root.json", root)
        snapshot = client.firmware_metadata("snapshot.json")
        targets = client.firmware_metadata("targets.json")
        if snapshot is None or targets is None:
            return  # published in between: the next round takes the whole of it
        # targets and snapshot before the timestamp that names them
        write_atomic(metadata / "targets.json", targets)
        write_atomic(metadata / "snapshot.json", snapshot)
        write_atomic(metadata / "timestamp.json", timestamp)

    def _send_reports(self, client: CentralClient, mine: dict[str, Any] | None) -> int:
        with self._lock:  # the round made the directory before it came here
            pending = _load(self._reports)
        if not pending and mine is None:
            return 0
        client.firmware_reports(list(pending.values()) + ([mine] if mine else []))
        with self._lock:  # a dock may have reported again meanwhile: keep that one
            now = _load(self._reports)
            left = {k: v for k, v in now.items() if pending.get(k) != v}
            write_atomic(self._reports, json.dumps(left).encode())
        return len(pending) + (1 if mine else 0)

    # -- what a dock uses -------------------------------------------------------------------

    def eligible(self, serial: str, entry: ImageEntry) -> bool:
        """Whether an active rollout of this image reaches the tablet ``serial``."""
        for rollout in _load(self._state).get("rollouts", []):
            if rollout.get("image") == entry.name and rollout.get("sha256") == entry.sha256 \
                    and in_rollout(entry.name, serial, int(rollout.get("percent", 0))):
                return True
        return False

    def features(self) -> tuple[int, dict[str, bool]]:
        state = _load(self._state)
        return int(state.get("features_version", 0)), dict(state.get("features", {}))

    def record_status(self, serial: str, status: FirmwareStatus) -> None:
        """A tablet's status, kept (durably) until a round sends it."""
        report = {"serial": serial, **asdict(status)}
        report.pop("features", None)
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)  # a dock before any round
            pending = _load(self._reports)
            pending[serial] = report
            write_atomic(self._reports, json.dumps(pending).encode())

    def dock_firmware(self, key: Ed25519PrivateKey,
                      clock: Callable[[], float] = time.time) -> KioskDockFirmware:
        """The firmware step's kiosk end, signing the time with ``key`` (the
        kiosk's own, whose certificate the tablet checked)."""
        return KioskDockFirmware(
            self.repository,
            sign_time=lambda nonce: sign_time(key, TIME_KEY, nonce, int(clock())),
            eligible=self.eligible, features=self.features, on_status=self.record_status,
            on_refused=lambda serial, image, why: None)  # the dock raises the alert


def load_kiosk_key(path: Path) -> Ed25519PrivateKey:
    """The kiosk's private key (its TLS identity). Raises ValueError for
    anything but an unencrypted Ed25519 key."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class FileSink:
    """A firmware image downloading to ``path`` (plain: images are public and
    signed), through ``path.partial``, which a later round resumes after; each
    flush is synced, so a power loss keeps what arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self._hash = hashlib.sha256()
        self._out = self.partial.open("ab")
        self._position = self._out.tell()
        if self._position:
            with self.partial.open("rb") as held:
                while block := held.read(1 << 20):
                    self._hash.update(block)

    @property
    def position(self) -> int:
        return self._position

    def write(self, data: bytes) -> None:
        self._out.write(data)
        self._hash.update(data)
        self._position += len(data)

    def flush(self) -> None:
        self._out.flush()
        os.fsync(self._out.fileno())

    def restart(self) -> None:
        self._out.seek(0)
        self._out.truncate()
        self._hash = hashlib.sha256()
        self._position = 0

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> None:
        self.flush()
        self._out.close()
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        self._out.close()
        self.partial.unlink(missing_ok=True)

    def close(self) -> None:
        """Let go of the partial file (kept, for the next round to resume)."""
        if not self._out.closed:
            self.flush()
            self._out.close()
