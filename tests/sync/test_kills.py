"""kill -9 of either side at random moments of a session: the next dock
completes, the tablet holds every record once and only blobs that match their
hash, and nothing acknowledged is lost from the kiosk's cache."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from sync.session import CHUNK
from tests.device_security.conftest import Facility
from tests.sync.rig import AGENCY_ID, DockResult, SyncRig
from tests.sync.test_session import _check_tablet_has_everything, _fill

ROOT = Path(__file__).resolve().parents[2]


def _child(rig: SyncRig, role: str, tty: str, ca: Path) -> subprocess.Popen[str]:
    ident = rig.tablet_id if role == "tablet" else rig.kiosk_id
    store = rig.store.directory if role == "tablet" else rig.cache.directory
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.side_process", role, tty, str(store),
         str(ident.credentials.certificate), str(ident.credentials.key), str(ca),
         str(rig.tablet_id.credentials.certificate), rig.serial],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "started"
    return child


@pytest.mark.parametrize("role", ["tablet", "kiosk"])
def test_kills_of_either_side_lose_and_repeat_nothing(tmp_path: Path, role: str) -> None:
    rig = SyncRig(tmp_path, Facility(tmp_path / "facility"))
    _fill(rig, messages=60)
    drafts = {rig.store.write_draft(resident=AGENCY_ID, contact=3, body=f"draft {i}")
              for i in range(5)}
    ca = tmp_path / "ca.pem"
    ca.write_bytes(rig.facility.ca.public_bytes(serialization.Encoding.PEM))
    rand = random.Random(role)
    kills = 0
    messages = 60
    for n in range(10):
        for i in range(5):  # something new at every dock
            rig.message(f"dock {n} message {i}", photo_size=100_000 if i == 0 else None)
        rig.song(f"Song {n}", 2 * CHUNK + n)
        messages += 5
        link = rig.plug()
        result = DockResult()
        if role == "tablet":
            child = _child(rig, "tablet", link.gadget_tty, ca)
            other = threading.Thread(target=rig.kiosk_side, args=(link, result))
            other.start()
        else:  # the tablet's tty is open before the kiosk speaks
            ready = threading.Event()
            other = threading.Thread(target=rig.tablet_side, args=(link, result, ready))
            other.start()
            assert ready.wait(10)
            child = _child(rig, "kiosk", link.kiosk_tty, ca)
        # Kill when a random share of this dock's new content has crossed the link.
        at = rand.randrange(1000, 2 * CHUNK)
        deadline = time.monotonic() + 30
        while link.bytes["down"] + link.bytes["up"] < at and other.is_alive() \
                and time.monotonic() < deadline:
            time.sleep(0.002)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()
        rig.unplug(link, result)
        other.join(30)
        assert not other.is_alive()
    assert kills >= 6
    # Reopen both stores, as after a restart, and dock normally.
    rig.store.close()
    rig.store = rig.open_store()
    rig.cache.close()
    rig.cache = rig.open_cache()
    final = rig.dock()
    assert final.complete, (final.kiosk, final.tablet)
    blobs = {sha: size for sha, size, _label, _ in rig.cache._rows(
        "SELECT sha256, size, label, seq FROM wanted")}
    _check_tablet_has_everything(rig, blobs, messages)
    assert {i.key for i in rig.cache.pending_outbox()} == drafts
    assert rig.store.outbox_count() == 0
