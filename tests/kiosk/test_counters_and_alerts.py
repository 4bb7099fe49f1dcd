"""What pairing learns reaches the central server and every kiosk: the sync
counter each pairing accepted, which every kiosk's registry copy then holds
(so a copy of a tablet that docked at one kiosk is refused at the others),
and the alerts of refused tablets, recorded once however often they are sent.
A real central server over TLS on loopback; kiosks with their own caches,
registries and alert queues."""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from central.services import accounts
from central.services.scope import Scope
from device_security import reasons
from device_security.alerts import Alert, Alerter, AlertQueue, QueuedAlert
from device_security.channel import Credentials
from device_security.pairing import PairingGate
from device_security.pki import PeerIdentity, Role
from device_security.policy import KioskSession, PairingFacts, decide_pairing
from device_security.registry import Registry
from kiosk.cache import KioskCache
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.dock import dock_and_sync
from kiosk.rounds import CentralSync, alert_report
from tests.central.api_server import ApiServer, _identity
from tests.central.facility import build
from tests.device_security.test_docking import Dock, dock  # noqa: F401 - fixture
from tests.smtp_server import free_port
from tests.sync.rig import SERIAL, as_if_unanswered, open_cache

OWNER = "100001"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    facility = build(f"sqlite:///{tmp_path}/central.db", tmp_path)
    with ApiServer(facility, tmp_path / "api") as server:
        add_kiosk(server, tmp_path / "K-A3", "K-A3", "CC-A-YARD", "U-A")
        yield server
    facility.central.db.dispose()


def add_kiosk(api: ApiServer, directory: Path, kiosk_id: str, location: str,
              unit: str) -> None:
    """Another kiosk on a unit, with its certificate (ApiServer has one per unit)."""
    ident, fingerprint = _identity(api.ca, directory, Role.KIOSK, location)
    accounts.register_kiosk(api.facility.central, kiosk_id, location, unit, fingerprint,
                            scope=Scope.system())
    api.kiosks[kiosk_id] = ident


def assigned_tablet(api: ApiServer, serial: str = SERIAL) -> None:
    """A tablet of resident 100001, on unit U-A."""
    rid = api.facility.admit(OWNER, "Ann Example").id
    tech = api.staff("technician")
    assert tech.post("/v1/staff/tablets", json={"serial": serial}).status_code == 201
    assert tech.post(f"/v1/staff/tablets/{serial}/assignment",
                     json={"resident_id": rid}).status_code == 204


@dataclass
class Kiosk:
    """One kiosk's state and its connection to the server."""

    client: CentralClient
    cache: KioskCache
    registry: Registry
    alerts: AlertQueue

    def round(self) -> CentralSync:
        return CentralSync(self.client, self.cache, registry=self.registry,
                           alerts=self.alerts)

    def counter(self, serial: str = SERIAL) -> int | None:
        entry = self.registry.get(serial)
        return entry.last_counter if entry is not None else None


@pytest.fixture
def kiosks(api: ApiServer, tmp_path: Path) -> Iterator[dict[str, Kiosk]]:
    made: dict[str, Kiosk] = {}
    for kiosk_id in ("K-A2", "K-A3"):
        ident = api.kiosks[kiosk_id]
        root = tmp_path / kiosk_id
        made[kiosk_id] = Kiosk(
            CentralClient(api.url, KioskCredentials(ident.certificate, ident.key, api.ca_file),
                          attempts=2, backoff=0.01),
            open_cache(root / "cache"), Registry(root / "registry.db"),
            AlertQueue(root / "alerts.db"))
    yield made
    for kiosk in made.values():
        kiosk.client.close()
        kiosk.cache.close()


