"""The tablet's app: a thin Kivy ``App`` over a :class:`TabletContext`.

Screens: home (conversations), conversation, photo, compose, media (music and
video), player (now playing), status (this tablet, and how it reads),
requests and request (essential requests, written offline) and terms (as
accepted at the kiosk). Each screen reads the context when it is shown. The
app holds what every screen shares: the language, the look (larger text, high
contrast), remembered on the device, and what is being read aloud.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kivy.config import Config

import tablet.ui  # noqa: F401 - Kivy's environment, before Kivy is imported

SIZE = (600, 1024)  # a 7-inch portrait screen, in pixels
SCREENS = ("home", "conversation", "photo", "compose", "media", "player", "status",
           "requests", "request", "terms")
# redrawn when a dock changed things
REDRAWN = ("home", "conversation", "media", "status", "requests", "terms")
LOOK_EVERY_S = 3.0
HERE = Path(__file__).parent
LOOK_SPEECH_S = 0.5  # how often the app looks whether reading aloud has finished

log = logging.getLogger(__name__)


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
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty  # noqa: E402
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from tablet.i18n import Translator  # noqa: E402
from tablet.settings import Settings  # noqa: E402
from tablet.speech import SpeechUnavailable  # noqa: E402
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
from tablet.ui.style import Style  # noqa: E402
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
    lang = StringProperty("en")
    style = ObjectProperty(None)
    large_text = BooleanProperty(False)
    contrast = BooleanProperty(False)
    speaking = StringProperty("")  # what is being read aloud: "screen", a message's uid, or ""
    speech_problem = StringProperty("")

    def __init__(self, context: TabletContext, **kw: Any) -> None:
        self.style = Style()
        super().__init__(**kw)
        self.context = context
        self.translator = Translator()
        self._seen: object = None
        self.settings = Settings()
        if context.settings is not None:
            self.settings = context.settings.load(context.library.owner)
        self._apply(self.settings)

    # -- language and look ------------------------------------------------------------

    def t(self, text: str, _lang: str | None = None, /, **values: object) -> str:
        """``text`` in the language chosen (kv passes ``app.lang`` so that it follows)."""
        return self.translator(text, **values)

    def feature(self, name: str) -> bool:
        """Whether the agency left the feature ``name`` on (at the last dock)."""
        return self.context.features is None or self.context.features(name)

    def when(self, at: int | None) -> str:
        return self.translator.when(at)

    def set_language(self, language: str) -> None:
        self._choose(self.settings.changed(language=language))

    def set_look(self, *, contrast: bool | None = None, large_text: bool | None = None) -> None:
        self._choose(self.settings.changed(
            contrast=self.contrast if contrast is None else contrast,
            large_text=self.large_text if large_text is None else large_text))

    def _choose(self, settings: Settings) -> None:
        """Show the tablet as ``settings`` say, and remember them on the device."""
        self.settings = settings.changed(owner=self.context.library.owner)
        self._apply(self.settings)
        if self.context.settings is not None:
            try:
                self.context.settings.save(self.settings)
            except OSError as e:
                log.warning("the tablet's settings could not be saved: %s", e)
        if self.root is not None:
            self.go(self.root.current)  # screens built in Python read the new words

    def _apply(self, settings: Settings) -> None:
        self.translator.use(settings.language)
        self.lang = settings.language
        self.contrast, self.large_text = settings.contrast, settings.large_text
        self.style.set(contrast=settings.contrast, large=settings.large_text)

    # -- reading aloud ----------------------------------------------------------------

    def read_screen(self) -> None:
        """Read the screen shown aloud (its title, its menu, what it lists), or
        stop reading it."""
        if self.speaking == "screen":
            self.stop_speaking()
            return
        spoken = getattr(self.root.current_screen, "spoken", None)
        self.read_aloud("screen", spoken() if spoken is not None else "")

    def read_aloud(self, what: str, text: str) -> None:
        """Start reading ``text`` aloud (``what`` names it, so that its button
        says Stop), or stop if it is being read now."""
        speaker = self.context.speaker
        if self.speaking == what or speaker is None:
            self.stop_speaking()
            if speaker is None:
                self.speech_problem = self.t("Reading aloud is not available on this tablet.")
            return
        try:
            speaker.say(text, self.lang)
        except SpeechUnavailable as e:
            log.warning("%s", e)
            self.speaking = ""
            self.speech_problem = self.t("Reading aloud is not available on this tablet: "
                                         "its voice program is missing.")
            return
        self.speech_problem = ""
        self.speaking = what

    def stop_speaking(self) -> None:
        if self.context.speaker is not None:
            self.context.speaker.stop()
        self.speaking = ""

    def _look_speech(self) -> None:
        speaker = self.context.speaker
        if self.speaking and (speaker is None or not speaker.speaking):
            self.speaking = ""

    def build(self) -> ScreenManager:
        from kivy.clock import Clock
        from kivy.core.window import Window

        Window.size = SIZE  # also when something opened the window before the app
        load_kv()
        manager = ScreenManager(transition=NoTransition())
        for name in SCREENS:
            manager.add_widget(_CLASSES[name](name=name))
        Clock.schedule_interval(lambda _: self._look_speech(), LOOK_SPEECH_S)
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

    def on_stop(self) -> None:
        self.stop_speaking()

    def go(self, screen: str) -> None:
        """Show a screen (it reads the context as it enters; shown again, it
        reads it again). What was being read aloud stops."""
        if self.speaking:
            self.stop_speaking()
        if self.root.current == screen:
            self.root.current_screen.dispatch("on_pre_enter")
        else:
            self.root.current = screen
