"""The demo's scripted walkthrough: the kiosk app, driven by simulated
touches, through what a resident and a technician do, with the simulated
tablets plugged and unplugged through the harness. Each step is printed and
its screen saved; the exit status is 0 when every step passed.

Run by ``sallyport demo`` inside the simulated world (``sallyport sim exec``),
under a display::

    python -m devkit.walkthrough --config kiosk.toml --world DIR --out demo-out
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from devkit.demo import GARDEN
from devkit.touch import Driver, NotYet, check, wait_for
from devkit.web_walk import WEB_MESSAGE

RESIDENT, FIRST_PIN, PIN = "874512", "482916", "135790"  # Marcus Webb (central/seed.py)
OWN_TABLET, WRONG_TABLET = "T1", "T2"  # JP5S-000001 is his; JP5S-000002 is Lucia's
TECHNICIAN_PIN = "246810"
REPLY = "thank you mom, see you sunday"
TOOTH = "my tooth hurts, i cannot eat"
PREA_WORDS = "someone threatened me last night"
RELEASED = RESIDENT  # Marcus Webb is released at the end of the walkthrough
RELEASED_FAMILY = "rosa.webb@example.org"  # his mother, named to have the archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="the kiosk's TOML file")
    parser.add_argument("--world", type=Path, required=True, help="the simulated world")
    parser.add_argument("--out", type=Path, required=True, help="where screenshots go")
    parser.add_argument("--mailbox", type=Path, required=True,
                        help="the staff mailbox's directory (alert mail lands there)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from kiosk.cli import make_app
    from simulators.control import ControlClient

    service, app = make_app(args.config, silent=True)
    harness = ControlClient.for_world(args.world)
    try:
        return Walkthrough(app, harness, args.out, args.mailbox, args.world).run()
    finally:
        service.stop()


class Walkthrough:
    """Every screen saved is also measured for contrast and touch-target size
    in the normal and the high-contrast theme (devkit/accessibility.py); the
    measures are written to ``accessibility.json`` beside the screenshots."""

    def __init__(self, app: Any, harness: Any, out: Path, mailbox: Path,
                 world: Path | None = None) -> None:
        from devkit.accessibility import KIOSK, Audit

        self.app, self.harness, self.mailbox, self.out = app, harness, mailbox, out
        self.printer_spool = world / "printer.spool" if world is not None else None
        self.audit = Audit.of(KIOSK, app)
        self.driver = Driver(app, out, between_s=0.4, first_s=2.0, audit=self.audit)
        self._steps()

    def run(self) -> int:
        try:
            return self.driver.run()
        finally:
            self.audit.write(self.out / "accessibility.json")

    def _steps(self) -> None:
        d, app = self.driver, self.app
        screen, tap, button, shot, step = d.screen, d.tap, d.button, d.shot, d.step

        def on(name: str) -> None:
            wait_for(screen().name == name, f"on {screen().name}, waiting for {name}")

        def keypad(digits: str) -> None:
            for digit in digits:
                tap(button(digit))

        @step("the attract screen, waiting for a resident")
        def _() -> None:
            on("attract")
            shot("attract")
            tap(screen())

        @step("log in with the resident ID and the PIN staff gave out")
        def _() -> None:
            on("login")
            keypad(RESIDENT)
            tap(button("Next"))
            keypad(FIRST_PIN)

        @step("the ID shows, the PIN does not")
        def _() -> None:
            shown = [getattr(w, "text", "") for w in screen().walk()]
            check(RESIDENT in shown and "•" * len(FIRST_PIN) in shown
                  and FIRST_PIN not in shown, f"{shown}")
            shot("login")
            tap(button("Log in"))

        @step("the first login asks for a PIN of their own", timeout_s=30)
        def _() -> None:
            on("pin")
            shot("pin")
            keypad(PIN)
            tap(button("Next"))
            keypad(PIN)
            tap(button("Save my PIN"))

        @step("the terms, shown before anything else, with no time limit", timeout_s=30)
        def _() -> None:
            on("terms")
            shot("terms")
            tap(button("I have read this and accept"))

        @step("home: stamps, balances, the tablet", timeout_s=30)
        def _() -> None:
            on("home")
            wait_for(screen().stamps != "…", "balances loading")
            check(screen().greeting == "Hello, Marcus Webb", screen().greeting)
            shot("home")
            tap(self._tile("Messages"))

        @step("messages: Rosa's conversation, read from the kiosk's cache")
        def _() -> None:
            on("inbox")
            rows = [w for w in screen().ids.entries.children if hasattr(w, "preview")]
            wait_for(any(r.name == "Rosa Webb" for r in rows), "Rosa's conversation")
            shot("inbox")
            tap(next(r for r in rows if r.name == "Rosa Webb"))

        @step("the photo and the videogram she sent have reached the kiosk", timeout_s=60)
        def _() -> None:
            on("conversation")
            garden, web = self._bubble(GARDEN), self._bubble(WEB_MESSAGE)
            parts = self._parts(garden) + self._parts(web)
            if parts.count("View photo") < 2 or "Play videogram" not in parts:
                app.go("conversation")  # read the cache again: the files may just have come
                raise NotYet(f"the photos and the videogram are still on their way: {parts}")
            self._into_view(garden)
            shot("conversation")
            tap(self._part(garden, "View photo"))

        @step("the photo")
        def _() -> None:
            on("viewer")
            check(screen().texture is not None, screen().problem)
            shot("photo")
            tap(button("< Back"))

        @step("the videogram plays (libvlc)")
        def _() -> None:
            on("conversation")
            garden = self._bubble(GARDEN)
            self._into_view(garden)
            tap(self._part(garden, "Play videogram"))

        @step("the videogram is playing", timeout_s=30)
        def _() -> None:
            on("viewer")
            player = screen().player
            wait_for(player is not None and player.frames > 3, "frames from libvlc")
            shot("videogram")
            tap(button("< Back"))

        @step("the message Rosa wrote on the web pages, delivered after review, with its photo")
        def _() -> None:
            on("conversation")
            web = self._bubble(WEB_MESSAGE)
            check(web.incoming and not web.waiting, web.detail)
            self._into_view(web)
            shot("conversation-web")
            tap(self._part(web, "View photo"))

        @step("its photo")
        def _() -> None:
            on("viewer")
            check(screen().texture is not None, screen().problem)
            shot("photo-web")
            tap(button("< Back"))

        @step("reply on the on-screen keyboard, the stamp cost shown first")
        def _() -> None:
            on("conversation")
            tap(button("Write a reply"))

        @step("the reply is typed and sent")
        def _() -> None:
            on("compose")
            d.type_text(REPLY)

        @step("the cost shows before it is sent")
        def _() -> None:
            check(screen().ids.text.text == REPLY, screen().ids.text.text)
            check("costs 1 stamp" in screen().cost_text, screen().cost_text)
            shot("compose")
            tap(button("Send"))

        @step("the reply shows in the conversation, sent", timeout_s=30)
        def _() -> None:
            on("conversation")
            bubbles = [b for b in screen().ids.messages.children if hasattr(b, "waiting")]
            mine = [b for b in bubbles if b.text == REPLY]
            check(len(mine) == 1 and not mine[0].waiting, str([b.detail for b in mine]))
            app.go("store")

        @step("the store: search the catalog")
        def _() -> None:
            on("store")
            tap(screen().ids.query)

        @step("type on the keyboard that comes up, and search")
        def _() -> None:
            d.type_text("river")
            tap(button("Search"))

        @step("buy a song, its price and the prepaid balance shown first", timeout_s=30)
        def _() -> None:
            rows = [w for w in screen().ids.entries.children if hasattr(w, "price")]
            # the search's answer, not the whole catalog shown before it
            wait_for([r.title for r in rows] == ["River Road"], "search results")
            shot("store")
            tap(next(r for r in rows if r.title == "River Road").ids.act)

        @step("the price is confirmed")
        def _() -> None:
            check("River Road" in screen().confirm_text, screen().confirm_text)
            shot("store-confirm")
            tap(button("Yes, buy it"))

        @step("my purchases: paid, on its way to the tablet", timeout_s=30)
        def _() -> None:
            on("store")
            rows = [w for w in screen().ids.entries.children if hasattr(w, "price")]
            wait_for(screen().tab == "mine" and any(r.title == "River Road" for r in rows),
                     "the purchase listed")
            shot("store-purchases")
            app.go("account")

        @step("money and stamps: move $10 from trust to prepaid", timeout_s=30)
        def _() -> None:
            on("account")
            wait_for(screen().trust != "…", "balances")
            tap(button("+"))

        @step("the amount, within the agency's limits")
        def _() -> None:
            check(screen().amount == 1000, str(screen().amount))
            shot("account")
            tap(button("Move this amount"))

        @step("the transfer is confirmed first")
        def _() -> None:
            check("$10.00" in screen().confirm_text, screen().confirm_text)
            tap(button("Yes"))

        @step("the transfer is done", timeout_s=30)
        def _() -> None:
            wait_for(screen().note == "Done.", screen().message)
            app.go("help")

        @step("help: report a problem")
        def _() -> None:
            on("help")
            tap(button("Report a problem"))

        @step("say what it is about and what happened")
        def _() -> None:
            tap(button("My tablet will not sync"))
            d.type_text("it stops halfway")

        @step("and send it, with the kiosk's diagnostics attached")
        def _() -> None:
            shot("help-new")
            tap(button("Send"))

        @step("the ticket is filed and listed", timeout_s=30)
        def _() -> None:
            wait_for(screen().tab == "mine" and "filed" in screen().note, screen().problem)
            shot("help")
            app.go("home")

        @step("requests, from home", timeout_s=30)
        def _() -> None:
            on("home")
            tap(button("Requests"))

        @step("a new request: medical, written on the keyboard, with a paper copy")
        def _() -> None:
            on("requests")
            tap(button("New request"))
            tap(button("Medical request"))
            d.type_text(TOOTH)
            tap(button("Paper copy: no"))

        @step("sent: its receipt number and deadline shown")
        def _() -> None:
            check(screen().paper and screen().kind == "medical", "a paper copy asked for")
            shot("requests-new")
            tap(button("Send"))

        @step("listed with its status; the paper copy printed with its receipt number",
              timeout_s=30)
        def _() -> None:
            wait_for(screen().tab == "mine" and "Receipt number R-" in screen().note,
                     screen().problem or screen().note)
            check("paper copy" in screen().note, screen().note)
            receipt = screen().note.split("Receipt number ")[1].split(";")[0]
            paper = self._printed()
            wait_for(f"Receipt number: {receipt}" in paper and TOOTH in paper, paper[-400:])
            wait_for(any(receipt in getattr(w, "title", "") for w in screen().walk()),
                     "the request in the list")
            shot("requests")
            app.go("dock")

        @step("dock: the plug-in prompt")
        def _() -> None:
            on("dock")
            shot("dock")
            self.harness.call("plug", tablet=OWN_TABLET, port=1)

        @step("his tablet pairs and syncs, item by item, to 'safe to unplug'", timeout_s=120)
        def _() -> None:
            on("dock")
            if screen().state == "syncing" and 0 < screen().overall < 1:
                shot("dock-syncing")
            wait_for(screen().state == "done", f"{screen().state}: {screen().item}")
            shot("dock-done")
            self.harness.call("unplug", tablet=OWN_TABLET)

        @step("the dock gave his tablet firmware 2 (slot b, on trial from its next start)")
        def _() -> None:
            state = self._firmware(OWN_TABLET)
            check(state.trying == "b" and state.slots["b"] is not None
                  and state.slots["b"].version == 2, f"{state}")
            print(f"firmware: {OWN_TABLET} runs version {state.good_image.version} in slot "
                  f"{state.good}; version {state.slots['b'].version} waits in slot b, "
                  f"{state.tries_left} tries", flush=True)

        @step("someone else's tablet is refused, and staff are mailed", timeout_s=60)
        def _() -> None:
            if screen().state != "checking" and not self._plugged(WRONG_TABLET):
                self.harness.call("plug", tablet=WRONG_TABLET, port=2)
            wait_for(screen().state == "refused", screen().state)
            check("belongs to someone else" in screen().detail, screen().detail)
            shot("dock-refused")
            mails = self._alert_mails()
            wait_for(any("JP5S-000002" in m and "assigned_to_someone_else" in m for m in mails),
                     f"{len(mails)} alert mails")
            self.harness.call("unplug", tablet=WRONG_TABLET)
            app.go("dock")

        @step("his tablet starts on firmware 2, its self-test passes: marked good, reported "
              "at the dock", timeout_s=120)
        def _() -> None:
            on("dock")
            if screen().state != "done" and not self._plugged(OWN_TABLET):
                self.harness.call("plug", tablet=OWN_TABLET, port=1)
            wait_for(screen().state == "done", f"{screen().state}: {screen().item}")
            if self._plugged(OWN_TABLET):
                self.harness.call("unplug", tablet=OWN_TABLET)
            state = self._firmware(OWN_TABLET)
            check((state.good, state.event, state.good_image.version) == ("b", "marked_good", 2),
                  f"{state}")
            print(f"firmware: {OWN_TABLET} booted version 2 from slot b and marked it good",
                  flush=True)
            app.go("home")

        @step("larger text and high contrast")
        def _() -> None:
            on("home")
            tap(button("Larger text"))
            tap(button("High contrast"))

        @step("every screen follows")
        def _() -> None:
            check(app.style.scale > 1 and app.contrast, "the look changed")
            shot("home-large-contrast")
            tap(button("Normal text"))
            tap(button("Normal colours"))

        @step("in Spanish")
        def _() -> None:
            tap(button("Español"))

        @step("the screens speak Spanish")
        def _() -> None:
            self._tile("Mensajes")
            shot("home-es")
            tap(button("English"))

        @step("the central server goes away: an offline banner, and reading goes on",
              timeout_s=60)
        def _() -> None:
            self.harness.call("network", state="down")
            wait_for(not app.online, "the next round to fail")
            app.go("inbox")

        @step("messages still read from the kiosk's cache, under the banner")
        def _() -> None:
            on("inbox")
            check(any(getattr(w, "name", "") == "Rosa Webb" for w in screen().walk()),
                  "Rosa's conversation")
            shot("inbox-offline")
            app.go("requests")

        @step("a PREA report while the server is away")
        def _() -> None:
            on("requests")
            tap(button("My requests"))

        @step("written, with a paper copy asked for")
        def _() -> None:
            tap(button("New request"))
            tap(button("PREA report"))
            d.type_text(PREA_WORDS)
            tap(button("Paper copy: no"))
            tap(button("Send"))

        @step("kept at the kiosk with its reference, printed without its words",
              timeout_s=60)
        def _() -> None:
            wait_for(screen().tab == "mine" and "reference is K-" in screen().note,
                     screen().problem or screen().note)
            reference = screen().note.split("reference is ")[1].split(".")[0]
            wait_for(any(reference in str(getattr(w, "title", "")) for w in screen().walk()),
                     "the report kept here, in the list")
            paper = self._printed()
            wait_for(f"Kiosk reference: {reference}" in paper, paper[-400:])
            check(PREA_WORDS not in paper and "threatened" not in paper, "the words printed")
            shown = " ".join(str(getattr(w, "text", "")) for w in screen().walk())
            check("threatened" not in shown, "the words on the screen")
            shot("requests-offline")
            self.harness.call("network", state="up")

        @step("the server is back: a round sends the report up", timeout_s=90)
        def _() -> None:
            wait_for(app.online, "the next round to succeed")
            resident = app.resident
            kept = app.service.residents.requests.here(resident.resident_id)
            wait_for(any(f.type == "prea" and f.state == "sent" for f in kept),
                     str([(f.type, f.state) for f in kept]))
            app.go("requests")

        @step("its receipt number shows, and nothing of its words", timeout_s=30)
        def _() -> None:
            titles = [str(getattr(w, "title", "")) for w in screen().walk()]
            wait_for(any(t.startswith("PREA report · R-") for t in titles), str(titles))
            shown = " ".join(str(getattr(w, "text", "")) for w in screen().walk())
            check("threatened" not in shown, "the words on the screen")
            app.go("home")

        @step("log out")
        def _() -> None:
            tap(button("Log out"))

        @step("the maintenance menu asks for a technician's badge or PIN")
        def _() -> None:
            on("attract")
            tap(button("Maintenance"))

        @step("the technician's PIN opens it")
        def _() -> None:
            on("maintenance")
            shot("maintenance-locked")
            keypad(TECHNICIAN_PIN)
            tap(button("Open the menu"))

        @step("diagnostics: central link, disk, dock ports, badge reader, printer", timeout_s=30)
        def _() -> None:
            on("maintenance")
            wait_for(screen().unlocked and "central link" in screen().output, screen().output)
            shot("maintenance")
            tap(button("Alerts"))

        @step("the alerts raised at this kiosk", timeout_s=30)
        def _() -> None:
            wait_for("assigned_to_someone_else" in screen().output, screen().output)
            shot("maintenance-alerts")
            tap(button("Tablets"))

        @step("tablets: a technician signs in as staff")
        def _() -> None:
            tap(screen().ids.username)
            d.type_text("demo-technician")
            tap(screen().ids.password)
            d.type_text("demo staff password")
            tap(button("Sign in as staff"))

        @step("and assigns a tablet to its resident", timeout_s=30)
        def _() -> None:
            wait_for(screen().signed_in, screen().form_note)
            tap(screen().ids.serial)
            d.type_text("jp5s-000002")
            tap(screen().ids.resident)
            d.type_text("903377")
            tap(button("Assign the tablet"))

        @step("the change reached the central server", timeout_s=30)
        def _() -> None:
            wait_for(screen().form_note == "Done.", screen().form_note)
            shot("maintenance-tablets")
            self._release()  # staff release Marcus, on the staff side
            tap(screen().ids.resident)

        @step("a released resident's archive, written to the USB stick")
        def _() -> None:
            screen().ids.resident.text = ""
            d.type_text(RELEASED)
            tap(button("Archive to USB stick"))

        @step("the stick holds the zip of their messages and photos", timeout_s=60)
        def _() -> None:
            wait_for(screen().form_note.startswith("Written"), screen().form_note)
            stick = Path(app.service.config.usb_stick) / f"archive-{RELEASED}.zip"
            with zipfile.ZipFile(stick) as archive:
                manifest = json.loads(archive.read("archive.json"))
                uids = [m["uid"] for m in manifest["messages"]]
                photos = [n for n in archive.namelist() if n.startswith("blobs/")]
                check(archive.testzip() is None and "demo-msg-0001" in uids and bool(photos),
                      f"{uids} {photos}")
            shot("maintenance-usb")
            tap(button("Configuration"))

        @step("the kiosk's configuration, checked and saved for the next start", timeout_s=30)
        def _() -> None:
            check(screen().ids.location.text == "CC-A-DAYROOM", screen().ids.location.text)
            wait_for("location code" in screen().output, screen().output)
            tap(button("Save"))

        @step("saved", timeout_s=30)
        def _() -> None:
            wait_for(screen().form_note.startswith("Saved"), screen().form_note)
            shot("maintenance-config")
            app.go("attract")

    def _tile(self, label: str) -> Any:
        """The home screen's tile whose text starts with ``label``."""
        for widget in self.driver.screen().walk():
            text = getattr(widget, "text", None)
            if isinstance(text, str) and text.startswith(label) and hasattr(widget, "detail"):
                return widget
        raise AssertionError(f"no tile {label!r}")

    def _bubble(self, text: str) -> Any:
        """The conversation's message that reads ``text``."""
        for bubble in self.driver.screen().ids.messages.children:
            if getattr(bubble, "text", None) == text and hasattr(bubble, "waiting"):
                return bubble
        raise NotYet(f"no message reads {text!r} yet")

    @staticmethod
    def _parts(bubble: Any) -> list[str]:
        """The labels of a message's photo and videogram buttons."""
        return [getattr(w, "text", "") for w in bubble.ids.parts.children]

    @staticmethod
    def _part(bubble: Any, label: str) -> Any:
        for widget in bubble.ids.parts.children:
            if getattr(widget, "text", None) == label:
                return widget
        raise AssertionError(f"no {label!r} on the message {bubble.text!r}")

    def _into_view(self, widget: Any) -> None:
        """Scroll the conversation so that ``widget`` shows, at once."""
        scroll = self.driver.screen().ids.scroll
        self.driver.settle()
        scroll.scroll_to(widget, animate=False)
        scroll.update_from_scroll()

    def _release(self) -> None:
        """Staff release Marcus (as the staff side does, over HTTPS)."""
        import requests

        sync = self.app.service.sync_config
        http = requests.Session()
        http.trust_env = False
        http.verify = sync.ca_certificate
        url = sync.central_url
        token = http.post(f"{url}/v1/staff/sessions", timeout=30, json={
            "username": "demo-administrator", "password": "demo staff password"}).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        # The resident and his mother, who is to have the archive, by her approval.
        found = [a for a in http.get(f"{url}/v1/staff/approvals", timeout=30,
                                     params={"status": "approved"}).json()
                 if a["contact_email"] == RELEASED_FAMILY]
        check(len(found) == 1, f"{RELEASED_FAMILY}: {found}")
        answer = http.post(f"{url}/v1/staff/residents/{found[0]['resident_id']}/release",
                           json={"designee_contact_id": found[0]["contact_id"]}, timeout=30)
        check(answer.status_code in (201, 409), answer.text)  # 409: a rerun, released already
        http.close()

    def _firmware(self, tablet: str) -> Any:
        """The tablet's boot state (firmware_images.slots.BootState)."""
        from firmware_images.device import FirmwareDevice
        from tablet.device import TabletDirectory

        directory = TabletDirectory(Path(self.harness.call("status")["tablets"][tablet]
                                         ["directory"]))
        return FirmwareDevice.open(directory.firmware_path, time_keys={}).state()

    def _printed(self) -> str:
        """What the kiosk's (simulated) printer printed."""
        if self.printer_spool is None or not self.printer_spool.exists():
            return ""
        return self.printer_spool.read_bytes().decode("ascii", "replace")

    def _plugged(self, tablet: str) -> bool:
        return self.harness.call("status")["tablets"][tablet]["port"] is not None

    def _alert_mails(self) -> list[str]:
        texts = []
        for path in sorted(self.mailbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            texts.append(f"{message['Subject']}\n{body.get_content() if body else ''}")
        return texts


if __name__ == "__main__":
    sys.exit(main())