def clone_presents(kiosk: Kiosk, counter: int) -> str | None:
    """The pairing decision at ``kiosk`` for the owner's tablet (certificate and
    all) presenting ``counter``: None if allowed, else the reason."""
    peer = PeerIdentity(Role.TABLET, SERIAL, "Cedar Creek", SERIAL, 1, "00" * 32,
                        datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
    session = KioskSession(OWNER, "Ann Example", frozenset({"U-A"}), "U-A")
    decision = decide_pairing(PairingFacts(SERIAL, (0x02, 0x0A), peer, None,
                                           kiosk.registry.get(SERIAL), session, counter))
    return decision.reason


def test_a_counter_accepted_at_one_kiosk_reaches_the_others(
        api: ApiServer, kiosks: dict[str, Kiosk], tmp_path: Path) -> None:
    assigned_tablet(api)
    a, b = kiosks["K-A2"], kiosks["K-A3"]
    for kiosk in (a, b):
        assert kiosk.round().run_once().reached_central
    assert b.counter() == 0 and clone_presents(b, 5) is None
    # The tablet pairs at A with counter 5: the gate takes it into A's registry,
    # and dock_and_sync queues it for the server.
    assert a.registry.advance_counter(SERIAL, 5)
    a.cache.counter_accepted(SERIAL, 5)
    done = a.round().run_once()
    assert done.reached_central, done.error
    assert done.sent_counters == 1 and done.steps[:2] == ["alerts", "counters"]
    assert a.cache.status()["queues"]["counters"] == {"queued": 0, "sent": 1, "refused": 0}
    # After a round, B holds 5 too: a copy of the tablet presenting 5 (or less) is refused.
    assert b.round().run_once().reached_central
    assert b.counter() == 5
    assert clone_presents(b, 5) == reasons.COUNTER_NOT_INCREASING
    assert clone_presents(b, 3) == reasons.COUNTER_NOT_INCREASING
    assert clone_presents(b, 6) is None  # the tablet itself, docking next
    # A kiosk whose registry was rebuilt learns it on its first round.
    rebuilt = Kiosk(b.client, b.cache, Registry(tmp_path / "rebuilt.db"), b.alerts)
    assert rebuilt.round().run_once().reached_central
    assert rebuilt.counter() == 5
    # A kiosk's copy never goes down: B saw 9 itself, before its report went up.
    assert b.registry.advance_counter(SERIAL, 9)
    assert b.round().run_once().reached_central
    assert b.counter() == 9


def test_a_report_sent_again_is_harmless_and_a_replayed_counter_is_refused(
        api: ApiServer, kiosks: dict[str, Kiosk]) -> None:
    assigned_tablet(api)
    a, b = kiosks["K-A2"], kiosks["K-A3"]
    uid = a.cache.counter_accepted(SERIAL, 5)
    assert a.round().run_once().sent_counters == 1
    # The answer was lost: the same report goes again, and is taken again.
    as_if_unanswered(a.cache, "counters", uid)
    again = a.round().run_once()
    assert (again.sent_counters, again.refused_counters) == (1, 0)
    [listed] = api.session("K-A2").get("/v1/kiosk/tablets").json()
    assert listed["sync_counter"] == 5
    # B had not heard of it when a copy of the tablet paired there with 5: the
    # server refuses B's report, and B keeps why.
    b.cache.counter_accepted(SERIAL, 5)
    late = b.round().run_once()
    assert late.reached_central and late.refused_counters == 1
    assert b.cache.status()["queues"]["counters"] == {"queued": 0, "sent": 0, "refused": 1}
    [(result,)] = b.cache._rows("SELECT result FROM counters")
    assert result.startswith("counter_not_increasing") and "K-A2" in result
    assert b.counter() == 5


def refusal(serial: str = "JP5S-000002") -> Alert:
    """An alert as the pairing gate raises it for a tablet of someone else."""
    return Alert(reason=reasons.ASSIGNED_TO_SOMEONE_ELSE, detail=f"{serial} belongs to B200",
                 resident_id=OWNER, resident_name="Ann Example", kiosk_location="CC-A-HALL",
                 tablet_serial=serial, owner_id="B200", owner_name="Bo Lind",
                 raised_at=datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC))


def test_alerts_reach_the_staff_inbox_once(api: ApiServer, kiosks: dict[str, Kiosk]) -> None:
    a = kiosks["K-A2"]
    alerter = Alerter(a.alerts, None)
    assert alerter.raise_alert(refusal(), plug_id="usb1/1-1@1")
    done = a.round().run_once()
    assert done.reached_central and done.sent_alerts == 1
    tech = api.staff("technician")
    [alert] = tech.get("/v1/staff/alerts").json()
    assert {k: alert[k] for k in ("reason", "location_code", "tablet_serial",
                                  "resident_agency_id", "resident_name", "registered_owner",
                                  "raised_at")} == {
        "reason": "assigned_to_someone_else", "location_code": "CC-A-HALL",
        "tablet_serial": "JP5S-000002", "resident_agency_id": OWNER,
        "resident_name": "Ann Example", "registered_owner": "Bo Lind (B200)",
        "raised_at": 1795435200}
    assert a.round().run_once().sent_alerts == 0
    # The server's answer was lost: the kiosk sends the alert again. Recorded once.
    with sqlite3.connect(a.alerts.path) as db:
        db.execute("UPDATE alerts SET delivered = 0")
    assert a.round().run_once().sent_alerts == 1
    assert len(tech.get("/v1/staff/alerts").json()) == 1
    assert a.alerts.counts() == {"queued": 0, "sent": 1, "refused": 0, "unmailed": 1}


def test_an_alert_with_hostile_descriptors_still_gets_through(
        api: ApiServer, kiosks: dict[str, Kiosk]) -> None:
    a = kiosks["K-A2"]
    serial = "JP5S\x00" + "\udc80" + "9" * 300  # NUL, a lone surrogate, far too long
    a.alerts.put(refusal(serial))
    assert a.round().run_once().sent_alerts == 1
    [alert] = api.staff("technician").get("/v1/staff/alerts").json()
    assert alert["tablet_serial"].startswith("JP5S\ufffd?999") and len(alert["tablet_serial"]) == 64


