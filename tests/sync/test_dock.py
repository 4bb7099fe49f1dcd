"""A tablet docked through udev on simulated hardware, paired by the gate, and
synced from the kiosk's cache by its own software on the other end of the
cable (tablet/peer.py runs the session after pairing)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from device_security import reasons
from sync.dock import dock_and_sync
from sync.kiosk_cache import KioskCache
from tablet.device import TabletDirectory
from tests.device_security.test_docking import ANA, BO, Dock, dock  # noqa: F401 - fixture

pytestmark = pytest.mark.udev


def _cache(directory: Path, serial: str, owner: str = "A100") -> tuple[KioskCache, bytes]:
    cache = KioskCache(directory)
    photo = bytes(range(256)) * 300
    sha = hashlib.sha256(photo).hexdigest()
    cache.blob_path(sha).write_bytes(photo)
    cache.blob_fetched(sha, len(photo))
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
    cache = KioskCache(tmp_path / "kiosk")  # the kiosk has not heard from the server yet
    outcome = dock_and_sync(dock.gate, *dock.plugged("T3"), BO, cache, kiosk="K-B2-01")
    assert outcome.pairing.decision.allowed and not outcome.synced
    assert outcome.problem is not None and serial in outcome.problem
