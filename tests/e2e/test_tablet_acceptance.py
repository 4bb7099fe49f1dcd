"""A resident's day with the tablet, end to end: the central server, the
kiosk and the tablet's link software each a process, the tablet's screen
driven by touch under Xvfb on the tablet's own (sealed) device directory.

A family member writes with a photo and a videogram; the resident buys a
song at the kiosk and docks. Off the dock, on the tablet, they read the
message, view the photo, play the videogram and the song, and write a reply.
They dock again: the reply reaches the central server, and the family."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.display import display
from simulators.media import mp4_videogram, png
from tests.e2e.facility import RESIDENT, Family, e2e_facility

pytestmark = pytest.mark.udev

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = "Here is the garden, and the kids singing for you."
REPLY = "thank you all see you sunday"


def test_read_play_and_reply_offline_then_the_reply_reaches_the_family(
        tmp_path: Path) -> None:
    videogram = mp4_videogram(tmp_path / "videogram.mp4", 3).read_bytes()
    with e2e_facility(tmp_path) as f:
        family = Family(f.stage)
        try:
            family.buy_stamps("tablet-e2e-stamps")
            photo_sha = family.post("/v1/family/blobs", data=png(320, 240),
                                    headers={"Content-Type": "image/png"})["sha256"]
            video_sha = family.post("/v1/family/blobs", data=videogram,
                                    headers={"Content-Type": "video/mp4"})["sha256"]
            family.post("/v1/family/messages", json={
                "uid": "tablet-e2e-1", "resident_agency_id": RESIDENT, "body": MESSAGE,
                "attachments": [{"kind": "photo", "sha256": photo_sha},
                                {"kind": "videogram", "sha256": video_sha}]})
            f.login()
            assert f.kiosk.command("buy", item_id="song-river", key="tablet-e2e-song")["ok"]
            for _ in range(2):  # the kiosk fetches the feed and its files
                assert f.kiosk.command("round")["ok"]

            docked = f.dock()
            assert docked["synced"], docked
            f.unplug()

            directory = f.world.tablet("T1").directory
            with display() as name:
                driven = subprocess.run(
                    [sys.executable, "-m", "tests.tablet.device_driver", "--device-dir",
                     str(directory), "--contact", "Rosa Webb", "--message", MESSAGE,
                     "--song", "River Road", "--reply", REPLY],
                    cwd=ROOT, env={**os.environ, "DISPLAY": name}, capture_output=True,
                    text=True, timeout=300, check=False)
            assert driven.returncode == 0, driven.stdout + driven.stderr

            docked = f.dock()
            assert docked["synced"] and docked["drafts_up"] == 1, docked
            f.unplug()
            assert f.kiosk.command("round")["ok"]
            replies = [m["body"]["body"] for m in family.inbox()]
            assert replies.count(REPLY) == 1, replies
        finally:
            family.close()