def test_a_refused_alert_is_not_sent_again_and_an_absent_server_keeps_them(
        api: ApiServer, kiosks: dict[str, Kiosk]) -> None:
    a = kiosks["K-A2"]
    ident = a.alerts.put(refusal())
    with sqlite3.connect(a.alerts.path) as db:  # a row the server cannot take
        db.execute("UPDATE alerts SET uid = 'not a uid' WHERE id = ?", (ident,))
    done = a.round().run_once()
    assert done.reached_central and done.refused_alerts == 1
    assert a.alerts.for_central() == []
    assert a.alerts.counts()["refused"] == 1
    assert a.round().run_once().refused_alerts == 0
    # The server cannot be reached: the alert and the counter wait for it.
    a.alerts.put(refusal("JP5S-000003"))
    a.cache.counter_accepted(SERIAL, 2)
    ident_a = api.kiosks["K-A2"]
    with CentralClient(f"https://127.0.0.1:{free_port()}",
                       KioskCredentials(ident_a.certificate, ident_a.key, api.ca_file),
                       attempts=1) as away:
        gone = CentralSync(away, a.cache, registry=a.registry, alerts=a.alerts).run_once()
    assert not gone.reached_central and "unreachable" in gone.error
    assert len(a.alerts.for_central()) == 1
    assert a.cache.status()["queues"]["counters"]["queued"] == 1


def test_an_unknown_kiosk_gives_nothing_up(api: ApiServer, kiosks: dict[str, Kiosk]) -> None:
    a = kiosks["K-A2"]
    a.alerts.put(refusal())
    a.cache.counter_accepted(SERIAL, 2)
    stray = api.stray
    with CentralClient(api.url, KioskCredentials(stray.certificate, stray.key, api.ca_file),
                       attempts=1) as unknown:
        done = CentralSync(unknown, a.cache, alerts=a.alerts).run_once()
    assert done.error.startswith("alerts: 401")
    assert len(a.alerts.for_central()) == 1
    assert a.cache.status()["queues"]["counters"]["queued"] == 1


def test_an_alert_as_the_server_takes_it() -> None:
    report = alert_report(QueuedAlert(1, "uid-00000001", refusal()))
    assert (report["uid"], report["registered_owner"]) == ("uid-00000001", "Bo Lind (B200)")
    nameless = alert_report(QueuedAlert(2, "uid-00000002", Alert(
        reason=reasons.UNKNOWN_SERIAL, detail="", resident_id=None, resident_name=None,
        kiosk_location="CC-A-HALL", tablet_serial=None, owner_id="B200", owner_name=None,
        raised_at=datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC))))
    assert nameless["registered_owner"] == "B200" and nameless["resident_agency_id"] is None
    assert alert_report(QueuedAlert(3, "uid-00000003", dataclasses.replace(
        refusal(), owner_id=None)))["registered_owner"] is None


@pytest.mark.udev
def test_a_copy_of_a_tablet_that_paired_at_one_kiosk_is_refused_at_another(
        api: ApiServer, kiosks: dict[str, Kiosk], dock: Dock) -> None:  # noqa: F811
    """Through udev, the simulated cable and the tablet's own software: the
    tablet pairs at kiosk A; an image of it taken before that dock is refused at
    kiosk B once B has had a round, and B's alert reaches the staff inbox."""
    serial = dock.provision("T1", OWNER, "Ann Example")
    assigned_tablet(api, serial)
    session = KioskSession(OWNER, "Ann Example", frozenset({"U-A"}), "U-A")
    a = dataclasses.replace(kiosks["K-A2"], registry=dock.registry)  # the gate's registry
    b = kiosks["K-A3"]
    gate_b = PairingGate(
        credentials=Credentials(dock.root / "kiosk" / "identity" / "certificate.pem",
                                dock.root / "kiosk" / "key.pem"),
        trust=dock.gate.trust, registry=b.registry, alerter=Alerter(b.alerts, None),
        kiosk_location="CC-A-YARD", handshake_timeout=5)
    for kiosk in (a, b):
        assert kiosk.round().run_once().reached_central
    # An image of the whole tablet (key, serial, counter) before it docks.
    directory = dock.world.tablet("T1").directory
    dock.world.plug("T1")
    dock.world.unplug("T1")
    image = directory.parent / "image-of-T1"
    shutil.copytree(directory, image)
    # The tablet docks at A.
    outcome = dock_and_sync(dock.gate, *dock.plugged("T1"), session, a.cache, kiosk="K-A2")
    assert outcome.synced, outcome.problem
    assert outcome.pairing.counter == 1
    dock.done()
    dock.world.unplug("T1")
    assert a.round().run_once().sent_counters == 1
    assert b.round().run_once().reached_central
    assert b.counter(serial) == 1
    # The copy docks at B, and is refused there.
    shutil.rmtree(directory)
    shutil.copytree(image, directory)
    result = gate_b.pair(*dock.plugged("T1"), session)
    assert result.decision.reason == reasons.COUNTER_NOT_INCREASING and result.alerted
    dock.done()
    assert b.round().run_once().sent_alerts == 1
    [alert] = api.staff("technician").get("/v1/staff/alerts").json()
    assert (alert["reason"], alert["location_code"], alert["tablet_serial"]) == (
        "counter_not_increasing", "CC-A-YARD", serial)

