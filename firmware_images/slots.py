"""A/B slots: a device boots one of two images; a new image goes to the slot
that is not the good one, is tried a few times (the boot counter) and becomes
the good slot only once a health check after boot passes; when the tries run
out the device boots the good slot again by itself.

The decisions are pure functions over :class:`BootState`; :class:`SlotStore`
keeps the state in ``boot.json`` beside ``slot-a.img`` and ``slot-b.img`` and
changes it only by atomic, durable writes (temp file, fsync, rename, fsync of
the directory). At every moment ``boot.json`` names a good slot whose image is
complete and was verified, so a kill or a power loss anywhere leaves a
bootable device: the slot being written is marked empty before its file is
touched, and named again only after its new file is in place.

The same store serves the tablet (health: the image's self-test after boot)
and the kiosk app (health: the systemd watchdog pinged for long enough,
firmware_images/kiosk_health.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from base.files import write_atomic
from firmware_images.errors import SlotError
from firmware_images.repository import ImageEntry

SLOTS = ("a", "b")
TRIES = 3  # boots a new image gets to pass its health check
STATE = "boot.json"
FORMAT = 1
_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class SlotImage:
    """What a slot holds: the image's name, version and SHA-256."""

    name: str
    version: int
    sha256: str


@dataclass(frozen=True)
class BootState:
    """``good``: the slot known to boot. ``trying``: a slot with a new image
    being tried, ``tries_left`` boots left for it. ``slots``: what each slot
    holds (None: empty, or being written). ``event``: the last thing that
    happened, for the version report (``provisioned``, ``installing``,
    ``installed``, ``trying``, ``marked_good``, ``rolled_back``)."""

    good: str
    trying: str | None
    tries_left: int
    slots: Mapping[str, SlotImage | None]
    event: str

    @property
    def inactive(self) -> str:
        return "b" if self.good == "a" else "a"

    @property
    def good_image(self) -> SlotImage:
        image = self.slots[self.good]
        assert image is not None  # every transition keeps the good slot's image
        return image


@dataclass(frozen=True)
class BootChoice:
    """Which slot to boot now, and whether it is on trial."""

    slot: str
    image: SlotImage
    on_trial: bool


# -- the decisions (pure) ------------------------------------------------------------------


def provisioned(image: SlotImage) -> BootState:
    return BootState("a", None, 0, {"a": image, "b": None}, "provisioned")


def begin_install(state: BootState) -> BootState:
    """Before the inactive slot's file is touched: it holds nothing bootable."""
    return BootState(state.good, None, 0, {**state.slots, state.inactive: None}, "installing")


def installed(state: BootState, image: SlotImage, tries: int = TRIES) -> BootState:
    """The inactive slot now holds ``image``: try it at the next boots."""
    if state.slots[state.inactive] is not None or state.event != "installing":
        raise SlotError("an image is installed only after begin_install", event=state.event)
    if image.version <= state.good_image.version:
        raise SlotError("a slot is given only a later version than the good one",
                        expected=f"> {state.good_image.version}", observed=image.version)
    if tries < 1:
        raise SlotError("a new image needs at least one try", observed=tries)
    return BootState(state.good, state.inactive, tries, {**state.slots, state.inactive: image},
                     "installed")


def on_boot(state: BootState) -> tuple[BootState, BootChoice]:
    """What to boot: the slot on trial while it has tries left (one is used
    up now, before it boots), else the good slot (falling back when the tries
    ran out)."""
    trying = state.trying
    if trying is not None:
        image = state.slots[trying]
        if image is not None and state.tries_left > 0:
            after = replace(state, tries_left=state.tries_left - 1, event="trying")
            return after, BootChoice(trying, image, True)
        after = BootState(state.good, None, 0, state.slots, "rolled_back")
        return after, BootChoice(state.good, state.good_image, False)
    return state, BootChoice(state.good, state.good_image, False)


def mark_good(state: BootState, slot: str) -> BootState:
    """The slot on trial passed its health check: it is the good slot now."""
    if state.trying != slot:
        raise SlotError("only the slot on trial can be marked good", expected=state.trying,
                        observed=slot)
    return BootState(slot, None, 0, state.slots, "marked_good")


