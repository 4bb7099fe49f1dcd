"""Dates and times on the web pages are the agency's, in its time zone with
the zone's abbreviation, written as the page's language writes them; no
page prints a raw timestamp."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from central.services import accounts, alerts, messaging, money, screening_lists, tickets
from central.web import dates
from tests.central.conftest import database_url, facility  # noqa: F401 - fixtures, by name
from tests.central.facility import SYSTEM, WASHINGTON, Facility
from tests.web.rig import FAMILY_PASSWORD, WebServer
from tests.web.test_family_browser import Visitor
from tests.web.test_staff_browser import _log_in

PACIFIC = "America/Los_Angeles"
# 03:30 on 15 January in Greenwich is 19:30 on the 14th in Washington State
LATE_EVENING = 1768447800
# ... and 03:30 on 15 July is 20:30 on the 14th, in summer time
SUMMER_EVENING = 1784086200
# what a raw timestamp looks like: an ISO date with a time, a time marked UTC, epoch seconds
RAW = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}|\bUTC\b|\b1[5-9]\d{8}\b")


def _in_pacific(f: Facility) -> None:
    accounts.set_policy(f.central, "WA", dataclasses.replace(WASHINGTON, timezone=PACIFIC),
                        scope=SYSTEM)


def test_a_time_near_midnight_in_greenwich_is_the_agencys_day_before() -> None:
    assert dates.local(LATE_EVENING, PACIFIC, "en") == "Jan 14, 2026, 7:30\u202fPM PST"
    assert dates.local(LATE_EVENING, PACIFIC, "es") == "14 ene 2026, 19:30 PST"
    assert dates.local(LATE_EVENING, PACIFIC, "en", "date") == "Jan 14, 2026"
    assert dates.local(LATE_EVENING, PACIFIC, "es", "date") == "14 ene 2026"
    assert dates.local(SUMMER_EVENING, PACIFIC, "en") == "Jul 14, 2026, 8:30\u202fPM PDT"
    assert dates.local(LATE_EVENING, PACIFIC, "en", "iso") == "2026-01-14T19:30:00-08:00"
    assert dates.local(LATE_EVENING, "UTC", "en") == "Jan 15, 2026, 3:30\u202fAM UTC"
    assert dates.local(None, PACIFIC, "en") == ""
    with pytest.raises(ValueError, match="style"):
        dates.local(LATE_EVENING, PACIFIC, "en", "weekday")


def test_whose_zone_a_page_takes(facility: Facility) -> None:  # noqa: F811
    f = facility
    with f.central.db.read() as conn:
        assert dates.server_zone(conn) == "UTC"  # the agency's default
    _in_pacific(f)
    f.admit("874512", "Marcus Webb")
    cid = accounts.register_contact(f.central, "rosa@example.org", "Rosa", FAMILY_PASSWORD)
    with f.central.db.read() as conn:
        assert dates.server_zone(conn) == PACIFIC  # the one agency here
        assert dates.agency_zone(conn, "WA") == PACIFIC
        assert dates.contact_zone(conn, cid) == PACIFIC  # no request yet: the server's
    accounts.create_agency(f.central, "NY", "New York corrections", policy=dataclasses.replace(
        WASHINGTON, timezone="America/New_York"))
    accounts.create_facility(f.central, "F-NY", "NY", "Hudson", "staff@hudson.example")
    accounts.create_unit(f.central, "U-NY", "F-NY", "North")
    accounts.create_resident(f.central, agency_id="550001", agency="NY", name="Ny Resident",
                             facility_id="F-NY", unit_id="U-NY", scope=SYSTEM)
    with f.central.db.read() as conn:
        assert dates.server_zone(conn) == "UTC"  # two agencies: neither's
        assert dates.contact_zone(conn, cid) == "UTC"
    accounts.request_approval(f.central, cid, "550001", "cousin")
    accounts.request_approval(f.central, cid, "874512", "mother")
    with f.central.db.read() as conn:  # the agency of the first resident asked for
        assert dates.contact_zone(conn, cid) == "America/New_York"


def _stage(f: Facility) -> int:
    """A resident, an approved family with a held message and a reply, a
    ticket filed late one January evening, an alert, a keyword list."""
    _in_pacific(f)
    marcus = f.admit("874512", "Marcus Webb")
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["burner phone"], reach=f.scope("reviewer"))
    cid = accounts.register_contact(f.central, "rosa@example.org", "Rosa Webb", FAMILY_PASSWORD)
    approval = accounts.request_approval(f.central, cid, "874512", "mother")
    accounts.decide_approval(f.central, approval, approve=True, scope=SYSTEM)
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="874512",
                                 offer_id="plan-30", card_token="tok_sandbox_visa",
                                 key="dates-stamps-1")
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="I will bring the burner phone next visit.")
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="The tomatoes came in.")
    f.central.trust.set_balance("874512", 1000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, marcus.id, amount_cents=1000, key="dates-fund-1")
    money.buy_stamps_for_resident(f.central, marcus.id, offer_id="bundle-20",
                                  key="dates-resident-stamps")
    messaging.send_from_resident(f.central, marcus.id, uid=f.uid("reply"), contact_id=cid,
                                 body="Thank you, Mom.")
    alerts.record(f.central, "K-A1", alerts.AlertReport(
        uid="dates-alert-1", reason="assigned_to_someone_else", detail="Not this tablet.",
        tablet_serial="JP5S-000003", resident_agency_id="874512", resident_name="Marcus Webb",
        registered_owner="Dale Porter (761204)", raised_at=f.clock()))
    now = f.clock.at
    f.clock.at = LATE_EVENING
    ticket_id = tickets.file(f.central, marcus.id, uid="dates-ticket-1", category="other",
                             description="Filed late in the evening.", diagnostics={},
                             kiosk_id="K-A1")
    f.clock.at = now
    return ticket_id


def _raw_timestamps(page: Any) -> list[str]:
    """Raw timestamps in what the page shows (its text, not its attributes:
    a <time> element's datetime is for machines, and ISO there). The audit
    log's detail cells are left out: they show what was recorded, as recorded."""
    shown = page.evaluate("""() => {
        const body = document.body.cloneNode(true);
        body.querySelectorAll('td.detail').forEach((cell) => cell.remove());
        return body.innerText;
    }""")
    return RAW.findall(str(shown))


def test_every_page_shows_the_agencys_local_times_and_no_raw_timestamp(
        page: Any, web: WebServer) -> None:
    f = web.facility
    assert f is not None
    ticket_id = _stage(f)
    v = Visitor(page, web)
    _log_in(v, "administrator")
    staff_pages = ["/staff", "/staff/review", "/staff/reports", "/staff/alerts",
                   "/staff/devices", "/staff/contacts", "/staff/residents", "/staff/keywords",
                   "/staff/tickets", f"/staff/tickets/{ticket_id}", "/staff/audit"]
    for path in staff_pages:
        v.go(path)
        assert _raw_timestamps(v.page) == [], path
    v.go("/staff/review")
    v.follow("Review the message from Rosa Webb")
    assert _raw_timestamps(v.page) == [], v.page.url
    assert re.search(r"P[SD]T", v.text())
    v.go("/staff/keywords")
    v.follow("facility F1")
    assert _raw_timestamps(v.page) == [], v.page.url

    # The ticket filed at 03:30 in Greenwich was filed on the 14th where the agency is.
    v.go(f"/staff/tickets/{ticket_id}")
    assert "Jan 14, 2026, 7:30\u202fPM PST" in v.text()
    assert "Jan 15" not in v.text()
    v.page.get_by_role("button", name="Español").click()
    v.page.wait_for_url(f"**/staff/tickets/{ticket_id}")
    v.check()
    assert "14 ene 2026, 19:30 PST" in v.text()
    assert _raw_timestamps(v.page) == []
    v.page.get_by_role("button", name="English").click()
    v.page.wait_for_url(f"**/staff/tickets/{ticket_id}")
    v.page.get_by_role("button", name="Log out").click()

    v.go("/family/login")
    assert _raw_timestamps(v.page) == []
    v.page.get_by_label("Email").fill("rosa@example.org")
    v.page.get_by_label("Password").fill(FAMILY_PASSWORD)
    v.submit("Log in")
    for path in ("/family", "/family/messages", "/family/contacts", "/family/stamps",
                 "/family/write", "/family/signup"):
        v.go(path)
        assert _raw_timestamps(v.page) == [], path
    v.go("/family/stamps")
    assert re.search(r"P[SD]T", v.text())  # the stamp history's times
    # the plan's stamps end on a day, in the family's resident's agency's zone
    assert "plan stamps that end on" in v.text()
