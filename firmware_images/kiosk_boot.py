"""Starting the kiosk app from its A/B slots under systemd
(deploy/sallyport-kiosk.service runs ``sallyport kiosk boot``).

Each start, before the app runs: :func:`prepare_start` lets the slots choose
(a slot on trial spends a try now, before it boots; when its tries are spent
the good slot is chosen and the event is ``rolled_back``), unpacks the chosen
image once into ``<firmware>/run/<sha256>/`` and names its program,
``bin/kiosk`` (run by ``/bin/sh``). The caller then *execs* it, so the app is
the unit's main process and its own READY=1 and WATCHDOG=1 reach systemd
(``NotifyAccess=main``).

Inside the app, :class:`TrialWatch` is fed each WATCHDOG=1 it sends: the first
whole watchdog period pinged without a gap (firmware_images/kiosk_health.py)
marks the slot on trial good. An image whose app never notifies, stops
pinging or exits is killed or restarted by systemd (``Restart=always``) and
spends a try each time, until the good slot starts again by itself.

The environment passed to the app: ``SALLYPORT_FIRMWARE`` (the firmware
directory), ``SALLYPORT_SLOT``, ``SALLYPORT_SLOT_VERSION`` and
``SALLYPORT_SLOT_TRIAL`` (``1`` when the slot is on trial).
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from firmware_images.errors import ImageFormatError, SlotError
from firmware_images.image import MANIFEST
from firmware_images.kiosk_health import WatchdogHealth
from firmware_images.slots import TRIES, SlotStore

log = logging.getLogger(__name__)
PROGRAM = "bin/kiosk"  # what a kiosk image runs, with /bin/sh
ENV_DIRECTORY = "SALLYPORT_FIRMWARE"
ENV_SLOT = "SALLYPORT_SLOT"
ENV_VERSION = "SALLYPORT_SLOT_VERSION"
ENV_TRIAL = "SALLYPORT_SLOT_TRIAL"


@dataclass(frozen=True)
class KioskStart:
    """What this start runs: the slot, its image's version, whether it is on
    trial (and how many tries are left after this one), whether the slot
    before it just used up its tries, and the unpacked program."""

    slot: str
    version: int
    on_trial: bool
    tries_left: int
    rolled_back: bool
    failed_slot: str | None
    program: Path

    def environment(self, firmware: Path) -> dict[str, str]:
        return {ENV_DIRECTORY: str(firmware), ENV_SLOT: self.slot,
                ENV_VERSION: str(self.version), ENV_TRIAL: "1" if self.on_trial else "0"}

    def describe(self) -> str:
        if self.rolled_back:
            return (f"slot {self.failed_slot} failed its health check {TRIES} times; "
                    f"back on slot {self.slot} (version {self.version}), rolled back")
        if self.on_trial:
            return (f"slot {self.slot} (version {self.version}) on trial, "
                    f"{self.tries_left} tries left after this one")
        return f"slot {self.slot} (version {self.version})"


def prepare_start(firmware: Path) -> KioskStart:
    """Choose the slot for this start (durably: a try is spent before the
    boot) and unpack its image. Raises SlotError (no slots, or the chosen
    image unusable) or ImageFormatError."""
    store = SlotStore(firmware / "slots")
    before = store.load()
    choice = store.boot()
    after = store.load()
    program = _unpack(store.image_path(choice.slot), firmware / "run" / choice.image.sha256)
    rolled_back = before.trying is not None and not choice.on_trial
    return KioskStart(choice.slot, choice.image.version, choice.on_trial, after.tries_left,
                      rolled_back, before.trying if rolled_back else None, program)


def _unpack(image: Path, into: Path) -> Path:
    """The image's files under ``into`` (once; a half-done unpacking is done
    again). Returns the program's path."""
    program = into / PROGRAM
    if program.is_file():
        return program
    tmp = into.with_name(f".{into.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(image, "r:") as tar:
            members = [m for m in tar.getmembers() if m.name != MANIFEST]
            tar.extractall(tmp, members=members, filter="data")
    except (OSError, tarfile.TarError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SlotError(f"the slot's image cannot be unpacked: {e}", path=str(image)) from e
    if not (tmp / PROGRAM).is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise ImageFormatError(f"a kiosk image holds {PROGRAM}", path=str(image))
    shutil.rmtree(into, ignore_errors=True)
    os.replace(tmp, into)
    return program


class TrialWatch:
    """In the app: marks the slot on trial good after its first healthy
    watchdog period. ``environment`` is what :meth:`KioskStart.environment`
    set; without it (not started from slots, or not on trial) it does nothing.
    The constructor does no I/O."""

    def __init__(self, environment: Mapping[str, str], *, started: float,
                 period_s: float) -> None:
        directory = environment.get(ENV_DIRECTORY)
        self.slot = environment.get(ENV_SLOT)
        self.store = SlotStore(Path(directory) / "slots") if directory else None
        self.pending = bool(self.store and self.slot and environment.get(ENV_TRIAL) == "1")
        self.health = WatchdogHealth(started, required=period_s, max_gap=period_s)

    def pinged(self, now: float) -> bool:
        """Record a WATCHDOG=1 sent at ``now`` (monotonic seconds); returns True
        when this ping marked the slot good. Raises SlotError when the slots'
        state no longer has this slot on trial."""
        if not self.pending:
            return False
        self.health.ping(now)
        if not self.health.healthy(now):
            return False
        assert self.store is not None and self.slot is not None
        self.pending = False
        self.store.mark_good(self.slot)
        log.info("kiosk slot %s passed its health check (a watchdog period pinged): "
                 "marked good", self.slot)
        return True
