"""A tablet is never left without a bootable slot: a process installing one
image after another (some failing their health check) is killed at random
moments, many times, with many seeds; after every kill the good slot's image
is complete and matches, and a boot from there runs a good image."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_images.boot import start
from firmware_images.image import read_manifest
from firmware_images.slots import BootChoice, SlotStore
from tests.firmware.world import Publisher, provision

ROOT = Path(__file__).resolve().parents[2]
LAST = 9
SIZE = 1024 * 1024


def _world(tmp_path: Path) -> tuple[Path, Path]:
    publisher = Publisher(tmp_path)
    for version in range(2, LAST + 1):
        publisher.publish(version, size=SIZE, selftest="fail" if version % 3 == 0 else "pass")
    device = provision(tmp_path / "tablet", publisher)
    return device.path, publisher.repo.path


def _run(fw: Path, repo: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.firmware.install_process", str(fw),
                             str(repo), str(LAST)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _check(fw: Path) -> None:
    store = SlotStore(fw / "slots")
    store.check_bootable()  # raises if the good slot is not complete and right
    outcome = start(store, lambda c: _passes(store, c))
    image = store.check_bootable()
    assert outcome.version == image.version or outcome.slot == store.load().good


def _passes(store: SlotStore, choice: BootChoice) -> bool:
    return read_manifest(store.image_path(choice.slot)).selftest == "pass"


@pytest.mark.parametrize("seed", range(10))
def test_killed_at_random_the_tablet_always_has_a_bootable_slot(tmp_path: Path,
                                                               seed: int) -> None:
    fw, repo = _world(tmp_path)
    rng = random.Random(seed)
    kills = 0
    for _ in range(40):
        process = _run(fw, repo)
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(rng.randrange(1, 120))]
        time.sleep(rng.uniform(0, 0.01))  # and somewhere inside the step after
        if b"done\n" in lines or process.poll() is not None:
            out, err = process.communicate()
            assert process.returncode == 0, err.decode()
            break
        else:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate()
            kills += 1
        _check(fw)
    process = _run(fw, repo)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0 and b"done" in out, err.decode()
    store = SlotStore(fw / "slots")
    assert store.check_bootable().version == LAST - 1  # 9 fails its check; 8 is the last good
    failed = {int(v) for v in (fw / "failed.txt").read_text().split()}
    assert failed == {3, 6, 9}
    assert kills > 0
