"""The certificate check, attack by attack."""

import datetime

import pytest

from device_security import reasons
from device_security.errors import CertificateError
from device_security.pki import Role, TrustAnchors, check_certificate, make_crl
from tests.device_security.conftest import NOW, Facility


def check(facility: Facility, cert, *, roles=(Role.TABLET,), usb_serial=None, trust=None,
          now=NOW):
    return check_certificate(cert, trust or facility.trust(), now=now, expected_roles=roles,
                             usb_serial=usb_serial)


def reason_of(fn) -> str:
    with pytest.raises(CertificateError) as info:
        fn()
    return info.value.reason


def test_a_good_tablet_certificate(facility: Facility) -> None:
    tablet = facility.issue(Role.TABLET, "tablet JP5S-000001", "JP5S-000001")
    peer = check(facility, tablet.certificate, usb_serial="JP5S-000001")
    assert (peer.role, peer.serial, peer.facility) == (Role.TABLET, "JP5S-000001", "Facility A")


def test_self_signed_tablet_with_a_valid_serial(facility: Facility) -> None:
    fake = facility.self_signed(Role.TABLET, "tablet JP5S-000001", "JP5S-000001")
    assert reason_of(lambda: check(facility, fake.certificate)) == reasons.CERTIFICATE_UNTRUSTED


def test_another_facilitys_ca(facility: Facility, other_facility: Facility) -> None:
    foreign = other_facility.issue(Role.TABLET, "tablet X", "JP5S-000001")
    assert reason_of(lambda: check(facility, foreign.certificate)) == \
        reasons.CERTIFICATE_UNTRUSTED


def test_same_name_different_ca_is_caught_by_the_signature(facility: Facility,
                                                           tmp_path) -> None:
    twin = Facility(tmp_path / "twin", name=facility.name)  # same subject, other key
    forged = twin.issue(Role.TABLET, "tablet", "JP5S-000001")
    assert reason_of(lambda: check(facility, forged.certificate)) == \
        reasons.CERTIFICATE_UNTRUSTED


def test_revoked(facility: Facility) -> None:
    tablet = facility.issue(Role.TABLET, "tablet", "JP5S-000001")
    trust = facility.trust(revoked=(tablet.certificate.serial_number,))
    assert reason_of(lambda: check(facility, tablet.certificate, trust=trust)) == \
        reasons.CERTIFICATE_REVOKED


def test_expired_and_not_yet_valid(facility: Facility) -> None:
    old = facility.issue(Role.TABLET, "tablet", "JP5S-000001",
                         not_before=NOW - datetime.timedelta(days=400), days=365)
    assert reason_of(lambda: check(facility, old.certificate)) == reasons.CERTIFICATE_EXPIRED
    future = facility.issue(Role.TABLET, "tablet", "JP5S-000001",
                            not_before=NOW + datetime.timedelta(days=2))
    assert reason_of(lambda: check(facility, future.certificate)) == \
        reasons.CERTIFICATE_NOT_YET_VALID


def test_roles_cannot_be_swapped(facility: Facility) -> None:
    kiosk = facility.issue(Role.KIOSK, "kiosk K-101")
    tablet = facility.issue(Role.TABLET, "tablet", "JP5S-000001")
    assert reason_of(lambda: check(facility, kiosk.certificate)) == reasons.WRONG_ROLE
    assert reason_of(lambda: check(facility, tablet.certificate, roles=(Role.KIOSK,))) == \
        reasons.WRONG_ROLE


def test_the_ca_itself_is_no_device(facility: Facility) -> None:
    assert reason_of(lambda: check(facility, facility.ca)) == reasons.WRONG_ROLE


def test_usb_serial_must_match(facility: Facility) -> None:
    tablet = facility.issue(Role.TABLET, "tablet", "JP5S-000001")
    assert reason_of(lambda: check(facility, tablet.certificate, usb_serial="JP5S-000002")) == \
        reasons.USB_SERIAL_MISMATCH


def test_a_revocation_list_from_elsewhere_is_refused(facility: Facility,
                                                     other_facility: Facility) -> None:
    foreign = make_crl(other_facility.ca, other_facility.key, [], now=NOW)
    with pytest.raises(CertificateError, match="not signed by the facility CA"):
        TrustAnchors(facility.ca, foreign)


def test_only_tablets_carry_serials(facility: Facility) -> None:
    with pytest.raises(ValueError, match="serial"):
        facility.issue(Role.KIOSK, "kiosk", "JP5S-000001")
    with pytest.raises(ValueError, match="serial"):
        facility.issue(Role.TABLET, "tablet")
