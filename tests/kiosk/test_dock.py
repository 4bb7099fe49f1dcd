"""A tablet docked through udev on simulated hardware, paired by the gate, and
synced from the kiosk's cache by its own software on the other end of the
cable (tablet/peer.py runs the session after pairing)."""

from __future__ import annotations

import datetime
import hashlib
import time
from pathlib import Path

import pytest

from device_security import reasons
from device_security.pairing import TabletTerms
from kiosk.cache import KioskCache
from kiosk.dock import dock_and_sync
from tablet.device import TabletDirectory
from tablet.library import Library
from tablet.lock import LockPolicy, load_state
from tests.device_security.test_docking import (  # noqa: F401 - fixture
    ANA,
    BO,
    Dock,
    dock,
    sallyport,
)
from tests.sync.rig import open_cache

pytestmark = pytest.mark.udev


def _cache(directory: Path, serial: str, owner: str = "A100") -> tuple[KioskCache, bytes]:
    cache = open_cache(directory)
    photo = bytes(range(256)) * 300
    sha = hashlib.sha256(photo).hexdigest()
    cache.put_blob(sha, photo)
    cache.set_tablets([{"serial": serial, "resident_id": 7, "resident_agency_id": owner,
                        "status": "active"}])
    cache.apply_feed(7, 1, [{"seq": 1, "kind": "message", "ref": "m-1", "body": {
        "uid": "m-1", "body": "hello Ana", "contact_name": "Rosa", "attachments": [
            {"kind": "photo", "sha256": sha, "size": len(photo), "media_type": "image/jpeg"}]}}])
    return cache, photo


