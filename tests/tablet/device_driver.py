"""A resident at a tablet, by touch, on a real device directory: the tablet's
app (``sallyport tablet ui``'s context) over what the last dock left there.

``python -m tests.tablet.device_driver --device-dir DIR --contact NAME
--message TEXT --song TITLE --reply WORDS`` reads the conversation with NAME
and finds TEXT in it, views its photo, plays its videogram and the song
TITLE through real libvlc (dummy outputs), and writes WORDS (lowercase
letters and spaces) as a reply on the on-screen keyboard, offline. Run it
under a display. Exits 0 when every step passed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devkit.touch import Driver, check, wait_for
from tablet.device import TabletDirectory
from tablet.player import TABLET_OPTIONS, PlayerState
from tablet.ui.app import TabletApp  # before Kivy's window: it configures it
from tablet.ui.device_context import DeviceContext, device_context

SILENT = (*TABLET_OPTIONS, "--aout=dummy", "--vout=dummy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device-dir", type=Path, required=True)
    parser.add_argument("--contact", required=True)
    parser.add_argument("--message", required=True)
    parser.add_argument("--song", required=True)
    parser.add_argument("--reply", required=True)
    parser.add_argument("--out", type=Path, default=None, help="save screenshots here")
    args = parser.parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    context = device_context(TabletDirectory(args.device_dir), SILENT)
    try:
        return _run(context, args)
    finally:
        context.close()


def _run(context: DeviceContext, args: argparse.Namespace) -> int:
    app = TabletApp(context)
    driver = Driver(app, args.out)
    screen, tap, button, step = driver.screen, driver.tap, driver.button, driver.step
    player = context.media_player
    assert player is not None

    def playing_for(seconds: float) -> bool:
        return player.state is PlayerState.PLAYING and player.position() > seconds

    @step("home shows the conversation that came at the last dock")
    def _() -> None:
        rows = list(screen().ids.conversations.children[::-1])
        names = [w.name for w in rows]
        check(args.contact in names, f"conversations {names}")
        driver.shot("home")

    @step("open the conversation (its rows laid out on the frame before)")
    def _() -> None:
        rows = list(screen().ids.conversations.children[::-1])
        tap(next(w for w in rows if w.name == args.contact))

    @step("the message is there to read")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        texts = [b.text for b in screen().ids.messages.children]
        check(args.message in texts, f"messages {texts}")
        driver.shot("conversation")
        tap(button("View photo"))

    @step("its photo opens from the sealed store")
    def _() -> None:
        check(screen().name == "photo", screen().name)
        check(screen().texture is not None, f"no picture: {screen().problem}")
        tap(button("< Back"))

    @step("its videogram plays")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        tap(button("Play videogram"))

    @step("the videogram is playing")
    def _() -> None:
        check(screen().name == "player", screen().name)
        wait_for(playing_for(0.5), f"player {player.state} at {player.position():.1f} s")
        check(player.error is None, str(player.error))
        player.pause()
        app.go("media")

    @step("the purchased song plays")
    def _() -> None:
        rows = [w for w in screen().ids.entries.children if hasattr(w, "detail")]
        song = next(w for w in rows if w.title == args.song)
        check(not song.disabled, f"{args.song}: {song.detail}")
        tap(song)

    @step("the song is playing")
    def _() -> None:
        check(screen().name == "player", screen().name)
        wait_for(playing_for(0.5), f"player {player.state} at {player.position():.1f} s")
        check(screen().track_title == args.song, screen().track_title)
        driver.shot("player")
        player.stop()
        app.go("home")

    @step("back to the conversation to answer")
    def _() -> None:
        rows = list(screen().ids.conversations.children[::-1])
        tap(next(w for w in rows if w.name == args.contact))

    @step("write a reply")
    def _() -> None:
        tap(button("Write a reply"))

    @step("type it on the on-screen keyboard")
    def _() -> None:
        check(screen().name == "compose", screen().name)
        driver.type_text(args.reply)
        check(screen().ids.text.text == args.reply, repr(screen().ids.text.text))
        tap(button("Save for the next dock"))

    @step("the reply waits for the next dock")
    def _() -> None:
        check(screen().name == "conversation", screen().name)
        bubble = screen().ids.messages.children[0]
        check(bubble.text == args.reply and "Waiting for the next dock" in bubble.detail,
              f"{bubble.text!r}: {bubble.detail}")

    return driver.run()


if __name__ == "__main__":
    sys.exit(main())
