"""Driving a Kivy app with simulated touches, step by step, on Kivy's clock
(the demo's walkthrough and the screen tests use it).

A driver script makes a :class:`Driver` for its app, adds steps with
:meth:`Driver.step`, and calls :meth:`Driver.run`, which starts the app, runs
the steps in order (the first once the window's first layout is drawn, each
after the screen has had time to draw), prints
``ok`` or ``FAIL`` per step, and returns the exit status. A step that raises
:class:`NotYet` is tried again a little later, until its timeout: that is how
a step waits for something another thread does (a player starting, a dock).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Step = Callable[[], None]
DRAWN_WITHIN_S = 20.0  # the window's first layout, on a slow shared machine


class NotYet(Exception):
    """Raised by a step that should be tried again shortly."""


def check(condition: bool, what: str) -> None:
    assert condition, what


def wait_for(condition: bool, what: str) -> None:
    """In a step: try the step again later unless ``condition`` holds."""
    if not condition:
        raise NotYet(what)


class Driver:
    def __init__(self, app: Any, shots: Path | None = None, *, between_s: float = 0.3,
                 first_s: float = 1.5, audit: Any = None) -> None:
        self.app = app
        self.shots = shots
        self.audit = audit  # a devkit.accessibility.Audit: every screen saved is measured
        self.between_s = between_s
        self.first_s = first_s
        self.steps: list[tuple[str, Step, float]] = []
        self.failures: list[str] = []
        self._tapped = False  # in the step running now

    # -- what a step uses -------------------------------------------------------------

    def screen(self) -> Any:
        return self.app.root.current_screen

    def settle(self) -> None:
        """Bring texts and layouts changed in this frame up to date, so that a
        tap lands where the widget will be drawn and a screenshot shows it."""
        from kivy.lang import Builder
        from kivy.uix.label import Label
        from kivy.uix.layout import Layout

        Builder.sync()  # canvas instructions bound in .kv files follow at once
        for _ in range(3):
            for widget in self.app.root.walk():
                if isinstance(widget, Label):
                    widget.texture_update()
                elif isinstance(widget, Layout):
                    widget.do_layout()

    def tap(self, widget: Any) -> None:
        """Touch ``widget`` and lift. A screen manager takes no touch while it
        is changing screens (until its next frame): a step's first tap waits
        for that (the step is tried again); a later one would be lost, so it is
        an error in the script (split the step)."""
        from kivy.tests.common import UnitTestTouch

        transition = getattr(self.app.root, "transition", None)
        if transition is not None and transition.is_active:
            if not self._tapped:
                raise NotYet("the screen is still changing")
            raise AssertionError("a tap right after a screen change in the same step: "
                                 "split the step")
        self._tapped = True
        self.settle()
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def find(self, match: Callable[[Any], bool], root: Any = None) -> Any:
        for w in (root or self.screen()).walk():
            if match(w):
                return w
        raise AssertionError(f"nothing on {self.screen().name} matches")

    def button(self, text: str) -> Any:
        return self.find(lambda w: getattr(w, "text", None) == text
                         and hasattr(w, "trigger_action"))

    def type_text(self, keys: list[str] | str) -> None:
        """Tap the on-screen keyboard's keys by their labels (a space is the
        key "space", a new line "New line")."""
        for key in keys:
            self.tap(self.button({" ": "space", "\n": "New line"}.get(key, key)))

    def shot(self, name: str) -> None:
        """Save the screen as it is now: texts and layouts changed in this
        frame are brought up to date first. With an audit, the screen's
        contrast and touch targets are measured too."""
        if self.shots is not None:
            self.settle()
            self.app.root.export_to_png(str(self.shots / f"{name}.png"))
        if self.audit is not None:
            self.audit.measure(name, self.settle)

    # -- steps ----------------------------------------------------------------------

    def step(self, name: str, timeout_s: float = 20.0) -> Callable[[Step], Step]:
        def add(fn: Step) -> Step:
            self.steps.append((name, fn, timeout_s))
            return fn
        return add

    def run(self) -> int:
        """Start the app and run every step; 0 when all passed, else 1."""
        from kivy.clock import Clock

        def run_step(index: int, started: float) -> None:
            if index >= len(self.steps):
                self.app.stop()
                return
            name, fn, timeout = self.steps[index]
            self._tapped = False
            try:
                fn()
            except NotYet as e:
                if time.monotonic() - started < timeout:
                    Clock.schedule_once(lambda _: run_step(index, started), 0.2)
                    return
                self._fail(name, f"still waiting after {timeout:.0f} s: {e}")
                return
            except Exception:  # noqa: BLE001 - reported, then the app stops
                self._fail(name, traceback.format_exc())
                return
            print(f"ok    {name}", flush=True)
            Clock.schedule_once(lambda _: run_step(index + 1, time.monotonic()), self.between_s)

        def when_drawn(started: float, frames: int) -> None:
            # The first step (and its screenshot) waits for the window's
            # size to reach the screen and for two frames drawn after that:
            # a screen taken before then is nearly blank.
            if not self._drawn() and time.monotonic() - started < DRAWN_WITHIN_S:
                Clock.schedule_once(lambda _: when_drawn(started, 0), 0.1)
            elif frames < 2:
                Clock.schedule_once(lambda _: when_drawn(started, frames + 1), 0)
            else:
                run_step(0, time.monotonic())

        Clock.schedule_once(lambda _: when_drawn(time.monotonic(), 0), self.first_s)
        try:
            self.app.run()
        except Exception:  # noqa: BLE001 - the app could not start: say why
            print(f"FAIL  the app did not start\n{traceback.format_exc()}", flush=True)
            return 1
        return 1 if self.failures else 0

    def _drawn(self) -> bool:
        """Whether the window, the screen manager and the screen shown agree
        on the screen's size, and the screen's content has been laid out in it."""
        from kivy.core.window import Window

        root = self.app.root
        if root is None or tuple(root.size) != tuple(Window.size):
            return False
        screen = getattr(root, "current_screen", None)
        if screen is None:
            return True
        if tuple(screen.size) != tuple(root.size):
            return False
        return all(tuple(child.size) == tuple(screen.size) for child in screen.children
                   if tuple(child.size_hint) == (1, 1))

    def _fail(self, name: str, why: str) -> None:
        self.failures.append(name)
        print(f"FAIL  {name}\n{why}", flush=True)
        self.app.stop()
