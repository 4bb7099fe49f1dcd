"""Who may pause a tablet's lock: only its own unit's kiosk, in a statement that
kiosk signed for this tablet at this dock. Over udev, the simulated cable and
the tablet's own software; the lock's bound on a pause is in test_lock.py."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest

from device_security.alerts import Alerter, AlertQueue
from device_security.channel import Credentials
from device_security.pairing import PairingGate, TabletTerms
from device_security.secure_element import KeyFileSecureElement
from tablet.device import TabletDirectory
from tablet.lock import LockState, load_state
from tests.device_security.test_docking import (  # noqa: F401 - fixture
    ANA,
    BO,
    Dock,
    dock,
    sallyport,
)

pytestmark = pytest.mark.udev

OUT_SINCE = int(time.time()) - 3600


def lock_of(d: Dock, name: str) -> LockState:
    return load_state(TabletDirectory(d.world.tablet(name).directory).path / "lock.json",
                      now=datetime.datetime.now(datetime.UTC))


def kiosk_of(d: Dock, name: str, terms: TabletTerms,
             key: Path | None = None, signs: bool = True) -> PairingGate:
    """Another genuine kiosk of the facility: its own certificate, its service
    statements signed with ``key`` (its own by default) or not at all."""
    assert sallyport(["device", "issue", "--ca", str(d.root / "ca"), "--role", "kiosk",
                      "--name", name, "--out", str(d.root / name)]) == 0
    key = key or d.root / name / "key.pem"
    return PairingGate(
        credentials=Credentials(d.root / name / "identity" / "certificate.pem",
                                d.root / name / "key.pem"),
        trust=d.gate.trust, registry=d.registry,
        alerter=Alerter(AlertQueue(d.root / f"{name}-alerts.db"), None),
        kiosk_location=name, handshake_timeout=5, terms=lambda: terms,
        sign=KeyFileSecureElement(key).sign if signs else None)


def owned_and_docked(d: Dock) -> str:
    """Bo's tablet, docked once at its own unit's kiosk (B-2): it knows its unit."""
    d.provision("T1", "B200", "Bo Lind")
    assert d.dock("T1", BO).decision.allowed
    d.done()
    d.world.unplug("T1")
    assert not lock_of(d, "T1").pauses
    return "T1"


def refused_at(d: Dock, gate: PairingGate, name: str) -> None:
    """Someone else is logged in at ``gate``: the tablet is refused, but told
    (whatever the gate says of its service)."""
    result = gate.pair(*d.plugged(name), ANA)
    assert not result.decision.allowed
    d.done()
    d.world.unplug(name)


def test_its_own_units_kiosk_pauses_the_lock(dock: Dock) -> None:  # noqa: F811
    name = owned_and_docked(dock)
    dock.terms = TabletTerms(unit="B-2", out_of_service_since=OUT_SINCE)
    refused_at(dock, dock.gate, name)
    (pause,) = lock_of(dock, name).pauses
    assert pause.end is None  # paused until a kiosk says it is back


def test_another_units_kiosk_cannot_pause_it(dock: Dock) -> None:  # noqa: F811
    name = owned_and_docked(dock)
    other = kiosk_of(dock, "K-C3-01", TabletTerms(unit="C-3", out_of_service_since=OUT_SINCE))
    refused_at(dock, other, name)
    assert lock_of(dock, name).pauses == ()


def test_a_kiosk_claiming_this_unit_without_signing_cannot_pause_it(dock: Dock) -> None:  # noqa: F811
    name = owned_and_docked(dock)
    unsigned = kiosk_of(dock, "K-B2-07", TabletTerms(unit="B-2", out_of_service_since=OUT_SINCE),
                        signs=False)
    refused_at(dock, unsigned, name)
    assert lock_of(dock, name).pauses == ()


def test_a_statement_signed_with_another_key_cannot_pause_it(dock: Dock) -> None:  # noqa: F811
    """A kiosk relaying what another kiosk signed: the signature is checked
    against the certificate of the kiosk on the cable."""
    name = owned_and_docked(dock)
    forger = kiosk_of(dock, "K-B2-08", TabletTerms(unit="B-2", out_of_service_since=OUT_SINCE),
                      key=dock.root / "kiosk" / "key.pem")  # the unit kiosk's key, not its own
    refused_at(dock, forger, name)
    assert lock_of(dock, name).pauses == ()


def test_a_tablet_that_never_docked_believes_no_kiosk(dock: Dock) -> None:  # noqa: F811
    dock.provision("T2", "B200", "Bo Lind")
    dock.terms = TabletTerms(unit="B-2", out_of_service_since=OUT_SINCE)
    refused_at(dock, dock.gate, "T2")  # it does not know its unit yet
    assert lock_of(dock, "T2").pauses == ()


def test_the_tablet_learns_its_unit_from_the_kiosk_that_pairs_it(dock: Dock) -> None:  # noqa: F811
    name = owned_and_docked(dock)
    directory = TabletDirectory(dock.world.tablet(name).directory)
    assert '"unit": "B-2"' in (directory.path / "state.json").read_text()
    # Bo moves to unit C-3; his tablet pairs there: that unit's kiosk may pause it now,
    # and the old unit's no longer.
    c3 = kiosk_of(dock, "K-C3-01", TabletTerms(unit="C-3"))
    assert c3.pair(*dock.plugged(name), BO).decision.allowed
    dock.done()
    dock.world.unplug(name)
    assert '"unit": "C-3"' in (directory.path / "state.json").read_text()
    dock.terms = TabletTerms(unit="B-2", out_of_service_since=OUT_SINCE)
    refused_at(dock, dock.gate, name)
    assert lock_of(dock, name).pauses == ()
