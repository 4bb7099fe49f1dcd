"""Drive the tablet's app with simulated touches, screen by screen, checking
what each flow does and saving a screenshot of every screen.

Run under a display (the tests start Xvfb): ``python -m tests.tablet.ui_driver
--out DIR``. Exits 0 when every step passed; otherwise prints the failing step
and exits 1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from devkit.touch import Driver, check
from tablet.library import Library
from tablet.player import Player
from tablet.ui.app import TabletApp  # before Kivy's window: it configures it
from tablet.ui.context import DeviceStatus, LockView, TabletContext
from tablet.ui.playback import Playback
from tests.tablet.ui_sample import (
    GRIEVANCE_RECEIPT,
    MEDICAL_RECEIPT,
    RESIDENT,
    SERIAL,
    TERMS,
    filled_store,
    with_what_is_owed,
)

QUIET = ("--aout=dummy", "--vout=dummy", "--quiet")  # real libvlc, no sound or window
OPEN = LockView("open", True, "You can read, play and write. Dock within 11 days to keep "
                "writing.")
LOCKED = LockView("locked", False, "Locked for writing: this tablet has not been docked for "
                  "15 days. You can still read and play everything on it. Dock it at your "
                  "unit's kiosk to unlock.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="where screenshots go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tablet-ui-"))
    try:
        return _run(args.out, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(out: Path, work: Path) -> int:
    from kivy.core.window import Window

    store = with_what_is_owed(filled_store(work / "content"))
    library = Library(store, resident=RESIDENT)
    lock = {"view": OPEN}
    player = Player(QUIET)
    playback = Playback(player, library)
    context = TabletContext(
        library=library,
        status=lambda: DeviceStatus(SERIAL, 76, 4_300_000, 11_800_000_000, 1795400000),
        lock=lambda: lock["view"], player=playback)
    app = TabletApp(context)
    driver = Driver(app, out)
    screen, tap, button, shot, step = (driver.screen, driver.tap, driver.button, driver.shot,
                                       driver.step)

    @step("home lists both conversations, newest first")
    def _() -> None:
        names = [w.name for w in screen().ids.conversations.children[::-1]]
        check(names == ["Rosa Webb", "Legal mail · Dana Ortiz", "Jim Porter"],
              f"conversations {names}")
        shot("home")

    @step("a conversation opens with its messages and photo")
    def _() -> None:
        tap(screen().ids.conversations.children[-1])

    @step("the conversation shows three messages")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        check(len(screen().ids.messages.children) == 3, "three messages")
        shot("conversation")
        tap(button("View photo"))

    @step("the photo viewer shows the photo")
    def _() -> None:
        check(screen().name == "photo", f"on {screen().name}")
        check(screen().texture is not None and screen().texture.size == (480, 360),
              f"the photo decoded from the sealed store: {screen().texture}")
        shot("photo")
        tap(button("< Back"))

    @step("reply: the on-screen keyboard types, the cost shows")
    def _() -> None:
        tap(button("Write a reply"))

    @step("typing a reply")
    def _() -> None:
        check(screen().name == "compose", screen().name)
        driver.type_text(["Shift", "H", "i", "space", "m", "o", "m"])

    @step("the reply is saved for the next dock")
    def _() -> None:
        check(screen().ids.text.text == "Hi mom", repr(screen().ids.text.text))
        check("Costs 1 stamp" in screen().cost_text, screen().cost_text)
        shot("compose")
        tap(button("Save for the next dock"))

    @step("the conversation shows the reply waiting")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        check(store.outbox_count() == 1, "one draft in the outbox")
        bubble = screen().ids.messages.children[0]
        check("Waiting for the next dock" in bubble.detail, bubble.detail)
        tap(button("< Back"))

    @step("music and video lists the album and tracks")
    def _() -> None:
        tap(button("Music & video"))

    @step("the media screen")
    def _() -> None:
        check(screen().name == "media", screen().name)
        rows = [w for w in screen().ids.entries.children if hasattr(w, "detail")]
        titles = [w.title for w in rows[::-1]]
        check(titles[0] == "North Windows" and "Sunday Light" in titles, f"{titles}")
        waiting = next(w for w in rows if w.title == "Sunday Light")
        check(waiting.disabled and "next dock" in waiting.detail, "not yet here")
        shot("media")
        tap(rows[-1])  # the album

    @step("the album plays in the player")
    def _() -> None:
        check(screen().name == "player", screen().name)
        playlist = player.playlist
        check(playlist is not None and [t.item_id for t in playlist.tracks]
              == ["track-north-1", "track-north-2"], str(playlist))
        player.pause()  # held still for the screenshot
        screen().look()
        check(screen().track_title == "First Snow", screen().track_title)
        shot("player")
        tap(button("Next"))
        tap(button("Pause"))

    @step("next and pause reach the player")
    def _() -> None:
        check(player.index == 1, f"playing track {player.index}")
        check(str(player.state) == "paused", str(player.state))
        check(screen().track_title == "Paper Boats", screen().track_title)
        app.go("status")

    @step("this tablet: battery, storage, last dock, lock")
    def _() -> None:
        check("76%" in screen().battery and "free" in screen().storage, screen().battery)
        shot("status")
        lock["view"] = LOCKED
        app.go("status")

    @step("a locked tablet says why, in plain words")
    def _() -> None:
        check(screen().lock_title == "Writing: locked", screen().lock_title)
        shot("status-locked")
        app.go("home")

    @step("locked: reading still works, writing does not")
    def _() -> None:
        check("Locked for writing" in screen().lock_line, screen().lock_line)
        shot("home-locked")
        tap(screen().ids.conversations.children[-1])

    @step("the reply button is off while locked")
    def _() -> None:
        check(button("Write a reply").disabled, "reply disabled")
        shot("conversation-locked")
        lock["view"] = OPEN
        app.go("home")

    @step("requests: the receipt numbers and status a dock brought back")
    def _() -> None:
        tap(button("Requests"))

    @step("the requests screen")
    def _() -> None:
        check(screen().name == "requests", screen().name)
        cards = {w.title: w.text for w in screen().ids.requests.children}
        medical = cards.get(f"Medical request · {MEDICAL_RECEIPT}", "")
        check("Received" in medical and "three days" in medical, f"{cards}")
        check("Answered by staff" in cards.get(f"Grievance · {GRIEVANCE_RECEIPT}", ""),
              f"{cards}")
        shot("requests")
        tap(button("PREA report"))

    @step("a PREA report written offline, on the on-screen keyboard")
    def _() -> None:
        check(screen().name == "request" and screen().title == "PREA report", screen().title)
        driver.type_text(["Shift", "H", "e", "l", "p"])

    @step("saved for the next dock")
    def _() -> None:
        shot("request")
        tap(button("Save for the next dock"))

    @step("it waits for the next dock, in the list")
    def _() -> None:
        check(screen().name == "requests", screen().name)
        check(store.outbox_count() == 2, "the reply and the report wait for a dock")
        cards = {w.title: w.text for w in screen().ids.requests.children}
        check("Waiting for the next dock" in cards.get("PREA report", ""), f"{cards}")
        app.go("home")

    @step("legal mail is marked as legal mail")
    def _() -> None:
        rows = screen().ids.conversations.children
        tap(next(r for r in rows if r.name.startswith("Legal mail")))

    @step("in its conversation too")
    def _() -> None:
        check(screen().title == "Legal mail · Dana Ortiz", screen().title)
        bubble = screen().ids.messages.children[0]
        check("Legal mail: sealed" in bubble.detail and "From Dana Ortiz" in bubble.detail,
              bubble.detail)
        shot("conversation-legal")
        app.go("status")

    @step("the terms accepted at the kiosk, readable on the tablet")
    def _() -> None:
        tap(button("Read the terms you accepted"))

    @step("word for word")
    def _() -> None:
        check(screen().name == "terms" and screen().text == TERMS, screen().text[:80])
        shot("terms")

    Window.clearcolor = (1, 1, 1, 1)
    try:
        return driver.run()
    finally:
        player.close()
        store.close()


if __name__ == "__main__":
    sys.exit(main())
