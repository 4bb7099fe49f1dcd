"""A family's whole life on the web pages, clicked through in Chromium
against the server running as its own process: sign up, ask to contact a
resident, be approved, buy stamps, write with a photo, read the reply and
the notice of a rejected message, in English and in Spanish. axe-core runs
on every page: no serious or critical violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select, update

from central.schema import approvals, contacts, messages, sessions
from central.services import accounts, messaging, money, review, screening_lists
from tests.web.images import png
from tests.web.rig import FAMILY_PASSWORD, WebServer, check_accessible

EMAIL = "rosa.webb@example.org"


class Visitor:
    """A page that is checked by axe after every step that shows a new page."""

    def __init__(self, page: Any, server: WebServer) -> None:
        self.page = page
        self.server = server
        self.seen: set[str] = set()

    def go(self, path: str) -> None:
        self.page.goto(self.server.url + path)
        self.check()

    def submit(self, name: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=name, exact=True).click()
        self.check()

    def follow(self, name: str, *, within: str | None = None) -> None:
        scope = self.page.get_by_role("navigation", name=within) if within else self.page
        with self.page.expect_navigation():
            scope.get_by_role("link", name=name).first.click()
        self.check()

    def check(self) -> None:
        check_accessible(self.page)
        self.seen.add(self.page.url.split("?")[0].removeprefix(self.server.url))

    def text(self) -> str:
        return str(self.page.inner_text("main"))


def sign_up(v: Visitor, name: str = "Rosa Webb", email: str = EMAIL) -> None:
    v.go("/family/signup")
    v.page.get_by_label("Your name").fill(name)
    v.page.get_by_label("Email").fill(email)
    v.page.get_by_label("Password", exact=True).fill(FAMILY_PASSWORD)
    v.page.get_by_label("Password again").fill(FAMILY_PASSWORD)
    v.submit("Make my account")


def family_flow(v: Visitor) -> None:
    server = v.server
    f = server.facility
    assert f is not None
    marcus = f.admit("874512", "Marcus Webb")

    v.go("/family")  # no session: the login page, which comes back here after
    assert "/family/login" in v.page.url

    # Sign up: bad input is refused beside the field, and nothing is saved.
    v.go("/family/signup")
    v.page.get_by_label("Email").fill("not an address")
    v.page.get_by_label("Password", exact=True).fill("short")
    v.page.get_by_label("Password again").fill("other")
    v.submit("Make my account")
    assert v.page.locator("#name-error").inner_text() == "This is needed."
    assert "not the same" in v.page.locator("#password_again-error").inner_text()
    with f.central.db.read() as conn:
        assert conn.execute(select(contacts)).first() is None
    sign_up(v)
    assert v.page.url.endswith("/family/contacts?done=signed_up")
    assert "Your account is made" in v.text()

    # Ask to contact a resident by ID: no name before staff approve.
    v.page.get_by_label("The resident's ID number").fill("999999")
    v.page.get_by_label("How do you know them?").fill("mother")
    v.submit("Send the request")
    assert "No resident has this ID" in v.page.locator("#resident_agency_id-error").inner_text()
    v.page.get_by_label("The resident's ID number").fill("874512")
    v.submit("Send the request")
    assert "874512" in v.text() and "Waiting for staff" in v.text()
    assert "Marcus" not in v.page.content()
    with f.central.db.read() as conn:
        approval = conn.execute(select(approvals.c.id)).scalar_one()
        cid = conn.execute(select(contacts.c.id)).scalar_one()
    accounts.decide_approval(f.central, approval, approve=True, scope=f.scope("reviewer"))
    v.go("/family/contacts")
    assert "Marcus Webb" in v.text() and "Approved" in v.text()

    # Buy stamps in the sandbox: a declined card is said beside the card.
    v.go("/family/stamps")
    v.page.get_by_label("20 stamps for $5.00").check()
    v.page.get_by_label("Card").select_option("tok_sandbox_declined")
    v.submit("Pay and get the stamps")
    assert "declined" in v.page.locator("#card-error").inner_text()
    assert money.balances(f.central, messaging.contact_owner(cid, "WA")).stamps == 0
    v.page.get_by_label("20 stamps for $5.00").check()
    v.page.get_by_label("Card").select_option("tok_sandbox_visa")
    v.submit("Pay and get the stamps")
    assert "You have 20 stamps." in v.text()
    assert re.search(r"Stamps bought\s+\+20", v.text())

    # Write with a photo: the cost is shown before anything is sent.
    v.go("/family/write")
    v.page.get_by_label("Your message").fill("Hello Marcus, here is the garden.")
    v.page.get_by_label("A photo (JPEG or PNG)").check()
    path = Path(server.state) / "garden.png"
    path.write_bytes(png())
    v.page.get_by_label("File").set_input_files(str(path))
    v.submit("Check the cost and send")
    assert "/family/write" in v.page.url
    assert "2 stamps" in v.text()  # a message and a photo
    assert v.page.locator("img.preview").evaluate("i => i.naturalWidth") == 96
    with f.central.db.read() as conn:
        assert conn.execute(select(messages)).first() is None  # not sent yet
    v.submit("Send for 2 stamps")
    assert v.page.url.endswith("/family/messages?done=sent")
    assert "You wrote to Marcus Webb" in v.text()
    assert v.page.locator("ol.feed img").first.evaluate("i => i.naturalWidth") == 96
    assert money.balances(f.central, messaging.contact_owner(cid, "WA")).stamps == 18

    # The reply, and a message held and rejected: the reason and the refund are said.
    f.central.trust.set_balance("874512", 1000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, marcus.id, amount_cents=1000, key="fund-marcus-1")
    money.buy_stamps_for_resident(f.central, marcus.id, offer_id="bundle-20", key="stamps-m-1")
    messaging.send_from_resident(f.central, marcus.id, uid=f.uid("reply"), contact_id=cid,
                                 body="Thank you, Mom. The garden looks great.")
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["meet at the fence"], reach=f.scope("reviewer"))
    v.go("/family/write")
    v.page.get_by_label("Your message").fill("Meet at the fence on Sunday.")
    v.submit("Check the cost and send")
    v.submit("Send for 1 stamp")
    assert v.page.url.endswith("/family/messages?done=held")
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=False,
                  reason_code="escape")
    v.go("/family/messages")
    text = v.text()
    assert "Marcus Webb wrote to you" in text and "The garden looks great" in text
    assert "Your message was not delivered. It is about escape or the facility's security." \
        in text
    assert "1 stamp was returned to you." in text
    assert "Your message is being reviewed by staff before delivery." in text
    assert "Meet at the fence on Sunday." in text  # which message a notice is about
    v.go("/family/stamps")
    assert "You have 18 stamps." in v.text()
    assert re.search(r"Stamps returned\s+\+1", v.text())


def test_a_family_signs_up_is_approved_buys_stamps_writes_and_reads(
        page: Any, web: WebServer) -> None:
    v = Visitor(page, web)
    family_flow(v)
    v.go("/family")
    assert "Welcome, Rosa Webb" in v.text() and "18 stamps" in v.text()
    # Spanish, chosen in the header, for every page after.
    v.submit("Español")
    assert "Bienvenido/a, Rosa Webb" in v.text()
    assert page.locator("html").get_attribute("lang") == "es"
    v.go("/family/messages")
    assert "Su mensaje no fue entregado. Trata de una fuga o de la seguridad del centro." \
        in v.text()
    assert "Se le devolvió 1 sello." in v.text()
    v.go("/family/stamps")
    assert "Tiene 18 sellos." in v.text()
    v.submit("Cerrar sesión")
    assert "Cerró la sesión." in v.text()
    v.go("/family/messages")
    assert "/family/login" in page.url
    assert v.seen >= {"/family", "/family/login", "/family/signup", "/family/contacts",
                      "/family/stamps", "/family/write", "/family/messages"}


def test_the_main_family_flow_on_postgresql(page: Any, web_pg: WebServer) -> None:
    family_flow(Visitor(page, web_pg))


def test_a_form_sent_after_the_session_ended_comes_back_after_the_login(
        page: Any, web: WebServer) -> None:
    f = web.facility
    assert f is not None
    f.admit("874512", "Marcus Webb")
    v = Visitor(page, web)
    sign_up(v)
    v.go("/family/contacts")
    v.page.get_by_label("The resident's ID number").fill("874512")
    v.page.get_by_label("How do you know them?").fill("mother")
    with f.central.db.write() as conn:  # the session runs out while the form is typed
        conn.execute(update(sessions).values(expires_at=0))
    v.submit("Send the request")
    assert "Your session ended, so nothing was sent" in v.text()
    with f.central.db.read() as conn:
        assert conn.execute(select(approvals)).first() is None
    v.page.get_by_label("Email").fill(EMAIL)
    v.page.get_by_label("Password").fill(FAMILY_PASSWORD)
    v.submit("Log in")
    assert v.page.url.endswith("/family/login")  # the form is shown again, filled in
    assert v.page.get_by_label("The resident's ID number").input_value() == "874512"
    assert v.page.get_by_label("How do you know them?").input_value() == "mother"
    assert "this was not sent" in v.text()
    v.submit("Send the request")
    assert "Waiting for staff" in v.text()
    # A page asked for without a session goes to the login page and back.
    v.submit("Log out")
    v.go("/family/stamps")
    v.page.get_by_label("Email").fill(EMAIL)
    v.page.get_by_label("Password").fill(FAMILY_PASSWORD)
    v.submit("Log in")
    assert v.page.url.endswith("/family/stamps")


def test_the_cost_follows_the_attachment_chosen(page: Any, web: WebServer) -> None:
    """htmx swaps the cost box in as the choice changes (without JavaScript the
    check page shows the cost before sending)."""
    f = web.facility
    assert f is not None
    f.admit("874512", "Marcus Webb")
    v = Visitor(page, web)
    sign_up(v)
    with f.central.db.read() as conn:
        cid = conn.execute(select(contacts.c.id)).scalar_one()
    approval = accounts.request_approval(f.central, cid, "874512", "mother")
    accounts.decide_approval(f.central, approval, approve=True, scope=f.scope("reviewer"))
    v.go("/family/write")
    assert "This message will cost 1 stamp. You have 0 stamps." in v.text()
    v.page.get_by_label("A videogram (MP4, up to 30 seconds)").check()
    expect(v.page.locator("#cost")).to_contain_text("This message will cost 5 stamps.")
    assert "That is not enough." in v.page.inner_text("#cost")
    v.check()
    # A file that is not what it says is refused beside the file field.
    path = Path(web.state) / "fake.mp4"
    path.write_bytes(b"this is not a video at all")
    v.page.get_by_label("File").set_input_files({"name": "fake.mp4", "mimeType": "video/mp4",
                                                 "buffer": path.read_bytes()})
    v.submit("Check the cost and send")
    assert "This is not an MP4 videogram." in v.page.locator("#file-error").inner_text()
