"""Drive the tablet's app with simulated touches, screen by screen, checking
what each flow does and saving a screenshot of every screen; every screen
saved is measured for contrast and touch-target size in the normal and the
high-contrast theme (devkit/accessibility.py), and the measures are written
to ``accessibility.json`` beside the screenshots.

Run under a display (the tests start Xvfb): ``python -m tests.tablet.ui_driver
--out DIR``. Exits 0 when every step passed; otherwise prints the failing step
and exits 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from central.rejections import REASONS
from device_security.at_rest import Sealer
from devkit.accessibility import TABLET, Audit
from devkit.touch import Driver, check, wait_for
from tablet.library import Library
from tablet.lock import MESSAGES
from tablet.player import Player
from tablet.settings import Settings, SettingsFile
from tablet.speech import Speaker
from tablet.ui.app import TabletApp  # before Kivy's window: it configures it
from tablet.ui.context import DeviceStatus, LockView, TabletContext
from tablet.ui.playback import Playback
from tests.tablet.ui_sample import (
    GRIEVANCE_RECEIPT,
    MEDICAL_RECEIPT,
    RESIDENT,
    SERIAL,
    TERMS,
    WITHHELD_REASON,
    filled_store,
    with_what_is_owed,
)

QUIET = ("--aout=dummy", "--vout=dummy", "--quiet")  # real libvlc, no sound or window
OPEN = LockView("open", True, MESSAGES["open"].format(days=11), MESSAGES["open"], 11)
LOCKED = LockView("locked", False, MESSAGES["locked"].format(days=15), MESSAGES["locked"], 15)


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
    # Speech goes into a pipe this script reads only after it has stopped it:
    # espeak-ng fills the pipe and waits, as it would for a sound card, so it
    # is still speaking when Stop is touched.
    heard, speech_out = os.pipe()
    os.set_blocking(heard, False)
    speaker = Speaker(stream=speech_out)
    settings = SettingsFile(work / "settings.json", Sealer(os.urandom(32)))
    context = TabletContext(
        library=library,
        status=lambda: DeviceStatus(SERIAL, 76, 4_300_000, 11_800_000_000, 1795400000),
        lock=lambda: lock["view"], player=playback, speaker=speaker, settings=settings)
    app = TabletApp(context)
    audit = Audit.of(TABLET, app)
    driver = Driver(app, out, audit=audit)
    screen, tap, button, shot, step = (driver.screen, driver.tap, driver.button, driver.shot,
                                       driver.step)

    def spoken_by(pid: int | None) -> list[str]:
        """The command line of the speaking process, read from the kernel."""
        check(pid is not None, "something is being read aloud")
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")

    def drained() -> bytes:
        data = b""
        while True:
            try:
                chunk = os.read(heard, 65536)
            except BlockingIOError:
                return data
            if not chunk:
                return data
            data += chunk

    @step("home lists both conversations, newest first")
    def _() -> None:
        names = [w.name for w in screen().ids.conversations.children[::-1]]
        check(names == ["Rosa Webb", "Legal mail · Dana Ortiz", "Jim Porter"],
              f"conversations {names}")
        shot("home")

    @step("a conversation opens with its messages and photo")
    def _() -> None:
        tap(screen().ids.conversations.children[-1])

    @step("the conversation shows four messages")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        check(len(screen().ids.messages.children) == 4, "four messages")
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
        app.go("conversation")

    @step("a videogram its sender captioned plays with its captions under it")
    def _() -> None:
        tap(button("Play videogram"))

    @step("the first caption shows while the videogram starts", timeout_s=30)
    def _() -> None:
        check(screen().name == "player", screen().name)
        check(screen().has_captions, "the captions' place is shown")
        wait_for(player.position() > 0.3, "the videogram playing")
        screen().look()
        check(screen().caption == "Hi Marcus! This is the garden in June.",
              repr(screen().caption))
        player.pause()
        shot("player-captions")
        player.seek(4.0)

    @step("the next caption follows the time played", timeout_s=30)
    def _() -> None:
        screen().look()
        wait_for(screen().caption == "We planted the tomatoes you like.",
                 repr(screen().caption))
        app.go("home")

    @step("read aloud: the screen's button starts espeak-ng")
    def _() -> None:
        tap(button("Read aloud"))

    @step("it reads the menu in English, in a process of its own, and the button says Stop")
    def _() -> None:
        check(app.speaking == "screen", repr(app.speaking))
        command = spoken_by(speaker.pid)
        check(Path(command[0]).name == "espeak-ng" and "en-us" in command, str(command))
        check(button("Stop") is not None, "Stop")
        tap(button("Stop"))

    @step("Stop ends the speaking process; it had made sound")
    def _() -> None:
        check(not speaker.speaking and speaker.pid is None, "still speaking")
        check(app.speaking == "", repr(app.speaking))
        check(button("Read aloud") is not None, "the button reads Read aloud again")
        check(drained().startswith(b"RIFF"), "espeak-ng's WAV")
        app.go("status")

    @step("the tablet in Spanish, chosen on This tablet")
    def _() -> None:
        tap(button("Español"))

    @step("every screen speaks Spanish, and the choice is remembered on the device")
    def _() -> None:
        check(screen().ids is not None and app.lang == "es", app.lang)
        check(screen().lock_title == "Escritura: activada", screen().lock_title)
        check(settings.load(RESIDENT).language == "es", str(settings.load(RESIDENT)))
        shot("status-es")
        app.go("home")

    @step("home in Spanish")
    def _() -> None:
        check("Batería 76%" in screen().status_line, screen().status_line)
        shot("home-es")
        tap(screen().ids.conversations.children[-1])

    @step("a message read aloud in Spanish's voice")
    def _() -> None:
        shot("conversation-es")
        bubble = screen().ids.messages.children[-1]
        tap(driver.find(lambda w: getattr(w, "text", "") == "Escuchar", bubble))

    @step("its button says Parar, and espeak-ng speaks with the Spanish voice")
    def _() -> None:
        command = spoken_by(speaker.pid)
        check("es-419" in command, str(command))
        check(app.speaking == "m-rosa-1", repr(app.speaking))
        tap(button("Parar"))

    @step("stopped")
    def _() -> None:
        check(not speaker.speaking, "still speaking")
        drained()
        app.set_language("en")
        app.go("status")

    @step("larger text, chosen on This tablet")
    def _() -> None:
        tap(button("Larger text: off"))

    @step("larger text on every screen")
    def _() -> None:
        check(app.large_text and app.style.scale > 1, str(app.style.scale))
        shot("status-large-text")
        app.go("home")

    @step("home in larger text")
    def _() -> None:
        shot("home-large-text")
        tap(screen().ids.conversations.children[-1])

    @step("a conversation in larger text")
    def _() -> None:
        shot("conversation-large-text")
        app.go("status")

    @step("high contrast, chosen on This tablet")
    def _() -> None:
        tap(button("High contrast: off"))

    @step("high contrast on every screen, remembered with larger text, sealed")
    def _() -> None:
        check(app.contrast, "contrast")
        check(settings.load(RESIDENT) == Settings("en", True, True, RESIDENT),
              str(settings.load(RESIDENT)))
        shot("status-high-contrast")
        app.go("home")

    @step("home in high contrast")
    def _() -> None:
        shot("home-high-contrast")
        tap(screen().ids.conversations.children[-1])

    @step("a conversation in high contrast")
    def _() -> None:
        shot("conversation-high-contrast")
        tap(button("Write a reply"))

    @step("writing in high contrast")
    def _() -> None:
        shot("compose-high-contrast")
        app.go("media")

    @step("music in high contrast")
    def _() -> None:
        shot("media-high-contrast")
        app.go("player")

    @step("the player in high contrast")
    def _() -> None:
        shot("player-high-contrast")
        app.set_look(contrast=False, large_text=False)
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

    @step("a message with a photo withheld by staff")
    def _() -> None:
        rows = screen().ids.conversations.children
        tap(next(r for r in rows if r.name == "Jim Porter"))

    @step("says which photo was withheld, and why, in its place")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        bubble = screen().ids.messages.children[-1]  # the oldest, at the top
        parts = bubble.ids.parts.children[::-1]
        words = f"Photo 2 was withheld: {REASONS[WITHHELD_REASON].en}"
        check([getattr(p, "text", "") for p in parts] == ["View photo", words],
              str([getattr(p, "text", "") for p in parts]))
        check(words in bubble.spoken, bubble.spoken)
        shot("conversation-withheld")
        app.set_language("es")

    @step("and in Spanish, with the reason the server gave in Spanish")
    def _() -> None:  # the screen was made again in Spanish when the language changed
        bubble = screen().ids.messages.children[-1]
        words = f"El personal retuvo la foto 2: {REASONS[WITHHELD_REASON].es}"
        check(words in [getattr(p, "text", "") for p in bubble.ids.parts.children],
              str([getattr(p, "text", "") for p in bubble.ids.parts.children]))
        shot("conversation-withheld-es")
        app.set_language("en")
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
        context.speaker = Speaker("/nonexistent/espeak-ng")
        app.go("home")

    @step("without espeak-ng, Read aloud says so and the tablet goes on")
    def _() -> None:
        tap(button("Read aloud"))

    @step("the missing voice program is said on the screen")
    def _() -> None:
        check("not available" in app.speech_problem, app.speech_problem)
        check(app.speaking == "", repr(app.speaking))
        check(screen().name == "home", screen().name)

    @step("the measure finds a text too faint and a button too small when there is one")
    def _() -> None:
        from tablet.ui.widgets import make

        probe = Audit.of(TABLET, app)
        faint = make("Body", text="faint words")
        small = make("BigButton", text="tiny", size_hint=(None, None))
        faint.color = (0.75, 0.75, 0.75, 1)  # after the style's rule has set its own
        small.size = (40, 40)
        box = screen().children[0]  # the screen's column: above its buttons
        box.add_widget(faint, index=1)
        box.add_widget(small, index=1)
        try:
            probe.measure("probe", driver.settle)
        finally:
            box.remove_widget(faint)
            box.remove_widget(small)
        found = {(f.check, f.widget.split(" ")[0], f.theme) for f in probe.findings}
        check(("contrast", "Body", "normal") in found, str(probe.findings))
        check(("target", "BigButton", "normal") in found, str(probe.findings))
        check(("target", "BigButton", "high contrast") in found, str(probe.findings))

    Window.clearcolor = (1, 1, 1, 1)
    try:
        return driver.run()
    finally:
        audit.write(out / "accessibility.json")
        speaker.stop()
        os.close(heard)
        os.close(speech_out)
        player.close()
        store.close()


if __name__ == "__main__":
    sys.exit(main())
