"""The kiosk updating itself (docs/firmware.md, "The kiosk's own slots").

When the kiosk runs from its A/B slots (``sallyport kiosk boot`` set
``SALLYPORT_FIRMWARE`` and ``SALLYPORT_SLOT``), each round, after the
firmware copy is fresh (kiosk/firmware.py):

1. it says what it runs, for the census: its model, version, slot, root
   version and last event, with its own kiosk ID as the serial;
2. when nothing is on trial, the newest ``kind=kiosk`` image for its model
   that a rollout reaches (its kiosk ID's bucket, firmware_images/rollout.py),
   later than its good slot and not the image that already failed its trial
   there, goes through the device's own checks (firmware_images/device.py:
   the threshold of signatures, no older version, length and SHA-256) at the
   kiosk's own clock (it keeps network time), and into the inactive slot, on
   trial from the next start;
3. at a quiet moment (no dock in progress) it asks to be restarted: by
   default it sends itself SIGTERM, exits as on ``systemctl stop``, and
   systemd's ``Restart=always`` starts the slot on trial.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_images.device import FirmwareDevice
from firmware_images.errors import FirmwareError
from firmware_images.kiosk_boot import ENV_DIRECTORY, ENV_SLOT
from firmware_images.repository import ImageEntry, Repository
from firmware_images.rollout import in_rollout
from firmware_images.slots import BootState
from firmware_images.transfer import ImageSource

log = logging.getLogger(__name__)
KIND = "kiosk"


def choose(entries: Iterable[ImageEntry], rollouts: Sequence[Mapping[str, Any]],
           kiosk_id: str, model: str, state: BootState) -> ImageEntry | None:
    """The image to install now (pure): the newest kiosk image for ``model``
    that an active rollout reaches, later than the good slot, and not the one
    the inactive slot holds after it was tried and rolled back."""
    failed = state.slots[state.inactive] if state.trying is None else None
    best: ImageEntry | None = None
    for entry in entries:
        if entry.kind != KIND or entry.model != model \
                or entry.version <= state.good_image.version:
            continue
        if failed is not None and failed.sha256 == entry.sha256:
            continue
        if not any(r.get("image") == entry.name and r.get("sha256") == entry.sha256
                   and in_rollout(entry.name, kiosk_id, int(r.get("percent", 0)))
                   for r in rollouts):
            continue
        if best is None or entry.version > best.version:
            best = entry
    return best


def exit_for_restart(reason: str) -> None:
    """Stop the kiosk as ``systemctl stop`` does: SIGTERM to itself (the
    headless kiosk's main loop ends and stops the service; the screen ends as
    on any stop, its state being on disk). ``Restart=always`` starts it
    again, through its slots."""
    log.warning("kiosk: %s; stopping now, systemd (Restart=always) starts the new "
                "slot on trial", reason)
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class OwnFirmware:
    """The slots the kiosk runs from: ``directory`` (its firmware directory,
    provisioned as a ``kind=kiosk`` device) and ``slot``, the one running.
    The constructor does no I/O."""

    directory: Path
    slot: str
    restart: Callable[[str], None] = exit_for_restart
    clock: Callable[[], float] = time.time

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> OwnFirmware | None:
        """From what ``sallyport kiosk boot`` set; None when not started from slots."""
        directory, slot = environment.get(ENV_DIRECTORY), environment.get(ENV_SLOT)
        if not directory or not slot:
            return None
        return cls(Path(directory), slot)

    def device(self) -> FirmwareDevice:
        """Raises SlotError when the directory holds no provisioned firmware."""
        return FirmwareDevice.open(self.directory, time_keys={})

    def report(self, kiosk_id: str) -> dict[str, Any]:
        """What it runs, as the census takes it (the serial is the kiosk's ID)."""
        report = self.device().report()
        return {"serial": kiosk_id, "kind": report.kind, "model": report.model,
                "version": report.version, "slot": report.slot,
                "root_version": report.root_version, "event": report.event}

    def install(self, repository: Repository, rollouts: Sequence[Mapping[str, Any]],
                kiosk_id: str) -> str:
        """Install what :func:`choose` picks, when nothing is on trial and the
        good slot runs. Returns what happened, for the round: ``""`` (nothing
        to do), ``installed`` (on trial from the next start) or ``refused:
        <code>`` (nothing installed, the slots unchanged)."""
        device = self.device()
        state = device.state()
        if state.trying is not None or state.good != self.slot:
            return ""  # a trial is pending or running: nothing goes over it
        try:
            entry = choose(repository.images(), rollouts, kiosk_id, device.model, state)
        except FirmwareError as e:  # nothing published yet, or the copy is unreadable
            log.info("kiosk firmware: nothing to install (%s)", e)
            return ""
        if entry is None:
            return ""
        try:
            checked = device.consider_own(
                entry.name, repository.bundle(device.report().root_version), int(self.clock()))
            state = device.install_from(checked, ImageSource(repository))
        except FirmwareError as e:
            log.error("kiosk image %s refused (%s): %s; nothing installed", entry.name,
                      e.code, e)
            return f"refused: {e.code}"
        log.warning("kiosk image %s (version %d) installed in slot %s, on trial from the "
                    "next start", entry.name, entry.version, state.trying)
        return "installed"

    def restart_if_due(self, quiet: bool) -> bool:
        """Ask for the restart (:attr:`restart`) when the other slot waits on
        trial and ``quiet`` (no dock in progress). Returns whether it asked."""
        state = self.device().state()
        if state.trying is None or state.trying == self.slot or not quiet:
            return False
        image = state.slots[state.trying]
        self.restart(f"kiosk slot {state.trying} holds "
                     f"{image.name if image else 'an image'} on trial and no dock is "
                     "in progress")
        return True
