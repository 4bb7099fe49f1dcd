"""Store and forward with every part a process of its own: the central server
(``sallyport central serve``), the kiosk (``sallyport kiosk headless``,
watching the simulated dock through udev) and the tablet's software
(``sallyport tablet link``). A family member writes with photos, the resident
buys songs at the kiosk and answers on the tablet; the tablet is unplugged at
random bytes 200 times, and the kiosk, the central server and the tablet are
killed with SIGKILL 20 times in all, at random moments of a dock. At the end
nothing is lost, nothing shows twice, every file is the bytes its hash names,
and nobody was charged twice."""

from __future__ import annotations

import collections
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from simulators.link import Fault
from tests.e2e.facility import E2E, RESIDENT, Family, e2e_facility, photo, sha256

pytestmark = pytest.mark.udev

UNPLUGS = 200
KILLS = ("kiosk", "central", "tablet") * 7  # 21: the first 20 are used
SONGS = ("song-river", "song-sunday")
# The resident's after central/seed.py: $20 in, then 20 stamps for $5.
SEEDED_STAMPS, SEEDED_PREPAID = 20, 1500


def _kill(f: E2E, victim: str, rng: random.Random) -> dict[str, Any]:
    """Plug in, let the dock get going, kill ``victim`` mid-dock; the dock's end."""
    mark = len(f.kiosk.events)
    f.world.plug("T1")
    time.sleep(rng.uniform(0.0, 0.5))
    if victim == "tablet":
        pid = f.world.software_pid("T1")
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        f.unplug()  # the resident pulls the tablet that stopped answering
        return f.kiosk.wait_for(lambda e: e.get("event") == "docked", 60, after=mark)
    if victim == "kiosk":
        f.kiosk.kill()
        f.unplug()
        f.kiosk.start()
        f.login()
        return {"event": "docked", "synced": False, "problem": "the kiosk was killed"}
    f.central.kill()  # the dock goes on from the kiosk's cache
    docked = f.kiosk.wait_for(lambda e: e.get("event") == "docked", 60, after=mark)
    f.unplug()
    f.central.start()
    return docked


def _settle(f: E2E, timeout: float = 180.0) -> dict[str, Any]:
    """Dock without faults until a dock moves nothing and the kiosk's queues are empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f.kiosk.command("round")
        docked = f.dock()
        f.unplug()
        status = f.kiosk.command("status")
        queues = status["cache"]["queues"]
        if (docked["synced"] and docked["records"] == 0 and docked["files"] == 0
                and docked["drafts_up"] == 0 and queues["outbox"]["queued"] == 0
                and queues["receipts"]["queued"] == 0 and status["cache"]["blobs"]["missing"]
                == 0):
            return status
    raise AssertionError(f"the kiosk did not settle in {timeout} s:\n{f.kiosk.tail()}")


def test_unplugs_and_kills_lose_and_duplicate_nothing_and_charge_nothing_twice(
        tmp_path: Path) -> None:
    seed = int(os.environ.get("SALLYPORT_E2E_SEED", "20261123"))
    rng = random.Random(seed)
    with e2e_facility(tmp_path) as f:
        f.login()
        family = Family(f.stage)
        family.buy_stamps("e2e-stamps-0001")
        for item in SONGS:
            assert f.kiosk.command("buy", item_id=item, key=f"e2e-buy-{item}")["ok"]
        sent: dict[str, str | None] = {}  # uid -> photo hash
        photos: dict[str, bytes] = {}
        drafts: list[str] = []
        contact: int | None = None
        kill_at = dict(zip(sorted(rng.sample(range(5, UNPLUGS - 5), 20)), KILLS, strict=False))
        outcomes: collections.Counter[str] = collections.Counter()
        reach_next = 16_000
        for i in range(UNPLUGS):
            if i % 4 == 0:  # the family writes; every other message has a photo
                picture = photo(rng.randrange(20_000, 300_000)) if i % 8 == 0 else None
                uid, sha = family.write(f"news from home, number {i}", picture)
                sent[uid] = sha
                if sha is not None and picture is not None:
                    photos[sha] = picture
            if contact is not None and i % 12 == 6:  # the resident answers, offline
                store = f.tablet_store()
                body = f"thank you, this is answer {len(drafts) + 1}"
                store.write_draft(resident=RESIDENT, contact=contact, body=body)
                store.close()
                drafts.append(body)
            if i in kill_at:
                docked = _kill(f, kill_at[i], rng)
                outcomes[f"killed {kill_at[i]}"] += 1
            else:
                # Cut within what a dock moves: as far as the last whole dock went
                # (new content keeps arriving), or a photo's worth now and then.
                reach = reach_next if rng.random() < 0.8 else 400_000
                docked = f.dock(Fault(direction="down", drop_at=rng.randrange(1, reach)))
                if docked["synced"]:
                    down = f.world.status()["tablets"]["T1"]["bytes"]
                    reach_next = max(2_000, down["down"] if down else 0)
                f.unplug()
                outcomes["synced" if docked["synced"] else "cut"] += 1
            if contact is None:
                store = f.tablet_store()
                mine = [m for m in store.items("message")
                        if m["body"].get("direction") == "to_resident"]
                store.close()
                contact = mine[0]["body"]["contact_id"] if mine else None
        print(f"seed {seed}: {dict(outcomes)}; {len(sent)} messages, {len(photos)} photos, "
              f"{len(drafts)} answers")
        assert sum(outcomes.values()) == UNPLUGS and outcomes["cut"] >= UNPLUGS // 2
        assert sum(n for k, n in outcomes.items() if k.startswith("killed")) == 20

        status = _settle(f)
        assert status["cache"]["queues"]["outbox"]["refused"] == 0
        assert status["cache"]["queues"]["receipts"]["refused"] == 0

        store = f.tablet_store()
        try:
            messages = store.items("message")
            to_me = collections.Counter(m["body"]["uid"] for m in messages
                                        if m["body"].get("direction") == "to_resident")
            # Every message the family sent is on the tablet, once (and the seeded one).
            assert set(sent) <= set(to_me) and max(to_me.values()) == 1
            answers = collections.Counter(m["body"]["body"] for m in messages
                                          if m["body"].get("direction") == "from_resident")
            assert answers == collections.Counter(drafts)  # each answer came back down once
            assert store.outbox_count() == 0
            # Every file is the bytes its name says: the photos and the songs.
            held = {s.hex() for s in store.complete_blobs()}
            assert set(photos) <= held
            for sha in held:
                assert sha256(store.read_blob(bytes.fromhex(sha))) == sha
            for sha, picture in photos.items():
                assert store.read_blob(bytes.fromhex(sha)) == picture
            entitlements = {e["body"]["item_id"]: e for e in store.items("entitlement")}
            assert set(SONGS) <= set(entitlements)
            assert {entitlements[s]["body"]["sha256"] for s in SONGS} <= held
            assert not store.partials() or all(
                sha.hex() not in held for sha, _ in store.partials())
        finally:
            store.close()

        # The server: each answer reached the family once; charges happened once.
        inbox = collections.Counter(r["body"]["body"] for r in family.inbox())
        assert inbox == collections.Counter(drafts)
        home = f.kiosk.command("home")
        assert home["stamps"] == SEEDED_STAMPS - len(drafts)
        assert home["prepaid_cents"] == SEEDED_PREPAID - 2 * 129
        bought = f.kiosk.command("entitlements")["entitlements"]
        assert sorted(e["item_id"] for e in bought) == sorted(SONGS)
        assert {e["state"] for e in bought} == {"verified"}
        family.close()
