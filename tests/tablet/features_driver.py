"""Drive the tablet's app while its docks switch a feature: the agency turns
music and video off, a dock brings the switch (the tablet's end of the dock's
firmware step writes it, as at a real dock), and the home screen drops its
Music & video button and says why, in English and in Spanish; the next dock
turns it on again and the button is back. Each state's screen is saved and
measured for contrast and touch targets in both themes.

Run under a display: ``python -m tests.tablet.features_driver --out DIR``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from devkit.accessibility import TABLET, Audit
from devkit.touch import Driver, check, wait_for
from firmware_images.dock import TabletDockFirmware, feature_enabled, read_features
from tablet.library import Library
from tablet.ui.app import TabletApp  # before Kivy's window: it configures it
from tablet.ui.context import DeviceStatus, TabletContext
from tests.firmware.world import TIME_KEY, Publisher, provision
from tests.tablet.ui_driver import OPEN
from tests.tablet.ui_sample import RESIDENT, SERIAL, filled_store

OFF = "The agency turned off music and video on tablets."
OFF_ES = "La agencia desactivó la música y el video en las tabletas."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="where screenshots go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tablet-features-"))
    try:
        return _run(args.out, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(out: Path, work: Path) -> int:
    features = work / "features.json"
    provision(work / "firmware", Publisher(work / "agency"))

    def dock(version: int, switches: dict[str, bool]) -> None:
        """The tablet's end of a dock's firmware step, taking the kiosk's switches."""
        end = TabletDockFirmware(work / "firmware", kiosk_key=TIME_KEY.public_key(),
                                 features_path=features)
        end.take_features(version, switches)
        end.close()

    store = filled_store(work / "content")
    context = TabletContext(
        library=Library(store, resident=RESIDENT),
        status=lambda: DeviceStatus(SERIAL, 76, 4_300_000, 11_800_000_000, 1795400000),
        lock=lambda: OPEN, features=lambda name: feature_enabled(features, name),
        version=lambda: read_features(features)[0])
    app = TabletApp(context)
    audit = Audit.of(TABLET, app)
    driver = Driver(app, out, audit=audit)
    screen, shot, step = driver.screen, driver.shot, driver.step

    def labels() -> list[str]:
        return [w.text for w in screen().ids.buttons.children[::-1]]

    @step("home: music and video on, as the factory left them")
    def _() -> None:
        check(labels() == ["Music & video", "Requests", "This tablet"], f"{labels()}")
        check(screen().switched_off == "", screen().switched_off)
        dock(1, {"media": False})

    @step("a dock brings the agency's switch: the button goes, and the screen says why")
    def _() -> None:
        wait_for(labels() == ["Requests", "This tablet"], f"{labels()}")
        check(screen().switched_off == OFF, screen().switched_off)
        check(OFF in screen().spoken() and "Music & video" not in screen().spoken(),
              screen().spoken())
        shot("home-feature-off")
        app.set_language("es")
        app.go("home")

    @step("in Spanish too")
    def _() -> None:
        wait_for(screen().switched_off == OFF_ES, screen().switched_off)
        check(len(labels()) == 2, f"{labels()}")
        shot("home-feature-off-es")
        app.set_language("en")
        app.go("home")
        dock(2, {"media": True})

    @step("the next dock turns it on again: the button is back, first")
    def _() -> None:
        wait_for(labels() == ["Music & video", "Requests", "This tablet"], f"{labels()}")
        check(screen().switched_off == "", screen().switched_off)
        shot("home-feature-on")
        dock(2, {"media": False})  # not newer than what it holds: not taken

    @step("an older or same switch version is not taken")
    def _() -> None:
        app.look()
        check(labels()[0] == "Music & video", f"{labels()}")

    try:
        return driver.run()
    finally:
        audit.write(out / "accessibility.json")


if __name__ == "__main__":
    sys.exit(main())