# -- the state on disk ---------------------------------------------------------------------


class SlotStore:
    """The slots in ``path``. The constructor does no I/O."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def image_path(self, slot: str) -> Path:
        if slot not in SLOTS:
            raise SlotError("a slot is a or b", observed=slot)
        return self.path / f"slot-{slot}.img"

    def exists(self) -> bool:
        return (self.path / STATE).exists()

    def provision(self, image: Path, slot_image: SlotImage) -> BootState:
        """The first image, in slot a (done once, at the factory)."""
        if self.exists():
            raise SlotError("the slots are already provisioned", path=str(self.path))
        self.path.mkdir(parents=True, exist_ok=True)
        self._place(image, "a", copy=True)
        state = provisioned(slot_image)
        self.save(state)
        return state

    def load(self) -> BootState:
        """Raises SlotError when ``boot.json`` is missing or unreadable."""
        try:
            data = json.loads((self.path / STATE).read_text())
            slots = {name: (SlotImage(**value) if value is not None else None)
                     for name, value in data["slots"].items()}
            state = BootState(data["good"], data["trying"], int(data["tries_left"]), slots,
                              str(data["event"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SlotError(f"cannot read the boot state: {e}", path=str(self.path)) from e
        if state.good not in SLOTS or set(slots) != set(SLOTS) \
                or state.trying not in (None, *SLOTS) or slots[state.good] is None:
            raise SlotError("the boot state names no good slot", path=str(self.path))
        return state

    def save(self, state: BootState) -> None:
        write_atomic(self.path / STATE, json.dumps({
            "format": FORMAT, "good": state.good, "trying": state.trying,
            "tries_left": state.tries_left, "event": state.event,
            "slots": {name: (vars(image) if image is not None else None)
                      for name, image in sorted(state.slots.items())},
        }, sort_keys=True).encode())
        _sync_directory(self.path)

    def install(self, verified: Path, entry: ImageEntry, tries: int = TRIES) -> BootState:
        """Move the verified staging file ``verified`` (same file system) into
        the inactive slot and put it on trial. Raises SlotError for a version
        not later than the good slot's (nothing is changed then)."""
        state = self.load()
        image = SlotImage(entry.name, entry.version, entry.sha256)
        if image.version <= state.good_image.version:
            raise SlotError("a slot is given only a later version than the good one",
                            expected=f"> {state.good_image.version}", observed=image.version)
        state = begin_install(state)
        self.save(state)
        self._place(verified, state.inactive, copy=False)
        state = installed(state, image, tries)
        self.save(state)
        return state

    def boot(self) -> BootChoice:
        """Decide what boots now, durably (the try is counted before the boot)."""
        before = self.load()
        after, choice = on_boot(before)
        if after != before:
            self.save(after)
        return choice

    def mark_good(self, slot: str) -> BootState:
        state = mark_good(self.load(), slot)
        self.save(state)
        return state

    def check_bootable(self) -> SlotImage:
        """The good slot's image, after hashing its file. Raises SlotError when
        it is missing or does not match (what must never happen)."""
        state = self.load()
        image = state.good_image
        path = self.image_path(state.good)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while block := f.read(_BLOCK):
                    digest.update(block)
        except OSError as e:
            raise SlotError(f"the good slot's image is unreadable: {e.strerror}",
                            slot=state.good) from e
        if digest.hexdigest() != image.sha256:
            raise SlotError("the good slot's image does not match", slot=state.good,
                            expected=image.sha256, observed=digest.hexdigest())
        return image

    def _place(self, source: Path, slot: str, *, copy: bool) -> None:
        target = self.image_path(slot)
        tmp = target.with_name(f".{target.name}.tmp")
        if copy:
            with source.open("rb") as src, tmp.open("wb") as dst:
                while block := src.read(_BLOCK):
                    dst.write(block)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        else:
            os.replace(source, target)  # the staging file was synced as it was written
        _sync_directory(self.path)
        if not copy:
            _sync_directory(source.parent)


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
