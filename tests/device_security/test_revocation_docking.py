"""Revocation that takes effect, end to end over udev, the simulated cable and
the tablet's own software: a kiosk whose list is stale (or missing) docks
nobody and alerts; tablets take the newest list from the kiosk at every dock,
never an older one, and then refuse revoked kiosks and staff workstations."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from device_security import reasons
from device_security.alerts import Alerter, AlertQueue
from device_security.ca_store import CertificateAuthority
from device_security.channel import Credentials
from device_security.pairing import PairingGate
from device_security.revocation import KeptRevocationList, crl_number
from tablet.device import TabletDirectory
from tests.device_security.test_docking import (  # noqa: F401 - fixture
    ANA,
    Dock,
    dock,
    refused,
    sallyport,
)

pytestmark = pytest.mark.udev


def ca(d: Dock) -> CertificateAuthority:
    return CertificateAuthority.open(d.root / "ca")


def kiosk_list(d: Dock, name: str = "kiosk-crl.der") -> KeptRevocationList:
    """A kiosk's kept list, holding what the CA published last."""
    kept = KeptRevocationList(d.root / name, ca(d).certificate)
    kept.offer((d.root / "ca" / "crl.pem").read_bytes())
    return kept


def tablet_list(d: Dock, name: str) -> int | None:
    return TabletDirectory(d.world.tablet(name).directory).revocations().number()


def another_kiosk(d: Dock, name: str, revocations: KeptRevocationList) -> PairingGate:
    """A second kiosk of the facility (its own certificate) on the same registry."""
    assert sallyport(["device", "issue", "--ca", str(d.root / "ca"), "--role", "kiosk",
                      "--name", name, "--out", str(d.root / name)]) == 0
    return PairingGate(
        credentials=Credentials(d.root / name / "identity" / "certificate.pem",
                                d.root / name / "key.pem"),
        trust=revocations.trust(), registry=d.registry,
        alerter=Alerter(AlertQueue(d.root / f"{name}-alerts.db"), None),
        kiosk_location=name, handshake_timeout=5, revocations=revocations)


def unplugged(d: Dock, name: str) -> list[str]:
    """What the tablet's software did, once the cable is out."""
    d.done()
    d.world.unplug(name)
    return d.world.sessions[name]


def test_a_kiosk_whose_list_is_stale_docks_nobody_and_alerts(dock: Dock) -> None:  # noqa: F811
    dock.provision("T1", "A100", "Ana Reyes")
    dock.gate.revocations = kept = kiosk_list(dock)
    # The CA last published eight days ago: past its next update (seven days), and
    # no round has brought a newer one since.
    ca(dock).publish_crl(now=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=8))
    kept.offer((dock.root / "ca" / "crl.pem").read_bytes())
    result = dock.dock("T1", ANA)
    refused(result, reasons.REVOCATION_LIST_STALE)
    assert result.alerted and "was due to be replaced" in result.decision.detail
    body = dock.inbox.wait(1)[0].get_content()
    assert reasons.REVOCATION_LIST_STALE in body and "K-B2-01" in body
    # A fresh list (the next round) and the owner docks again.
    ca(dock).publish_crl(now=datetime.datetime.now(datetime.UTC))
    assert kept.offer((dock.root / "ca" / "crl.pem").read_bytes())
    unplugged(dock, "T1")
    assert dock.dock("T1", ANA).decision.allowed


def test_a_kiosk_with_no_list_docks_nobody(dock: Dock) -> None:  # noqa: F811
    dock.provision("T1", "A100", "Ana Reyes")
    dock.gate.revocations = KeptRevocationList(dock.root / "none.der",
                                               ca(dock).certificate)
    result = dock.dock("T1", ANA)
    refused(result, reasons.REVOCATION_LIST_STALE)
    assert "no revocation list" in result.decision.detail and result.alerted


