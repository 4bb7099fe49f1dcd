"""Starting a device on its slots: boot what :class:`SlotStore` chooses, run
the health check when the slot is on trial, mark it good when the check
passes, and boot again when it fails, until the tries run out and the good
slot boots by itself. The health check is passed in: the simulated tablet's
runs the image's self-test, the kiosk's waits for the systemd watchdog
(firmware_images/kiosk_health.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from firmware_images.slots import TRIES, BootChoice, SlotStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BootOutcome:
    """Where a start ended: the slot running, its version, how many boots it
    took, and whether a new image was marked good or rolled back."""

    slot: str
    version: int
    boots: int
    marked_good: bool
    rolled_back: bool


def start(store: SlotStore, healthy: Callable[[BootChoice], bool]) -> BootOutcome:
    """Boot until a slot runs: a slot on trial must pass ``healthy``; one that
    fails is rebooted (each boot spends a try) and, when its tries are spent,
    the good slot boots. Each step is written before it is taken, so a power
    loss anywhere resumes at the same point."""
    boots = 0
    while True:
        before = store.load()
        choice = store.boot()
        boots += 1
        if not choice.on_trial:
            rolled_back = before.trying is not None
            if rolled_back:
                log.warning("slot %s failed its health check %d times; back on slot %s",
                            before.trying, TRIES, choice.slot)
            return BootOutcome(choice.slot, choice.image.version, boots, False, rolled_back)
        if healthy(choice):
            store.mark_good(choice.slot)
            return BootOutcome(choice.slot, choice.image.version, boots, True, False)
        log.warning("slot %s (version %d) failed its health check", choice.slot,
                    choice.image.version)
