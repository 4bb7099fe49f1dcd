"""The harness panel: a small window to plug and unplug the simulated tablets,
open their touchscreens, cut the kiosk's network, pull its USB stick out and
put it back, and swipe a technician's badge, for a person trying the system
(``sallyport demo`` with a display, or ``sallyport sim panel``). It talks to
the harness over its control socket."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")

from kivy.config import Config

Config.set("graphics", "width", "560")
Config.set("graphics", "height", "420")

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.button import Button  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from simulators.control import ControlClient  # noqa: E402
from simulators.errors import SimError  # noqa: E402

BADGE = "B-TECH-01"  # the demo kiosk's technician badge


class Panel(App):
    title = "Sallyport: simulated hardware"

    def __init__(self, world: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.client = ControlClient.for_world(world)
        self.note = Label(text="", size_hint_y=None, height=40)

    def build(self) -> BoxLayout:
        self.root_box = BoxLayout(orientation="vertical", padding=10, spacing=8)
        self.refresh()
        Clock.schedule_interval(lambda _: self.refresh(), 1.5)
        return self.root_box

    def _do(self, op: str, **args: Any) -> None:
        try:
            self.client.call(op, **args)
            self.note.text = ""
        except SimError as e:
            self.note.text = str(e)[:90]
        self.refresh()

    def refresh(self) -> None:
        try:
            state = self.client.call("status")
        except SimError as e:
            self.note.text = f"the harness does not answer: {e}"[:90]
            return
        box = self.root_box
        box.clear_widgets()
        for name, tablet in sorted(state["tablets"].items()):
            row = BoxLayout(spacing=6, size_hint_y=None, height=56)
            plugged = tablet["port"] is not None
            row.add_widget(Label(text=f"{name}  {tablet['serial']}\n"
                                 + (f"in port {tablet['port']}" if plugged else "not plugged"),
                                 halign="left"))
            action = Button(text="Unplug" if plugged else "Plug in")
            action.bind(on_release=lambda _, n=name, p=plugged: self._do(
                "unplug" if p else "plug", tablet=n))
            screen = Button(text="Open its screen")
            screen.bind(on_release=lambda _, n=name: self._do("screen", tablet=n))
            row.add_widget(action)
            row.add_widget(screen)
            box.add_widget(row)
        network = state.get("network")
        if network:
            up = bool(network["up"])
            toggle = Button(text="Cut the kiosk's network" if up else "Restore the network",
                            size_hint_y=None, height=50)
            toggle.bind(on_release=lambda _: self._do("network", state="down" if up else "up"))
            box.add_widget(toggle)
        stick_in = state.get("usb_stick_in") is not False
        stick = Button(text="Pull the USB stick out" if stick_in else "Put the USB stick back",
                       size_hint_y=None, height=50)
        stick.bind(on_release=lambda _: self._do("stick", state="out" if stick_in else "in"))
        box.add_widget(stick)
        swipe = Button(text=f"Swipe the technician badge {BADGE}", size_hint_y=None, height=50)
        swipe.bind(on_release=lambda _: self._do("swipe", badge=BADGE))
        box.add_widget(swipe)
        box.add_widget(self.note)


def run(world: Path) -> int:
    Panel(world).run()
    return 0