def test_the_tablet_keeps_the_newest_list_a_kiosk_hands_it(dock: Dock) -> None:  # noqa: F811
    dock.provision("T1", "A100", "Ana Reyes")
    old = (dock.root / "ca" / "crl.pem").read_bytes()
    ca(dock).publish_crl(now=datetime.datetime.now(datetime.UTC))
    dock.gate.revocations = kiosk_list(dock)
    assert tablet_list(dock, "T1") is None
    assert dock.dock("T1", ANA).decision.allowed
    newest = crl_number(ca(dock).trust().crl)  # type: ignore[arg-type]
    unplugged(dock, "T1")
    assert tablet_list(dock, "T1") == newest
    # A kiosk that still holds the older list hands it over: the tablet keeps its own.
    behind = KeptRevocationList(dock.root / "behind.der", ca(dock).certificate)
    behind.offer(old)
    gate = another_kiosk(dock, "K-B2-02", behind)
    assert gate.pair(*dock.plugged("T1"), ANA).decision.allowed
    unplugged(dock, "T1")
    assert tablet_list(dock, "T1") == newest


def test_a_tablet_refuses_a_revoked_kiosk_once_any_kiosk_has_told_it(dock: Dock) -> None:  # noqa: F811
    """A stolen kiosk is revoked. It still holds the list from before (which does
    not name it), but the tablet has the newer one from its own kiosk."""
    serial = dock.provision("T1", "A100", "Ana Reyes")
    stolen_list = kiosk_list(dock, "stolen.der")
    stolen = another_kiosk(dock, "K-STOLEN", stolen_list)
    assert sallyport(["device", "revoke", "--ca", str(dock.root / "ca"), "--name",
                      "K-STOLEN"]) == 0
    dock.gate.revocations = kiosk_list(dock)  # the unit's kiosk had its round
    assert dock.dock("T1", ANA).decision.allowed
    unplugged(dock, "T1")
    counter = dock.registry.get(serial).last_counter  # type: ignore[union-attr]
    result = stolen.pair(*dock.plugged("T1"), ANA)
    refused(result, reasons.HANDSHAKE_FAILED)  # the tablet said nothing, not even hello
    logged = unplugged(dock, "T1")[-1]
    assert logged.startswith("refused a peer") and "revoked" in logged, logged
    assert dock.registry.get(serial).last_counter == counter  # type: ignore[union-attr]


def test_a_kiosk_handing_over_the_list_that_revokes_it_is_refused(dock: Dock) -> None:  # noqa: F811
    dock.provision("T1", "A100", "Ana Reyes")
    revoked = another_kiosk(dock, "K-B2-09", KeptRevocationList(dock.root / "k9.der",
                                                                ca(dock).certificate))
    assert sallyport(["device", "revoke", "--ca", str(dock.root / "ca"), "--name",
                      "K-B2-09"]) == 0
    assert revoked.revocations is not None
    revoked.revocations.offer((dock.root / "ca" / "crl.pem").read_bytes())
    assert revoked.pair(*dock.plugged("T1"), ANA).decision.allowed  # it does not judge itself
    logged = unplugged(dock, "T1")[-1]
    assert logged.startswith("refused a kiosk") and "revoked" in logged, logged
    content = TabletDirectory(dock.world.tablet("T1").directory).content(
        dock.world.tablet("T1").spec.serial)
    assert content.owner() is None  # nothing from that kiosk was taken
    assert tablet_list(dock, "T1") == crl_number(ca(dock).trust().crl)  # type: ignore[arg-type]


def test_a_revoked_workstation_can_no_longer_inspect(dock: Dock, tmp_path: Path,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    dock.provision("T1", "A100", "Ana Reyes")
    assert sallyport(["device", "issue", "--ca", str(dock.root / "ca"), "--role",
                      "staff-workstation", "--name", "property room",
                      "--out", str(dock.root / "ws")]) == 0
    dock.world.plug("T1")
    monkeypatch.setenv("SALLYPORT_SIM_WORLD", str(dock.world.directory))
    inspect = ["device", "inspect", "--link", "sim://tablet/T1", "--credentials",
               str(dock.root / "ws"), "--export"]
    assert sallyport([*inspect, str(tmp_path / "before")]) == 0
    assert sallyport(["device", "revoke", "--ca", str(dock.root / "ca"), "--name",
                      "property room"]) == 0
    dock.gate.revocations = kiosk_list(dock)
    assert dock.dock("T1", ANA).decision.allowed  # the next dock brings the list
    unplugged(dock, "T1")
    dock.world.plug("T1")
    assert sallyport([*inspect, str(tmp_path / "after")]) != 0
    assert not (tmp_path / "after" / "manifest.json").exists()
    assert "revoked" in unplugged(dock, "T1")[-1]
