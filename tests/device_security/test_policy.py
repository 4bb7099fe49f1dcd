"""The pairing decision, rule by rule, and the tablet's access rule."""

import dataclasses
import datetime

import pytest

from device_security import reasons
from device_security.pki import PeerIdentity, Role
from device_security.policy import (
    MAX_COUNTER_JUMP,
    Decision,
    KioskSession,
    PairingFacts,
    check_counter_step,
    check_interfaces,
    decide_access,
    decide_pairing,
)
from device_security.registry import RegistryEntry, TabletStatus

TABLET = PeerIdentity(Role.TABLET, "tablet", "Facility A", "JP5S-000001", 101, "ab" * 32,
                      datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
ENTRY = RegistryEntry("JP5S-000001", TabletStatus.ACTIVE, "A100", "Ana Reyes", last_counter=4)
SESSION = KioskSession("A100", "Ana Reyes", frozenset({"B-2"}), "B-2")
GOOD = PairingFacts(usb_serial="JP5S-000001", interface_classes=(0x02, 0x0A), peer=TABLET,
                    channel_problem=None, entry=ENTRY, session=SESSION, counter=5)


def test_the_owner_at_their_unit_with_a_new_counter_pairs() -> None:
    assert decide_pairing(GOOD) == Decision.allow()


@pytest.mark.parametrize(("change", "reason"), [
    ({"interface_classes": (0x02, 0x0A, 0x03)}, reasons.UNEXPECTED_INTERFACES),
    ({"interface_classes": (0x02, 0x0A, 0x08)}, reasons.UNEXPECTED_INTERFACES),
    ({"interface_classes": (0x0A,)}, reasons.NO_SERIAL_INTERFACE),
    ({"peer": None, "channel_problem": reasons.CERTIFICATE_UNTRUSTED},
     reasons.CERTIFICATE_UNTRUSTED),
    ({"peer": None, "channel_problem": reasons.CERTIFICATE_REVOKED}, reasons.CERTIFICATE_REVOKED),
    ({"peer": None, "channel_problem": None}, reasons.HANDSHAKE_FAILED),
    ({"peer": dataclasses.replace(TABLET, role=Role.KIOSK)}, reasons.WRONG_ROLE),
    ({"usb_serial": "JP5S-000009"}, reasons.USB_SERIAL_MISMATCH),
    ({"usb_serial": None}, reasons.USB_SERIAL_MISMATCH),
    ({"entry": None}, reasons.UNKNOWN_SERIAL),
    ({"entry": dataclasses.replace(ENTRY, owner_id=None)}, reasons.NOT_ASSIGNED),
    ({"entry": dataclasses.replace(ENTRY, status=TabletStatus.LOST)}, reasons.TABLET_NOT_ACTIVE),
    ({"session": None}, reasons.NOBODY_LOGGED_IN),
    ({"session": dataclasses.replace(SESSION, resident_id="B200")},
     reasons.ASSIGNED_TO_SOMEONE_ELSE),
    ({"session": dataclasses.replace(SESSION, kiosk_unit="C-1")}, reasons.UNIT_NOT_ALLOWED),
    ({"counter": 4}, reasons.COUNTER_NOT_INCREASING),
    ({"counter": 1}, reasons.COUNTER_NOT_INCREASING),
    ({"counter": None}, reasons.COUNTER_NOT_INCREASING),
    ({"counter": 4 + MAX_COUNTER_JUMP + 1}, reasons.COUNTER_JUMP),
    ({"counter": 2**63 - 1}, reasons.COUNTER_JUMP),
])
def test_each_rule_refuses_with_its_reason(change: dict[str, object], reason: str) -> None:
    decision = decide_pairing(dataclasses.replace(GOOD, **change))  # type: ignore[arg-type]
    assert not decision.allowed
    assert decision.reason == reason
    assert decision.detail


def test_a_counter_may_climb_by_the_bound_and_no_further() -> None:
    assert decide_pairing(dataclasses.replace(GOOD, counter=4 + MAX_COUNTER_JUMP)).allowed
    assert check_counter_step(0, MAX_COUNTER_JUMP).allowed
    jump = check_counter_step(0, MAX_COUNTER_JUMP + 1)
    assert jump.reason == reasons.COUNTER_JUMP and f"{MAX_COUNTER_JUMP + 1} after 0" in jump.detail
    assert check_counter_step(7, 7).reason == reasons.COUNTER_NOT_INCREASING


def test_interfaces_are_checked_first() -> None:
    worst = dataclasses.replace(GOOD, interface_classes=(0x02, 0x0A, 0x03), peer=None,
                                channel_problem=reasons.CERTIFICATE_UNTRUSTED, session=None)
    assert decide_pairing(worst).reason == reasons.UNEXPECTED_INTERFACES


def test_keyboard_named_in_the_detail() -> None:
    assert "0x03" in check_interfaces((0x02, 0x0A, 0x03)).detail


def test_unknown_reason_codes_are_a_bug() -> None:
    with pytest.raises(ValueError):
        Decision.refuse("because", "no")


def test_tablet_access_rule() -> None:
    kiosk = dataclasses.replace(TABLET, role=Role.KIOSK, serial=None)
    staff = dataclasses.replace(TABLET, role=Role.STAFF_WORKSTATION, serial=None)
    assert decide_access(kiosk, released=False).kind == "sync"
    assert decide_access(staff, released=False).kind == "inspect"
    assert decide_access(None, released=False).kind == "release"
    assert decide_access(None, released=True).kind == "refused"
    assert decide_access(TABLET, released=False).reason == reasons.WRONG_ROLE
