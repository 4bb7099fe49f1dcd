"""A tablet's outbox in one dock is bounded in count, bytes and time: the kiosk
takes the oldest drafts up to each bound, the rest stay on the tablet for the
next dock (and the dock's summary says how many), and nothing is lost or taken
twice. Over the simulated cable, with both sides' real stores."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from sync.session import OUTBOX_BOUNDS, OutboxBounds, SessionSummary, run_kiosk
from tests.device_security.conftest import Facility
from tests.sync.rig import AGENCY_ID, DockResult, SyncRig


@pytest.fixture
def rig(tmp_path: Path) -> SyncRig:
    return SyncRig(tmp_path, Facility(tmp_path / "facility"))


def drafts(rig: SyncRig, count: int, size: int = 20) -> list[str]:
    return [rig.store.write_draft(resident=AGENCY_ID, contact=3,
                                  body=f"draft {i:04d} ".ljust(size, "x"))
            for i in range(count)]


def dock(rig: SyncRig, bounds: OutboxBounds) -> SessionSummary:
    result: DockResult = rig.dock(kiosk_side=functools.partial(run_kiosk, outbox_bounds=bounds))
    assert result.complete, (result.kiosk, result.tablet)
    assert isinstance(result.kiosk, SessionSummary)
    return result.kiosk


def taken(rig: SyncRig) -> list[str]:
    return sorted(item.payload["body"]["body"] for item in rig.cache.pending_outbox(10_000))


def test_a_dock_takes_so_many_drafts_and_the_next_dock_the_rest(rig: SyncRig) -> None:
    drafts(rig, 150)  # more than two frames' worth
    rig.message("hello", photo_size=5000)
    first = dock(rig, OutboxBounds(items=100))
    assert (first.outbox, first.outbox_left) == (100, 50)
    assert (first.records, first.blobs) == (1, 1)  # the rest of the dock went on
    assert rig.store.outbox_count() == 50
    handed = [d.handed_at is not None for d in rig.store.drafts()]  # oldest first
    assert handed == [True] * 100 + [False] * 50  # the oldest went
    second = dock(rig, OutboxBounds(items=100))
    assert (second.outbox, second.outbox_left) == (50, 0)
    assert taken(rig) == sorted(f"draft {i:04d} ".ljust(20, "x") for i in range(150))


def test_a_dock_takes_so_many_bytes(rig: SyncRig) -> None:
    drafts(rig, 20, size=3000)
    first = dock(rig, OutboxBounds(bytes=20_000))
    assert 1 <= first.outbox < 20 and first.outbox + first.outbox_left == 20
    sizes = [len(item.payload["body"]["body"]) for item in rig.cache.pending_outbox()]
    assert sum(sizes) <= 20_000 < sum(sizes) + 3000 + 200
    while rig.store.outbox_count():
        dock(rig, OutboxBounds(bytes=20_000))
    assert len(taken(rig)) == 20


def test_a_dock_stops_taking_drafts_when_its_time_is_up(rig: SyncRig) -> None:
    drafts(rig, 10)
    first = dock(rig, OutboxBounds(seconds=1e-9))  # up before the first frame came
    assert (first.outbox, first.outbox_left) == (1, 9)  # one always goes, so none waits for ever
    assert rig.store.outbox_count() == 9


def test_a_tablet_flooding_its_outbox_is_taken_in_bounded_docks(rig: SyncRig) -> None:
    drafts(rig, OUTBOX_BOUNDS.items + 40)
    first = dock(rig, OUTBOX_BOUNDS)
    assert (first.outbox, first.outbox_left) == (OUTBOX_BOUNDS.items, 40)
    assert dock(rig, OUTBOX_BOUNDS).outbox == 40
    assert len(taken(rig)) == OUTBOX_BOUNDS.items + 40


def test_bounds_must_be_positive() -> None:
    for bad in ({"items": 0}, {"bytes": 0}, {"seconds": 0.0}):
        with pytest.raises(ValueError, match="positive"):
            OutboxBounds(**bad)