def test_the_owners_tablet_pairs_and_syncs(dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    serial = dock.provision("T1", "A100", "Ana Reyes")
    cache, photo = _cache(tmp_path / "kiosk", serial)
    outcome = dock_and_sync(dock.gate, *dock.plugged("T1"), ANA, cache, kiosk="K-B2-01")
    assert outcome.synced, outcome.problem
    assert outcome.summary is not None
    assert (outcome.summary.records, outcome.summary.blobs) == (1, 1)
    assert [r["serial"] for r in cache.status()["tablets"] if r["last_sync_at"]] == [serial]
    dock.world.unplug("T1")
    (logged,) = dock.world.sessions["T1"]
    assert logged.startswith("paired with a kiosk; synced 1 records, 1 files")
    content = TabletDirectory(dock.world.tablet("T1").directory).content(serial)
    assert [m["body"]["body"] for m in content.items("message")] == ["hello Ana"]
    (sha,) = content.complete_blobs()
    assert content.read_blob(sha) == photo


def test_a_refused_tablet_gets_no_sync(dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    serial = dock.provision("T2", "B200", "Bo Lind")
    cache, _ = _cache(tmp_path / "kiosk", serial, owner="B200")
    outcome = dock_and_sync(dock.gate, *dock.plugged("T2"), ANA, cache, kiosk="K-B2-01")
    assert not outcome.synced and outcome.pairing.alerted
    assert outcome.pairing.decision.reason == reasons.ASSIGNED_TO_SOMEONE_ELSE
    assert cache.status()["tablets"][0]["last_sync_at"] is None


def test_a_tablet_the_cache_does_not_know_yet_is_told_why(dock: Dock,  # noqa: F811
                                                          tmp_path: Path) -> None:
    serial = dock.provision("T3", "B200", "Bo Lind")
    cache = open_cache(tmp_path / "kiosk")  # the kiosk has not heard from the server yet
    outcome = dock_and_sync(dock.gate, *dock.plugged("T3"), BO, cache, kiosk="K-B2-01")
    assert outcome.pairing.decision.allowed and not outcome.synced
    assert outcome.problem is not None and serial in outcome.problem


def test_the_tablet_keeps_its_owner_the_price_and_the_lock_policy(
        dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    serial = dock.provision("T4", "A100", "Ana Reyes")
    cache, _ = _cache(tmp_path / "kiosk", serial)
    dock.terms = TabletTerms(unit="B-2", lock_after_days=21, stamps_per_message=2)
    outcome = dock_and_sync(dock.gate, *dock.plugged("T4"), ANA, cache, kiosk="K-B2-01")
    assert outcome.synced, outcome.problem
    dock.world.unplug("T4")
    directory = TabletDirectory(dock.world.tablet("T4").directory)
    content = directory.content(serial)
    assert content.owner() == "A100" and content.recall("stamps_per_message") == 2
    assert Library(content).draft_cost("hi") == 2 and Library(content).owner == "A100"
    lock = directory.lock()
    assert lock.policy() == LockPolicy(21)
    decision = lock.check()
    assert decision.can_compose and decision.days_left in (20, 21)  # docked just now


def test_a_reassigned_tablet_is_wiped_before_the_new_owner_syncs(
        dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    serial = dock.provision("T5", "A100", "Ana Reyes")
    cache, photo = _cache(tmp_path / "kiosk", serial)
    assert dock_and_sync(dock.gate, *dock.plugged("T5"), ANA, cache, kiosk="K-B2-01").synced
    dock.world.unplug("T5")
    content = TabletDirectory(dock.world.tablet("T5").directory).content(serial)
    assert [m["body"]["body"] for m in content.items("message")] == ["hello Ana"]
    content.close()

    # Staff give the tablet to Bo; his kiosk cache holds his own feed only.
    assert sallyport(["device", "assign", "--registry", str(dock.root / "registry.db"),
                      "--serial", serial, "--owner", "B200", "--owner-name", "Bo Lind"]) == 0
    theirs = open_cache(tmp_path / "kiosk-bo")
    theirs.set_tablets([{"serial": serial, "resident_id": 8, "resident_agency_id": "B200",
                         "status": "active"}])
    theirs.apply_feed(8, 1, [{"seq": 1, "kind": "message", "ref": "m-9", "body": {
        "uid": "m-9", "body": "hello Bo", "contact_name": "Ola", "attachments": []}}])
    outcome = dock_and_sync(dock.gate, *dock.plugged("T5"), BO, theirs, kiosk="K-B2-01")
    assert outcome.synced, outcome.problem
    dock.world.unplug("T5")
    assert "the old content was wiped" in dock.world.sessions["T5"][-1]
    content = TabletDirectory(dock.world.tablet("T5").directory).content(serial)
    assert content.owner() == "B200"
    assert [m["body"]["body"] for m in content.items("message")] == ["hello Bo"]
    assert content.complete_blobs() == []  # Ana's photo went with her messages
    assert photo not in b"".join(p.read_bytes() for p in (
        dock.world.tablet("T5").directory / "content").rglob("*") if p.is_file())


def test_a_refusal_still_tells_the_tablet_the_kiosk_is_out_of_service(
        dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    serial = dock.provision("T6", "B200", "Bo Lind")
    cache, _ = _cache(tmp_path / "kiosk", serial, owner="B200")
    assert dock_and_sync(dock.gate, *dock.plugged("T6"), BO, cache, kiosk="K-B2-01").synced
    dock.done()
    dock.world.unplug("T6")  # Bo's tablet knows its unit's kiosk now
    since = int(time.time()) - 3600
    dock.terms = TabletTerms(unit="B-2", out_of_service_since=since)
    outcome = dock_and_sync(dock.gate, *dock.plugged("T6"), ANA, cache, kiosk="K-B2-01")
    assert not outcome.synced
    dock.world.unplug("T6")
    state = load_state(TabletDirectory(dock.world.tablet("T6").directory).path / "lock.json",
                       now=datetime.datetime.now(datetime.UTC))
    # Out of service since before this tablet began counting (its dock just now):
    # paused from then on, until a kiosk says it is back.
    (pause,) = state.pauses
    assert pause.start == state.counting_from and pause.end is None


def test_an_unplug_ends_a_stalled_dock_at_once(dock: Dock, tmp_path: Path) -> None:  # noqa: F811
    """The dock's worker is stopped when udev says the tablet left: the read
    it was blocked on ends at once (DeviceGone), not when a timeout runs out."""
    import threading

    from device_security.alerts import Alerter, AlertQueue
    from hw.config import HwConfig
    from hw.hotplug import UdevHotplug
    from hw.records import HotplugEvent
    from kiosk.dock import Dock as KioskDock
    from kiosk.events import Docked, Event, Plugged
    from simulators.link import Fault
    from tests.device_security.test_docking import TABLET_ID

    serial = dock.provision("T4", "A100", "Ana Reyes")
    cache, _ = _cache(tmp_path / "kiosk", serial)
    events: list[Event] = []
    seen = threading.Condition()

    def emit(event: Event) -> None:
        with seen:
            events.append(event)
            seen.notify_all()

    dock.gate.handshake_timeout = 120.0  # only the unplug can end this dock soon
    kiosk_dock = KioskDock(dock.gate, cache, HwConfig(), location="K-B2-01",
                           sessions=lambda: ANA, alerter=Alerter(AlertQueue(
                               tmp_path / "alerts.db"), None), emit=emit)
    dock.world.plug("T4", fault=Fault(stall=True))  # nothing the tablet says gets through
    sys_path = dock.world.status()["tablets"]["T4"]["sys_path"]
    (device,) = [d for d in UdevHotplug([TABLET_ID]).scan() if d.sys_path == sys_path]
    kiosk_dock.on_hotplug(HotplugEvent("arrived", device))
    with seen:
        assert seen.wait_for(lambda: any(isinstance(e, Plugged) for e in events), 10)
    time.sleep(1.0)  # the handshake is under way, waiting for the tablet
    assert kiosk_dock.busy() == [sys_path]
    started = time.monotonic()
    kiosk_dock.on_hotplug(HotplugEvent("left", device))
    with seen:
        assert seen.wait_for(lambda: any(isinstance(e, Docked) for e in events), 60)
    ended = time.monotonic() - started
    (docked,) = [e for e in events if isinstance(e, Docked)]
    assert not docked.synced and docked.problem is not None
    assert "unplugged before pairing finished" in docked.problem, docked
    assert ended < 30, f"the dock ended {ended:.1f} s after the unplug"
    assert kiosk_dock.busy() == []
    kiosk_dock.stop()
