"""Staff log in to the Facility System in Chromium: a home with the
navigation of their role, and the review queue of their own facility only,
with the terms that held each message marked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from central.schema import messages
from central.services import accounts, messaging, money, screening_lists
from tests.central.facility import STAFF_PASSWORD, SYSTEM
from tests.web.rig import WebServer
from tests.web.test_family_browser import Visitor


def _held_message(web: WebServer, agency_id: str, name: str, facility: str, unit: str,
                  email: str, body: str) -> None:
    f = web.facility
    assert f is not None
    accounts.create_resident(f.central, agency_id=agency_id, agency="WA", name=name,
                             facility_id=facility, unit_id=unit, pin="482916", scope=SYSTEM)
    cid = accounts.register_contact(f.central, email, f"Family of {name}", "family password 1")
    approval = accounts.request_approval(f.central, cid, agency_id, "sister")
    accounts.decide_approval(f.central, approval, approve=True, scope=SYSTEM)
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id=agency_id,
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key=f"stamps-{agency_id}")
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id=agency_id,
                                       body=body)
    assert sent.status == "held"


def _log_in(v: Visitor, username: str) -> None:
    v.go("/staff")
    assert "/staff/login" in v.page.url
    v.page.get_by_label("Username").fill(username)
    v.page.get_by_label("Password").fill(STAFF_PASSWORD)
    v.submit("Log in")


def test_a_reviewer_sees_the_held_messages_of_their_facility_only(
        page: Any, web: WebServer) -> None:
    f = web.facility
    assert f is not None
    accounts.create_facility(f.central, "F2", "WA", "Pine Hill", "staff@pine.example")
    accounts.create_unit(f.central, "U-P", "F2", "P unit")
    accounts.create_staff(f.central, "pine-reviewer", "Pine Reviewer", "reviewer",
                          STAFF_PASSWORD, facility_id="F2", scope=SYSTEM)
    screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="en",
                              terms=["meet at the fence"], reach=f.scope("administrator"))
    _held_message(web, "874512", "Marcus Webb", "F1", "U-A", "rosa@example.org",
                  "Ok so <b>MEET AT the fence</b> at nine.")
    _held_message(web, "555001", "Pine Resident", "F2", "U-P", "pine@example.org",
                  "meet at the fence, Pine Hill")
    v = Visitor(page, web)
    _log_in(v, "reviewer")
    assert v.page.url.endswith("/staff")
    assert "Held messages" in v.text()
    nav = v.page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Review queue").is_visible()
    v.follow("Review queue", within="Main")
    assert "1 held message." in v.text()
    assert "Marcus Webb" in v.text() and "Pine" not in v.text()
    marked = v.page.locator("ol.queue mark")
    assert marked.first.inner_text() == "MEET AT the fence"
    assert "<b>" in v.text()  # the family's markup is shown as text, never as markup
    v.submit("Log out")

    _log_in(v, "pine-reviewer")
    v.go("/staff/review")
    assert "1 held message." in v.text() and "Pine Resident" in v.text()
    assert "Marcus" not in v.text()
    v.submit("Log out")

    _log_in(v, "technician")  # a technician's navigation has no review queue
    assert v.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Review queue").count() == 0
    v.go("/staff/review")
    assert "Not found" in v.text()


def test_a_reviewer_reads_the_translation_and_decides(page: Any, web: WebServer) -> None:
    """A held Spanish message, its English translation beside it (the server's
    own offline translator), delivered; another rejected only with a reason."""
    f = web.facility
    assert f is not None
    screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="es",
                              terms=["la cerca"], reach=f.scope("administrator"))
    _held_message(web, "903377", "Lucia Ramos", "F1", "U-A", "ana@example.org",
                  "Hola hermana. Mañana voy a pintar la cerca de la casa con papá.")
    _held_message(web, "874512", "Marcus Webb", "F1", "U-A", "rosa@example.org",
                  "Nos vemos en la cerca del patio el domingo.")
    v = Visitor(page, web)
    _log_in(v, "reviewer")
    v.go("/staff/review")
    assert "2 held messages" in v.text()
    v.follow("Review the message from Family of Lucia Ramos")
    original = v.page.locator("section", has=v.page.get_by_role("heading", name="Original"))
    assert original.locator("mark").inner_text() == "la cerca"
    translation = v.page.locator("section", has=v.page.get_by_role("heading",
                                                                   name="Translation"))
    assert "Tomorrow I go to paint" in translation.inner_text()  # apertium spa-eng, here
    v.submit("Deliver it")
    assert v.page.url.endswith("/staff/review?done=approved")
    assert "The message was delivered" in v.text() and "1 held message." in v.text()
    with f.central.db.read() as conn:
        statuses = dict(conn.execute(select(messages.c.body, messages.c.status)).all())
    assert statuses["Hola hermana. Mañana voy a pintar la cerca de la casa con papá."] == \
        "delivered"
    v.follow("Review the message from Family of Marcus Webb")
    v.submit("Reject it")  # no reason: refused beside the reason, nothing decided
    assert v.page.locator("#reason-error").inner_text() == "A rejection needs its reason."
    with f.central.db.read() as conn:
        assert conn.execute(select(messages.c.status).where(
            messages.c.body.like("Nos vemos%"))).scalar_one() == "held"
    v.page.get_by_label("Reason, if you reject it").select_option("escape")
    v.submit("Reject it")
    assert "The message was rejected" in v.text() and "Nothing is held" in v.text()
    with f.central.db.read() as conn:
        assert conn.execute(select(messages.c.status, messages.c.reason_code).where(
            messages.c.body.like("Nos vemos%"))).one() == ("rejected", "escape")


def test_an_administrator_reads_the_month_and_downloads_it_as_csv(
        page: Any, web: WebServer) -> None:
    """The month's report as charts drawn on the server with their numbers
    beside them, and the CSV the report service writes, from the ledger."""
    import datetime

    from central.services import reports
    f = web.facility
    assert f is not None
    f.admit("874512", "Marcus Webb")
    cid = f.family("rosa@example.org", "Rosa Webb", approved_for="874512")
    for key, offer in (("report-1", "bundle-20"), ("report-2", "bundle-60")):
        money.buy_stamps_for_contact(f.central, cid, resident_agency_id="874512",
                                     offer_id=offer, card_token="tok_sandbox_visa", key=key)
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="See you Sunday.")
    month = datetime.datetime.fromtimestamp(f.clock(), datetime.UTC).strftime("%Y-%m")
    v = Visitor(page, web)
    _log_in(v, "administrator")
    v.follow("Monthly report", within="Main")
    assert v.page.get_by_label("Month").input_value() == month
    chart = v.page.get_by_role("img", name="Revenue by facility")
    assert chart.count() == 1
    revenue = v.page.locator("section", has=v.page.get_by_role("heading",
                                                               name="Revenue by facility"))
    assert "Families $15.00" in " ".join(revenue.locator("tbody").inner_text().split())
    assert "$15.00" in revenue.locator("tfoot").inner_text()
    with v.page.expect_download() as download:
        v.page.get_by_role("link", name="Download as CSV").click()
    got = Path(download.value.path()).read_bytes().decode()
    expected = reports.to_csv(reports.monthly_report(f.central, month,
                                                     scope=f.scope("administrator")))
    assert got == expected
    assert ",80,15.00," in got  # 80 stamps sold for $15.00: what the ledger holds
    v.go("/staff/reports?month=2026-13")
    assert "Choose a month" in v.page.locator("#month-error").inner_text()


def test_a_technician_reads_an_alert_and_acknowledges_it_with_a_note(
        page: Any, web: WebServer) -> None:
    from central.services import alerts
    f = web.facility
    assert f is not None
    accounts.create_facility(f.central, "F2", "WA", "Pine Hill", "staff@pine.example")
    accounts.create_unit(f.central, "U-P", "F2", "P unit")
    accounts.register_kiosk(f.central, "K-P1", "PH-P-DAYROOM", "U-P", None, scope=SYSTEM)
    for kiosk, uid, serial in (("K-A1", "alert-0001", "JP5S-000777"),
                               ("K-P1", "alert-0002", "JP5S-000999")):
        alerts.record(f.central, kiosk, alerts.AlertReport(
            uid=uid, reason="assigned_to_someone_else", detail="the tablet is another's",
            tablet_serial=serial, resident_agency_id="874512", resident_name="Marcus Webb",
            registered_owner="Dale Porter (761204)", raised_at=f.clock()))
    v = Visitor(page, web)
    _log_in(v, "technician")
    v.follow("Alerts", within="Main")
    text = v.text()
    assert "CC-A-DAYROOM" in text and "JP5S-000777" in text and "Dale Porter (761204)" in text
    assert "Marcus Webb (874512)" in text
    assert "JP5S-000999" not in text and "PH-P" not in text  # another facility's
    v.submit("Add the note")
    assert v.page.locator(".error").inner_text() == "Write the note first."
    v.page.get_by_label("Note").fill("Called the unit officer; Dale's tablet was taken back.")
    v.submit("Acknowledge")
    assert "The alert is acknowledged." in v.text() and "No alerts here." in v.text()
    v.follow("Acknowledged")
    assert "Called the unit officer" in v.text() and "Technician" in v.text()


def test_a_technician_changes_kiosks_and_tablets_of_their_facility(
        page: Any, web: WebServer) -> None:
    from sqlalchemy import select as select_

    from central.schema import kiosks, tablets
    f = web.facility
    assert f is not None
    accounts.create_facility(f.central, "F2", "WA", "Pine Hill", "staff@pine.example")
    accounts.create_unit(f.central, "U-P", "F2", "P unit")
    accounts.register_kiosk(f.central, "K-P1", "PH-P-DAYROOM", "U-P", None, scope=SYSTEM)
    accounts.register_tablet(f.central, "JP5S-000001", None, scope=SYSTEM, facility_id="F1")
    accounts.register_tablet(f.central, "JP5S-000002", None, scope=SYSTEM, facility_id="F1")
    accounts.register_tablet(f.central, "JP5S-000900", None, scope=SYSTEM, facility_id="F2")
    f.admit("874512", "Marcus Webb")
    v = Visitor(page, web)
    _log_in(v, "technician")
    v.follow("Devices", within="Main")
    text = v.text()
    assert "CC-A-DAYROOM" in text and "JP5S-000001" in text
    assert "PH-P" not in text and "JP5S-000900" not in text  # another facility's
    v.page.get_by_label("Status of kiosk K-A1").select_option("out_of_service")
    v.submit("Change kiosk K-A1")
    assert "The kiosk's status is changed." in v.text()
    v.page.get_by_label("Resident ID number to give tablet JP5S-000001 to").fill("999999")
    v.submit("Give tablet JP5S-000001")
    assert "No resident of your facility" in v.page.locator(".error").inner_text()
    v.page.get_by_label("Resident ID number to give tablet JP5S-000001 to").fill("874512")
    v.submit("Give tablet JP5S-000001")
    assert "The tablet is given to the resident." in v.text()
    row = v.page.get_by_role("row", name=re.compile("JP5S-000001"))
    assert "Marcus Webb (874512)" in row.inner_text() and "Locked" in row.inner_text()
    v.page.get_by_label("Status of tablet JP5S-000002").select_option("lost")
    v.submit("Change tablet JP5S-000002")
    with f.central.db.read() as conn:
        assert conn.execute(select_(kiosks.c.status).where(kiosks.c.id == "K-A1")
                            ).scalar_one() == "out_of_service"
        assert dict(conn.execute(select_(tablets.c.serial, tablets.c.status)).all()) == {
            "JP5S-000001": "active", "JP5S-000002": "lost", "JP5S-000900": "active"}


def test_a_reviewer_approves_a_family_who_then_sees_the_residents_name(
        page: Any, browser: Any, web: WebServer) -> None:
    from tests.web.test_family_browser import sign_up
    f = web.facility
    assert f is not None
    f.admit("874512", "Marcus Webb")
    family = Visitor(page, web)
    sign_up(family)
    family.page.get_by_label("The resident's ID number").fill("874512")
    family.page.get_by_label("How do you know them?").fill("mother")
    family.submit("Send the request")
    assert "Marcus" not in family.text()
    staff_context = browser.new_context(locale="en-US")
    staff_context.set_default_timeout(90_000)
    try:
        v = Visitor(staff_context.new_page(), web)
        _log_in(v, "reviewer")
        v.follow("Contacts", within="Main")
        assert "Rosa Webb asks to write to Marcus Webb (874512)" in v.text()
        assert "rosa.webb@example.org" in v.text() and "mother" in v.text()
        v.submit("Approve Rosa Webb")
        assert "The contact is approved" in v.text() and "No requests here." in v.text()
    finally:
        staff_context.close()
    family.go("/family/contacts")
    assert "Marcus Webb" in family.text() and "Approved" in family.text()


def test_an_administrator_gives_a_new_pin_and_an_investigator_exports_an_archive(
        page: Any, browser: Any, web: WebServer) -> None:
    f = web.facility
    assert f is not None
    marcus = f.admit("874512", "Marcus Webb")
    f.admit("903377", "Lucia Ramos")
    v = Visitor(page, web)
    _log_in(v, "administrator")
    v.follow("Residents", within="Main")
    v.page.get_by_label("ID number or name").fill("luc")
    v.submit("Find")
    assert "Lucia Ramos" in v.text() and "Marcus" not in v.text()
    v.go("/staff/residents?q=874")
    v.submit("New PIN for Marcus Webb")
    pin = v.page.locator(".pin").inner_text()
    assert len(pin) >= 6 and pin.isdigit()
    assert pin not in v.page.url
    with f.central.db.read() as conn:
        assert f.central.passwords.verify(str(accounts.resident(conn, id=marcus.id).pin_hash),
                                          pin)
    v.submit("Log out")
    _log_in(v, "investigator")
    v.go("/staff/residents")
    assert v.page.get_by_role("button", name="New PIN for Marcus Webb").count() == 0
    with v.page.expect_download() as download:
        v.page.get_by_role("link", name="Download the archive of Marcus Webb").click()
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"


def test_a_reviewer_keeps_a_keyword_list(page: Any, web: WebServer) -> None:
    f = web.facility
    assert f is not None
    accounts.create_facility(f.central, "F2", "WA", "Pine Hill", "staff@pine.example")
    screening_lists.save_list(f.central, scope="facility", scope_id="F2", language="en",
                              terms=["pine secret"], reach=f.scope("administrator"))
    v = Visitor(page, web)
    _log_in(v, "reviewer")
    v.follow("Keyword lists", within="Main")
    assert "F2" not in v.text()  # another facility's list
    v.page.get_by_label("For").select_option("agency")
    v.page.get_by_label("Which one").fill("WA")
    v.page.get_by_label("Language").fill("en")
    v.page.get_by_label("Terms, one a line").fill("burner phone")
    v.submit("Save the list")  # an agency's list is its administrators' to change
    assert "not a place in your reach" in v.page.locator("#scope_id-error").inner_text()
    v.page.get_by_label("For").select_option("facility")
    v.page.get_by_label("Which one").fill("F1")
    v.submit("Save the list")
    assert "The list is saved as a new version." in v.text()
    assert "1 term · version 1" in v.text()
    v.page.get_by_label("Terms, one a line").fill("meet at the fence\nkite\n")
    v.submit("Add")
    path = Path(web.state) / "terms.csv"
    path.write_text("term,note\nshank,weapon\n\"cell, phone\",contraband\n")
    v.page.get_by_label("Import a CSV file").set_input_files(str(path))
    v.submit("Import")
    assert "5 terms · version 3" in v.text()
    v.submit("Remove kite")
    terms = v.page.locator(".term").all_inner_texts()
    assert terms == ["burner phone", "cell, phone", "meet at the fence", "shank"]
    # Someone saves meanwhile: this page's change is refused, not lost over theirs.
    [listed] = screening_lists.all_lists(f.central, reach=f.scope("reviewer"))
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=[*terms, "theirs"], reach=f.scope("reviewer"))
    v.submit("Remove shank")
    assert "Someone saved this list meanwhile" in v.text()
    assert "theirs" in v.page.locator(".term").all_inner_texts()
    assert "Reviewer" in v.text() and "Version 5" in v.text()
    v.follow("Version 1")
    assert v.page.locator(".term").all_inner_texts() == ["burner phone"]
    assert listed.version == 4


def test_a_technician_answers_tickets_those_past_their_deadline_first(
        page: Any, web: WebServer) -> None:
    from central.services import tickets
    f = web.facility
    assert f is not None
    marcus = f.admit("874512", "Marcus Webb")
    lucia = f.admit("903377", "Lucia Ramos")
    tickets.file(f.central, lucia.id, uid="ticket-new-0001", category="purchase_missing",
                 description="My song River Road never came to my tablet.", diagnostics={},
                 kiosk_id="K-A1")
    f.clock.advance(-20 * 86400)  # filed twenty days ago
    tickets.file(f.central, marcus.id, uid="ticket-old-0001", category="tablet_broken",
                 description="The screen of my tablet is cracked.",
                 diagnostics={"battery": 81}, kiosk_id="K-A1")
    f.clock.advance(20 * 86400)
    v = Visitor(page, web)
    _log_in(v, "technician")
    v.follow("Tickets", within="Main")
    rows = v.page.locator("tbody tr").all_inner_texts()
    assert "Marcus Webb" in rows[0] and "6 days past the deadline" in rows[0]
    assert "Lucia Ramos" in rows[1] and "13 days left" in rows[1]
    assert "Escalated" in rows[0]
    v.follow("Ticket 2")
    assert "The screen of my tablet is cracked." in v.text()
    assert "Escalated to supervisors" in v.text()
    v.page.get_by_label("A ready answer").select_option("need_tablet")
    v.page.get_by_label("This resolves the ticket").check()
    v.submit("Send the reply")  # a ready answer alone cannot close a ticket
    assert "in your own words" in v.page.locator("#text-error").inner_text()
    v.page.get_by_label("Your reply").fill("We replaced the screen; your tablet is back.")
    v.page.get_by_label("This resolves the ticket").check()
    v.submit("Send the reply")
    assert "The ticket is resolved" in v.text()
    assert "We replaced the screen" in v.text() and "Technician" in v.text()
    [done] = tickets.list_tickets(f.central, status="resolved", scope=f.scope("technician"))
    assert done.resident_id == marcus.id


def test_a_ticket_past_its_deadline_shows_the_agencys_credit(page: Any, web: WebServer) -> None:
    import dataclasses

    from central.services import tickets
    from tests.central.facility import WASHINGTON
    f = web.facility
    assert f is not None
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, ticket_late_credit_cents=750), scope=SYSTEM)
    marcus = f.admit("874512", "Marcus Webb")
    f.clock.advance(-15 * 86400)  # filed fifteen days ago: a day past its deadline
    ticket_id = tickets.file(f.central, marcus.id, uid="ticket-late-0001",
                             category="purchase_missing", diagnostics={}, kiosk_id="K-A1",
                             description="My album never came to my tablet.")
    f.clock.advance(15 * 86400)
    v = Visitor(page, web)
    _log_in(v, "technician")
    v.follow("Tickets", within="Main")  # opening the list runs the ticket clock out
    [row] = v.page.locator("tbody tr").all_inner_texts()
    assert "1 day past the deadline" in row and "$7.50 credited" in row
    v.follow(f"Ticket {ticket_id}")
    assert "$7.50 credited to the resident's prepaid account" in v.text()
    assert "$7.50 was credited to the resident's prepaid account" in v.text()  # the history
    v.go("/staff/tickets")  # again: no second credit
    assert money.balances(f.central, f"resident:{marcus.id}").prepaid_cents == 750
    [seen] = tickets.list_tickets(f.central, resident_id=marcus.id)
    assert seen.credit_cents == 750


def test_an_investigator_searches_the_audit_log_of_their_facility(
        page: Any, web: WebServer) -> None:
    f = web.facility
    assert f is not None
    accounts.create_facility(f.central, "F2", "WA", "Pine Hill", "staff@pine.example")
    accounts.create_unit(f.central, "U-P", "F2", "P unit")
    marcus = f.admit("874512", "Marcus Webb")
    accounts.create_resident(f.central, agency_id="555001", agency="WA", name="Pine Resident",
                             facility_id="F2", unit_id="U-P", scope=SYSTEM)
    accounts.reset_pin(f.central, marcus.id, scope=f.scope("administrator"))
    v = Visitor(page, web)
    _log_in(v, "investigator")
    v.follow("Audit log", within="Main")
    text = v.text()
    assert f"resident:{marcus.id}" in text and "resident.reset_pin" in text
    assert "F2" not in text  # another facility's admission
    v.page.get_by_label("Search").fill("reset_pin")
    v.submit("Search")
    rows = v.page.locator("tbody tr").all_inner_texts()
    assert len(rows) == 1 and "Administrator" in rows[0]
    v.go("/staff/audit?q=nothing-like-this")
    assert "Nothing found." in v.text()


def test_a_reviewer_withholds_one_photo_of_two_and_both_sides_see_why(
        page: Any, web: WebServer) -> None:
    """A held message with two photos: its text and the first photo are
    delivered, the second withheld with a reason; the resident's feed carries
    the message without the withheld photo, and the family reads which photo
    was withheld and why on their messages page."""
    from tests.web.images import png

    f = web.facility
    assert f is not None
    screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="en",
                              terms=["drop spot"], reach=f.scope("administrator"))
    accounts.create_resident(f.central, agency_id="874512", agency="WA", name="Marcus Webb",
                             facility_id="F1", unit_id="U-A", pin="482916", scope=SYSTEM)
    cid = accounts.register_contact(f.central, "rosa@example.org", "Rosa Webb",
                                    "family password 1")
    approval = accounts.request_approval(f.central, cid, "874512", "sister")
    accounts.decide_approval(f.central, approval, approve=True, scope=SYSTEM)
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="874512",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="stamps-874512")
    photos = []
    for colour in ((200, 40, 40), (40, 160, 60)):
        stored = f.central.blobs.put([png(rgb=colour)], max_size=1 << 20)
        messaging.record_upload(f.central, stored.sha256, stored.size, "image/png",
                                uploader=f"contact:{cid}", purpose="message")
        photos.append(stored.sha256)
    sent = messaging.send_from_contact(
        f.central, cid, uid=f.uid(), resident_agency_id="874512",
        body="The garden, and the old drop spot by the creek.",
        attached=[messaging.Attachment("photo", sha) for sha in photos])
    assert sent.status == "held"

    v = Visitor(page, web)
    _log_in(v, "reviewer")
    v.go("/staff/review")
    v.follow("Review the message from Rosa Webb")
    v.page.get_by_role("group", name="The text").get_by_label("Deliver").check()
    v.page.get_by_role("group", name="Photo 1").get_by_label("Deliver").check()
    v.page.get_by_role("group", name="Photo 2").get_by_label("Withhold").check()
    v.submit("Decide these parts")  # no reason for the withheld photo: refused, nothing decided
    assert v.page.locator("#reason-1-error").inner_text() == "Withholding it needs its reason."
    with f.central.db.read() as conn:
        assert conn.execute(select(messages.c.status)).scalar_one() == "held"
    v.page.get_by_role("group", name="Photo 2").get_by_label("Withhold").check()
    v.page.get_by_label("Why photo 2 is withheld").select_option("identifying")
    v.page.get_by_role("group", name="The text").get_by_label("Deliver").check()
    v.page.get_by_role("group", name="Photo 1").get_by_label("Deliver").check()
    v.submit("Decide these parts")
    assert v.page.url.endswith("/staff/review?done=partial")
    assert "delivered without what you withheld" in v.text()
    v.submit("Log out")

    _, records = messaging.feed_page(f.central, "resident:1", 0)
    [message] = [r.body for r in records if r.kind == "message"]
    assert [a["sha256"] for a in message["attachments"]] == [photos[0]]
    assert message["withheld"][0]["reason_code"] == "identifying"

    v.go("/family/login")
    v.page.get_by_label("Email").fill("rosa@example.org")
    v.page.get_by_label("Password").fill("family password 1")
    v.submit("Log in")
    v.go("/family/messages")
    said = v.text()
    assert "It shows another resident, a staff member or the facility." in said
