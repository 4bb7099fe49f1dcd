"""The tablet's app: a thin Kivy ``App`` over a :class:`TabletContext`.

Screens: home (conversations), conversation, photo, compose, media (music and
video), player (now playing), status (this tablet), requests and request
(essential requests, written offline) and terms (as accepted at the kiosk). The app holds no
state of its own; each screen reads the context when it is shown.
"""

from __future__ import annotations

from pathlib import Path

from kivy.config import Config

import tablet.ui  # noqa: F401 - Kivy's environment, before Kivy is imported

SIZE = (600, 1024)  # a 7-inch portrait screen, in pixels
SCREENS = ("home", "conversation", "photo", "compose", "media", "player", "status",
           "requests", "request", "terms")
# redrawn when a dock changed things
REDRAWN = ("home", "conversation", "media", "status", "requests", "terms")
LOOK_EVERY_S = 3.0
HERE = Path(__file__).parent


def configure_window(size: tuple[int, int] = SIZE) -> None:
    """Call before the app starts: the window's size, no resizing, no mouse
    right-click emulation (the tablet is touch only)."""
    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")


configure_window()

from kivy.app import App  # noqa: E402 - after the window's configuration
from kivy.lang import Builder  # noqa: E402
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from tablet.ui.compose import ComposeScreen  # noqa: E402
from tablet.ui.context import TabletContext  # noqa: E402
from tablet.ui.conversation import ConversationScreen  # noqa: E402
from tablet.ui.home import HomeScreen  # noqa: E402
from tablet.ui.keyboard import OnScreenKeyboard  # noqa: E402, F401 - used in compose.kv
from tablet.ui.media import MediaScreen  # noqa: E402
from tablet.ui.photo import PhotoScreen  # noqa: E402
from tablet.ui.player import PlayerScreen  # noqa: E402
from tablet.ui.requests import RequestScreen, RequestsScreen  # noqa: E402
from tablet.ui.status import StatusScreen  # noqa: E402
from tablet.ui.terms import TermsScreen  # noqa: E402

_CLASSES = {"home": HomeScreen, "conversation": ConversationScreen, "photo": PhotoScreen,
            "compose": ComposeScreen, "media": MediaScreen, "player": PlayerScreen,
            "status": StatusScreen, "requests": RequestsScreen, "request": RequestScreen,
            "terms": TermsScreen}


def load_kv() -> None:
    """Load the .kv files once per process."""
    for name in ("theme", "keyboard", *SCREENS):
        path = str(HERE / f"{name}.kv")
        if path not in Builder.files:
            Builder.load_file(path)


class TabletApp(App):
    title = "Sallyport tablet"

    def __init__(self, context: TabletContext, **kw: object) -> None:
        super().__init__(**kw)
        self.context = context
        self._seen: object = None

    def build(self) -> ScreenManager:
        from kivy.clock import Clock
        from kivy.core.window import Window

        Window.size = SIZE  # also when something opened the window before the app
        load_kv()
        manager = ScreenManager(transition=NoTransition())
        for name in SCREENS:
            manager.add_widget(_CLASSES[name](name=name))
        if self.context.version is not None:
            self._seen = self.context.version()
            Clock.schedule_interval(lambda _: self.look(), LOOK_EVERY_S)
        return manager

    def look(self) -> None:
        """Redraw the screen shown if a dock changed what it shows (never the
        compose screen: what the resident is typing stays as it is)."""
        version = self.context.version
        if version is None:
            return
        now = version()
        if now != self._seen:
            self._seen = now
            if self.root.current in REDRAWN:
                self.go(self.root.current)

    def go(self, screen: str) -> None:
        """Show a screen (it reads the context as it enters; shown again, it
        reads it again)."""
        if self.root.current == screen:
            self.root.current_screen.dispatch("on_pre_enter")
        else:
            self.root.current = screen
