"""Save a screenshot of every web page (family and staff) under
docs/screenshots/web/, from the server running as its own process with a
small facility in it, in Debian's Chromium. `make screenshots` runs it.

    python scripts/web_screenshots.py [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from central.services import (  # noqa: E402 - after the path is set
    accounts,
    messaging,
    money,
    review,
    screening_lists,
)
from tests.central.facility import STAFF_PASSWORD, SYSTEM, WASHINGTON, Facility  # noqa: E402
from tests.web.images import png  # noqa: E402
from tests.web.rig import FAMILY_PASSWORD, WebServer, check_accessible, chromium  # noqa: E402

WIDTH, HEIGHT = 1100, 760


def stage(f: Facility, state: Path) -> int:
    """A family with a history: approved, stamps bought, a photo sent, a
    reply, a message held and one rejected."""
    # the agency keeps Pacific time, and credits a ticket past its deadline
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, ticket_late_credit_cents=500, timezone="America/Los_Angeles"),
        scope=SYSTEM)
    marcus = f.admit("874512", "Marcus Webb")
    f.admit("903377", "Lucia Ramos")
    cid = accounts.register_contact(f.central, "rosa.webb@example.org", "Rosa Webb",
                                    FAMILY_PASSWORD)
    approval = accounts.request_approval(f.central, cid, "874512", "mother")
    accounts.decide_approval(f.central, approval, approve=True, scope=f.scope("reviewer"))
    accounts.request_approval(f.central, cid, "903377", "friend")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="874512",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="screens-stamps-1")
    photo = png(320, 200)
    stored = f.central.blobs.put([photo], max_size=len(photo))
    messaging.record_upload(f.central, stored.sha256, stored.size, "image/png",
                            uploader=f"contact:{cid}", purpose="message")
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="Hello Marcus! The tomatoes came in. Grandma says hi.",
                                attached=[messaging.Attachment("photo", stored.sha256)])
    f.central.trust.set_balance("874512", 1000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, marcus.id, amount_cents=1000, key="screens-fund-1")
    money.buy_stamps_for_resident(f.central, marcus.id, offer_id="bundle-20", key="screens-m")
    messaging.send_from_resident(f.central, marcus.id, uid=f.uid("reply"), contact_id=cid,
                                 body="Thank you, Mom. Tell Grandma I said hi back. "
                                      "I start the welding class on Monday.")
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["meet at the fence", "burner phone"],
                              reach=f.scope("reviewer"))
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="Can you meet at the fence on Sunday?")
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="I will bring the burner phone next visit.")
    pictures = []
    for colour in ((200, 90, 60), (60, 140, 90)):
        picture = png(320, 200, rgb=colour)
        kept = f.central.blobs.put([picture], max_size=len(picture))
        messaging.record_upload(f.central, kept.sha256, kept.size, "image/png",
                                uploader=f"contact:{cid}", purpose="message")
        pictures.append(messaging.Attachment("photo", kept.sha256))
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="874512",
                                body="Two from the yard: the new fence, and the burner phone "
                                     "your cousin lost.", attached=pictures)
    from central.services import alerts
    alerts.record(f.central, "K-A1", alerts.AlertReport(
        uid="screens-alert-1", reason="assigned_to_someone_else",
        detail="The tablet JP5S-000003 is assigned to another resident.",
        tablet_serial="JP5S-000003", resident_agency_id="874512", resident_name="Marcus Webb",
        registered_owner="Dale Porter (761204)", raised_at=f.clock()))
    for serial, owner in (("JP5S-000001", marcus.id), ("JP5S-000002", None)):
        accounts.register_tablet(f.central, serial, None, scope=SYSTEM, facility_id="F1")
        if owner is not None:
            accounts.assign_tablet(f.central, serial, owner, scope=SYSTEM)
    from central.services import tickets
    f.clock.advance(-12 * 86400)
    tickets.file(f.central, marcus.id, uid="screens-ticket-1", category="purchase_missing",
                 description="I bought North Windows but only one song came to my tablet.",
                 diagnostics={"tablet": "JP5S-000001", "free_mb": 812}, kiosk_id="K-A1")
    f.clock.advance(12 * 86400)
    # Lucia's ticket, filed sixteen days ago, is past its deadline: credited
    lucia = f.residents["903377"]
    f.clock.advance(-16 * 86400)
    tickets.file(f.central, lucia.id, uid="screens-ticket-2", category="tablet_broken",
                 description="My tablet will not charge since the last dock.",
                 diagnostics={"tablet": "JP5S-000002", "battery": 4}, kiosk_id="K-A1")
    f.clock.advance(16 * 86400)
    [first, _second, _third] = review.list_holds(f.central, scope=f.scope("reviewer"))
    review.decide(f.central, first.hold_id, scope=f.scope("reviewer"), approve=False,
                  reason_code="escape")
    del state
    return cid


def shoot(page: Any, out: Path, name: str) -> None:
    check_accessible(page)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(f"  {name}.png  {page.url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "web")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sallyport-web-screens-") as directory:
        state = Path(directory)
        with WebServer(f"sqlite:///{state / 'central.db'}", state / "state") as server, \
                chromium() as browser:
            assert server.facility is not None
            stage(server.facility, state)
            context = browser.new_context(locale="en-US",
                                          viewport={"width": WIDTH, "height": HEIGHT})
            context.set_default_timeout(90_000)
            page = context.new_page()
            url = server.url

            def go(path: str, name: str) -> None:
                page.goto(url + path)
                shoot(page, out, name)

            def click(locator: Any) -> None:
                with page.expect_navigation():
                    locator.click()

            go("/family/login", "family-login")
            go("/family/signup", "family-signup")
            page.get_by_label("Email").fill("not an address")
            click(page.get_by_role("button", name="Make my account"))
            shoot(page, out, "family-signup-errors")
            go("/family/login", "family-login")
            page.get_by_label("Email").fill("rosa.webb@example.org")
            page.get_by_label("Password").fill(FAMILY_PASSWORD)
            click(page.get_by_role("button", name="Log in"))
            shoot(page, out, "family-home")
            go("/family/contacts", "family-contacts")
            go("/family/stamps", "family-stamps")
            go("/family/write", "family-write")
            page.get_by_label("Your message").fill("Happy birthday, Marcus! Here is the cake.")
            page.get_by_label("A photo (JPEG or PNG)").check()
            page.get_by_label("File").set_input_files(
                {"name": "cake.png", "mimeType": "image/png", "buffer": png(480, 300,
                                                                             (190, 60, 90))})
            click(page.get_by_role("button", name="Check the cost and send"))
            shoot(page, out, "family-confirm")
            go("/family/messages", "family-messages")
            click(page.get_by_role("button", name="Español"))
            shoot(page, out, "family-messages-es")
            go("/family", "family-home-es")
            click(page.get_by_role("button", name="English"))
            go("/family/nothing-here", "family-not-found")
            context.close()

            context = browser.new_context(locale="en-US",
                                          viewport={"width": WIDTH, "height": HEIGHT})
            context.set_default_timeout(90_000)
            page = context.new_page()
            go("/staff/login", "staff-login")
            page.get_by_label("Username").fill("reviewer")
            page.get_by_label("Password").fill(STAFF_PASSWORD)
            click(page.get_by_role("button", name="Log in"))
            shoot(page, out, "staff-home")
            go("/staff/review", "staff-review")
            click(page.get_by_role("link", name="Review the message from Rosa Webb").first)
            shoot(page, out, "staff-hold")
            click(page.get_by_role("button", name="Reject it"))
            shoot(page, out, "staff-hold-errors")
            go("/staff/review", "staff-review")
            click(page.get_by_role("link", name="Review the message from Rosa Webb").last)
            page.get_by_role("group", name="Photo 2").get_by_label("Withhold").check()
            page.get_by_label("Why photo 2 is withheld").select_option("identifying")
            shoot(page, out, "staff-hold-parts")
            go("/staff/keywords", "staff-keywords")
            click(page.get_by_role("link", name="facility F1"))
            shoot(page, out, "staff-keyword-list")
            go("/staff/contacts", "staff-contacts")
            click(page.get_by_role("button", name="Log out"))
            page.get_by_label("Username").fill("administrator")
            page.get_by_label("Password").fill(STAFF_PASSWORD)
            click(page.get_by_role("button", name="Log in"))
            go("/staff/reports", "staff-report")
            go("/staff/alerts", "staff-alerts")
            go("/staff/audit", "staff-audit")
            go("/staff/devices", "staff-devices")
            go("/staff/tickets", "staff-tickets")
            go("/staff/tickets/2", "staff-ticket")  # past its deadline, credited
            go("/staff/residents", "staff-residents")
            context.close()
    print(f"screenshots of the web pages in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
