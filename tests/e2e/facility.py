"""A whole facility for end-to-end tests: the central server and the kiosk as
processes of their own (devkit/stage.py), the kiosk seeing the simulated
dock through the test's udev testbed, and tablets whose software runs as
processes too (``sallyport tablet link``), so that any of them can be killed.
A family member talks to the server over HTTPS like a browser would."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devkit.stage import CentralProcess, KioskProcess, Stage, StageTablet, prepare
from simulators.errors import NotPlugged
from simulators.link import Fault
from simulators.udev import UdevTestbed, mock_environment
from simulators.world import World
from tablet.device import TabletDirectory
from tablet.store import TabletStore

RESIDENT = "874512"  # Marcus Webb, unit CC-A, tablet JP5S-000001 (central/seed.py)
FIRST_PIN, PIN = "482916", "135790"
ROSA = ("rosa.webb@example.org", "demo family password")
SERIAL = "JP5S-000001"


class Family:
    """A family member on the server's public API."""

    def __init__(self, stage: Stage) -> None:
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(stage.ca_certificate)
        self.url = stage.central_url
        answer = self.post("/v1/family/sessions", json={"email": ROSA[0], "password": ROSA[1]})
        self.http.headers["Authorization"] = f"Bearer {answer['token']}"

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, **kw: Any) -> Any:
        r = self.http.post(self.url + path, timeout=30, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()

    def get(self, path: str, **kw: Any) -> Any:
        r = self.http.get(self.url + path, timeout=30, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()

    def buy_stamps(self, key: str) -> None:
        self.post("/v1/family/stamps", json={
            "resident_agency_id": RESIDENT, "offer_id": "bundle-60",
            "card_token": "tok_sandbox_visa", "idempotency_key": key})

    def write(self, body: str, photo: bytes | None = None) -> tuple[str, str | None]:
        """Send a message (with a photo): its uid and the photo's hash."""
        attachments, sha = [], None
        if photo is not None:
            sha = self.post("/v1/family/blobs", data=photo,
                            headers={"Content-Type": "image/jpeg"})["sha256"]
            attachments.append({"kind": "photo", "sha256": sha})
        uid = uuid.uuid4().hex
        self.post("/v1/family/messages", json={"uid": uid, "resident_agency_id": RESIDENT,
                                               "body": body, "attachments": attachments})
        return uid, sha

    def inbox(self) -> list[dict[str, Any]]:
        """The resident's messages to this family member, as the server holds them."""
        records: list[dict[str, Any]] = []
        since = 0
        while True:
            page = self.get("/v1/family/feed", params={"since": since, "limit": 100})
            records += page["records"]
            if not page["records"] or since >= page["head"]:
                break
            since = page["records"][-1]["seq"]
        return [r for r in records if r["kind"] == "message"
                and r["body"].get("direction") == "from_resident"]


@dataclass
class E2E:
    world: World
    stage: Stage
    central: CentralProcess
    kiosk: KioskProcess

    def login(self) -> None:
        """Log the resident in at the kiosk (choosing their PIN the first time)."""
        answer = self.kiosk.command("login", agency_id=RESIDENT, pin=PIN)
        if not answer["ok"]:
            answer = self.kiosk.command("login", agency_id=RESIDENT, pin=FIRST_PIN)
            assert answer["ok"] and answer["must_change_pin"], answer
            answer = self.kiosk.command("change_pin", old_pin=FIRST_PIN, new_pin=PIN)
        assert answer["ok"], answer

    def tablet_store(self) -> TabletStore:
        return TabletDirectory(self.world.tablet("T1").directory).content(SERIAL)

    def dock(self, fault: Fault | None = None, timeout: float = 120.0,
             tablet: str = "T1") -> dict[str, Any]:
        """Plug a tablet in (with a fault on its cable) and wait for the
        kiosk's account of that dock."""
        mark = len(self.kiosk.events)
        self.world.plug(tablet, fault=fault)
        return self.kiosk.wait_for(lambda e: e.get("event") == "docked", timeout, after=mark)

    def unplug(self, tablet: str = "T1") -> None:
        with contextlib.suppress(NotPlugged):  # a drop fault may have unplugged it already
            self.world.unplug(tablet)


@contextlib.contextmanager
def e2e_facility(root: Path, *, round_interval_s: float = 0.3,
                 tablets: tuple[tuple[str, str], ...] = (("T1", SERIAL),),
                 smtp: tuple[str, int] | None = None,
                 printer: bool = False) -> Iterator[E2E]:
    """The facility, with simulated tablets (name, serial) provisioned and
    registered on the server (the seed assigns JP5S-000001-3 to its residents).
    With ``printer`` the kiosk prints on the world's receipt printer."""
    world = World(root / "world", ports=2, testbed=UdevTestbed(), software="process")
    world.open()
    try:
        made = [StageTablet(world.add_tablet(name, serial=serial).directory, serial)
                for name, serial in tablets]
        stage = prepare(root / "facility", made, round_interval_s=round_interval_s,
                        password_cost="low", smtp=smtp,
                        hw={"settle": 0.2, "poll_interval": 0.5},
                        kiosk={"printer": f"serial://{world.printer.tty}"} if printer else None)
        central = CentralProcess(stage)
        central.start()
        process = KioskProcess(stage, env=mock_environment(world.testbed.root))
        try:
            process.start()
            yield E2E(world, stage, central, process)
        finally:
            process.stop()
            central.stop()
    finally:
        world.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo(size: int) -> bytes:
    """A photo's worth of bytes that no two tests share (JPEG's start, then noise)."""
    return b"\xff\xd8\xff\xe0" + os.urandom(size - 4)
