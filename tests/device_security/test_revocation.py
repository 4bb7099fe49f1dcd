"""A device's revocation list: only the facility CA's, only ever a newer one,
stale after its next-update time, and a kiosk whose list is stale docks nobody."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from device_security import reasons
from device_security.ca_store import CertificateAuthority
from device_security.errors import CertificateError
from device_security.pki import make_crl
from device_security.policy import KioskSession, PairingFacts, decide_pairing
from device_security.revocation import (
    MAX_CRL_BYTES,
    KeptRevocationList,
    crl_number,
    is_stale,
    newer_list,
    read_crl,
)
from sallyport.cli import main as sallyport
from tests.device_security.conftest import NOW, Facility

DER = serialization.Encoding.DER


def der(facility: Facility, number: int, revoked: tuple[int, ...] = (),
        now: datetime.datetime = NOW, days: int = 7) -> bytes:
    return make_crl(facility.ca, facility.key, [(s, NOW) for s in revoked], now=now,
                    next_update_days=days, number=number).public_bytes(DER)


def test_a_newer_list_replaces_the_one_held_and_survives_a_restart(facility: Facility,
                                                                   tmp_path: Path) -> None:
    kept = KeptRevocationList(tmp_path / "crl.der", facility.ca)
    assert kept.current() is None and kept.number() is None
    assert kept.offer(der(facility, 1))
    assert not kept.offer(der(facility, 1, revoked=(555,)))  # the same number: no change
    assert kept.offer(der(facility, 4, revoked=(101,)))
    again = KeptRevocationList(tmp_path / "crl.der", facility.ca)  # the next start
    assert again.number() == 4
    crl = again.trust().crl
    assert crl is not None and crl.get_revoked_certificate_by_serial_number(101) is not None


def test_an_older_list_never_replaces_a_newer_one(facility: Facility, tmp_path: Path) -> None:
    """A rollback: replaying last week's list must not undo a revocation."""
    kept = KeptRevocationList(tmp_path / "crl.der", facility.ca)
    kept.offer(der(facility, 5, revoked=(101,)))
    with pytest.raises(CertificateError) as refused:
        kept.offer(der(facility, 4))
    assert refused.value.reason == reasons.REVOCATION_LIST_STALE
    assert kept.number() == 5


def test_only_the_facility_cas_lists_are_kept(facility: Facility, other_facility: Facility,
                                              tmp_path: Path) -> None:
    kept = KeptRevocationList(tmp_path / "crl.der", facility.ca)
    kept.offer(der(facility, 2))
    for bad in (der(other_facility, 99),  # another facility's CA
                der(Facility(tmp_path / "forged", name=facility.name), 99),  # a forged CA
                b"not a list", b"", b"\x30\x82" + bytes(300)):
        with pytest.raises(CertificateError) as refused:
            kept.offer(bad)
        assert refused.value.reason == reasons.CERTIFICATE_MALFORMED
    with pytest.raises(CertificateError, match="limit"):
        read_crl(b"\x30" * (MAX_CRL_BYTES + 1))
    assert kept.number() == 2 and (tmp_path / "crl.der").read_bytes() == der(facility, 2)


def test_a_damaged_file_is_held_as_no_list(facility: Facility, tmp_path: Path) -> None:
    (tmp_path / "crl.der").write_bytes(der(facility, 3)[:-10])
    kept = KeptRevocationList(tmp_path / "crl.der", facility.ca)
    assert kept.current() is None  # so a kiosk refuses to dock until a good one comes
    assert kept.offer(der(facility, 1))


def test_staleness_is_the_next_update_time(facility: Facility) -> None:
    crl = read_crl(der(facility, 1, days=7))
    assert not is_stale(crl, NOW + datetime.timedelta(days=6, hours=23))
    assert is_stale(crl, NOW + datetime.timedelta(days=7, seconds=1))
    assert is_stale(None, NOW)  # none at all: nothing says who is revoked


def test_numbers_and_rollbacks_as_pure_checks(facility: Facility) -> None:
    one, two = read_crl(der(facility, 1)), read_crl(der(facility, 2))
    assert crl_number(two) == 2
    assert newer_list(facility.ca, one, two) is two
    assert newer_list(facility.ca, two, two) is None
    with pytest.raises(CertificateError, match="older"):
        newer_list(facility.ca, two, one)


def test_the_ca_numbers_every_list_it_publishes(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", "Cedar Creek", now=NOW)
    first = crl_number(ca.trust().crl)  # type: ignore[arg-type]
    assert sallyport(["device", "crl", "--ca", str(tmp_path / "ca"), "--days", "2"]) == 0
    renewed = ca.trust().crl
    assert renewed is not None and crl_number(renewed) == first + 1
    assert renewed.next_update_utc is not None and renewed.last_update_utc is not None
    assert renewed.next_update_utc - renewed.last_update_utc == datetime.timedelta(days=2)
    assert sallyport(["device", "issue", "--ca", str(tmp_path / "ca"), "--role", "kiosk",
                      "--name", "K-B2-01", "--out", str(tmp_path / "kiosk")]) == 0
    assert sallyport(["device", "revoke", "--ca", str(tmp_path / "ca"), "--name",
                      "K-B2-01"]) == 0
    revoked = ca.trust().crl
    assert revoked is not None and crl_number(revoked) == first + 2 and len(revoked) == 1
    assert sallyport(["device", "revoke", "--ca", str(tmp_path / "ca"), "--name",
                      "nobody"]) == 2


def test_a_stale_list_refuses_before_anything_about_the_tablet() -> None:
    decision = decide_pairing(PairingFacts(
        usb_serial="JP5S-000001", interface_classes=(0x02, 0x0A), peer=None,
        channel_problem=None, entry=None, counter=1,
        session=KioskSession("A100", "Ana Reyes", frozenset({"B-2"}), "B-2"),
        revocation_list_stale="revocation list 3 was due to be replaced 2026-11-30"))
    assert decision.reason == reasons.REVOCATION_LIST_STALE and "list 3" in decision.detail
    tampered = decide_pairing(PairingFacts(
        usb_serial="JP5S-000001", interface_classes=(0x02, 0x03), peer=None,
        channel_problem=None, entry=None, counter=1, session=None,
        revocation_list_stale="stale"))
    assert tampered.reason == reasons.UNEXPECTED_INTERFACES  # interfaces still come first
