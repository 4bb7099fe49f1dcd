"""Kiosk screens by touch, for what the demo's walkthrough does not show:
a wrong PIN, a lockout, a photo staff withheld said in its place in the
conversation (English and Spanish), the inactivity logout with its countdown
(and none on the terms), and a login while the central server is away. Run
inside the simulated world, under a display (tests/kiosk/test_ui_flows.py
does both); with ``--out``, the withheld photo's screens are saved there
and measured (contrast, touch targets) into ``accessibility.json``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from central.rejections import REASONS
from devkit.accessibility import KIOSK, Audit
from devkit.touch import Driver, NotYet, check, wait_for
from kiosk.cli import make_app
from simulators.control import ControlClient

MARCUS, FIRST_PIN, PIN = "874512", "482916", "135790"
LUCIA = "903377"
# Rosa's message of two photos, of which staff withheld the second
# (tests/kiosk/test_ui_flows.py sends and decides it).
WITHHELD_TEXT = "Two photos from the party. Nobody mentioned a burner phone."
WITHHELD = "identifying"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="where screenshots go")
    args = parser.parse_args(argv)
    service, app = make_app(args.config, silent=True)
    app.inactivity_s, app.warning_s = 6.0, 4.0  # a short timer, as a test can wait for it
    harness = ControlClient.for_world(args.world)
    audit = Audit.of(KIOSK, app) if args.out else None
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    d = Driver(app, args.out, between_s=0.4, first_s=2.0, audit=audit)
    screen, tap, button, step = d.screen, d.tap, d.button, d.step

    def login(agency_id: str, pin: str) -> None:
        for digit in agency_id:
            tap(button(digit))
        tap(button("Next"))
        for digit in pin:
            tap(button(digit))
        tap(button("Log in"))

    @step("to the login screen")
    def _() -> None:
        tap(screen())

    @step("a wrong PIN")
    def _() -> None:
        login(LUCIA, "111111")

    @step("is said plainly, and the PIN is cleared", timeout_s=20)
    def _() -> None:
        wait_for(bool(screen().problem), "the answer")
        check("do not match" in screen().problem, screen().problem)
        check(screen().pin == "", screen().pin)

    for attempt in range(2, 6):
        @step(f"wrong PIN {attempt}")
        def _() -> None:
            tap(button("< Back"))

        @step(f"again, wrong PIN {attempt}")
        def _() -> None:
            tap(screen())

        @step(f"type wrong PIN {attempt}")
        def _() -> None:
            login(LUCIA, "111111")

        @step(f"answered {attempt}", timeout_s=20)
        def _() -> None:
            wait_for(bool(screen().problem), "the answer")

    @step("after five, the ID is locked out for a while, and the kiosk says so", timeout_s=20)
    def _() -> None:
        tap(button("< Back"))

    @step("one more try")
    def _() -> None:
        tap(screen())

    @step("the right PIN now")
    def _() -> None:
        login(LUCIA, "517340")

    @step("is refused too, with the reason", timeout_s=20)
    def _() -> None:
        wait_for(bool(screen().problem), "the answer")
        check("locked" in screen().problem, screen().problem)
        tap(button("< Back"))

    @step("Marcus logs in")
    def _() -> None:
        tap(screen())

    @step("with the PIN he was given")
    def _() -> None:
        login(MARCUS, FIRST_PIN)

    @step("and chooses his own", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "pin", screen().name)
        for pin in (PIN, PIN):
            for digit in pin:
                tap(button(digit))
            tap(button("Next") if screen().field == "new" else button("Save my PIN"))

    @step("the terms wait for him, however long he reads", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "terms", screen().name)

    @step("still the terms after longer than the logout time", timeout_s=20)
    def _() -> None:
        wait_for(app.last_touch + 8 < __import__("time").monotonic(), "8 s without a touch")
        check(screen().name == "terms" and app.logged_in, screen().name)
        check(app.countdown_text == "", app.countdown_text)
        tap(button("I have read this and accept"))

    bought: dict[str, object] = {}

    @step("the store, while the central server is away", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "home" and screen().prepaid != "…", screen().prepaid)
        bought["prepaid"] = app.screen_data.prepaid_cents
        app.go("store")

    @step("searched for", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "store", screen().name)
        tap(screen().ids.query)

    @step("on the keyboard")
    def _() -> None:
        d.type_text("river")
        tap(button("Search"))

    @step("a song listed", timeout_s=20)
    def _() -> None:
        rows = [w for w in screen().ids.entries.children if hasattr(w, "price")]
        wait_for([r.title for r in rows] == ["River Road"], "the search's answer")
        harness.call("network", state="down")
        tap(next(r for r in rows if r.title == "River Road").ids.act)

    @step("bought while nobody can say whether it went through")
    def _() -> None:
        bought["key"] = screen()._attempt.key
        tap(button("Yes, buy it"))

    @step("no answer: the same buy keeps its key", timeout_s=60)
    def _() -> None:
        wait_for(screen().problem.startswith("Not bought"), screen().problem)
        check(screen()._attempt.key == bought["key"], "a new key after no answer")
        harness.call("network", state="up")

    @step("the server is back: asked again", timeout_s=60)
    def _() -> None:
        wait_for(app.online, "a round")
        rows = [w for w in screen().ids.entries.children if hasattr(w, "price")]
        tap(next(r for r in rows if r.title == "River Road").ids.act)

    @step("the same key, and Yes touched twice")
    def _() -> None:
        check(screen()._attempt.key == bought["key"], "the key changed")
        tap(button("Yes, buy it"))
        tap(button("Yes, buy it"))

    @step("bought and charged once", timeout_s=30)
    def _() -> None:
        wait_for(screen().tab == "mine", screen().problem)
        songs = [e for e in service.entitlements().get() if e.item_id == "song-river"]
        check(len(songs) == 1, str(songs))
        home = service.home().get()
        check(home.prepaid_cents == int(bought["prepaid"]) - 129,  # type: ignore[call-overload]
              f"{bought['prepaid']} -> {home.prepaid_cents}")
        app.go("home")

    @step("Rosa's conversation, where staff withheld a photo", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "home", screen().name)
        app.go("inbox")

    @step("in the inbox", timeout_s=20)
    def _() -> None:
        rows = [w for w in screen().ids.entries.children if getattr(w, "name", "") ==
                "Rosa Webb"]
        wait_for(bool(rows), "Rosa's conversation")
        tap(rows[0])

    def withheld_bubble() -> tuple[Any, list[str]]:
        for bubble in screen().ids.messages.children:
            parts = [getattr(p, "text", "") for p in bubble.ids.parts.children[::-1]]
            if any("withheld" in p or "retuvo" in p for p in parts):
                return bubble, parts
        raise NotYet("the message with its withheld photo")

    @step("photo 2 withheld, the reason in its place; photo 1 to view", timeout_s=30)
    def _() -> None:
        wait_for(screen().name == "conversation", screen().name)
        bubble, parts = withheld_bubble()
        check(bubble.text == WITHHELD_TEXT, bubble.text)
        check(parts == ["View photo", f"Photo 2 was withheld: {REASONS[WITHHELD].en}"],
              str(parts))
        d.shot("conversation-withheld")
        app.set_language("es")  # the screen is made again in Spanish

    @step("in Spanish, with the server's Spanish reason")
    def _() -> None:
        _, parts = withheld_bubble()
        check(parts == ["Ver foto", f"El personal retuvo la foto 2: {REASONS[WITHHELD].es}"],
              str(parts))
        d.shot("conversation-withheld-es")
        app.set_language("en")
        app.go("home")

    @step("home; then no touch: a countdown shows", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "home", screen().name)
        wait_for(app.countdown_text.startswith("Logging out in"), app.countdown_text)

    @step("and he is logged out", timeout_s=20)
    def _() -> None:
        wait_for(screen().name == "attract" and not app.logged_in, screen().name)
        check(app.resident is None, "the service forgot him at once")
        # Nothing of his stays for the next person: balances, greeting, what screens share.
        home = app.root.get_screen("home")
        check((home.greeting, home.stamps, home.tablet) == ("", "…", ""), home.greeting)
        from kiosk.ui.app import Shared

        check(app.screen_data == Shared(), str(app.screen_data))
        check(not app.root.get_screen("inbox").ids.entries.children, "his conversations")

    @step("the central server goes away")
    def _() -> None:
        harness.call("network", state="down")
        tap(screen())

    @step("a login now")
    def _() -> None:
        login(MARCUS, PIN)

    @step("is answered: the server cannot be reached", timeout_s=60)
    def _() -> None:
        wait_for(bool(screen().problem), "the answer")
        check("cannot be reached" in screen().problem, screen().problem)
        harness.call("network", state="up")

    try:
        return d.run()
    finally:
        if audit is not None and args.out:
            audit.write(args.out / "accessibility.json")
        service.stop()


if __name__ == "__main__":
    sys.exit(main())
