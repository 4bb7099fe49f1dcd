"""The kiosk's app: a thin Kivy ``App`` over the kiosk's service.

The service (kiosk/service.py, no Kivy) does the work on its own threads:
rounds with the central server, the dock, the resident's calls. Its events
reach the screens only through Kivy's ``Clock``; a call that waits on the
network runs on the app's one worker thread (:meth:`KioskApp.task`) and its
answer comes back the same way. The app holds what every screen shares:
who is logged in, the language, the look, whether the server answers, and
the inactivity timer that logs a resident out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kivy.config import Config

import kiosk.ui  # noqa: F401 - Kivy's environment, before Kivy is imported
from kiosk.events import CentralChanged, Event
from kiosk.i18n import Translator
from kiosk.records import Contact, Home
from kiosk.residents import Resident
from kiosk.service import KioskService

SIZE = (1280, 800)
HERE = Path(__file__).parent
LOGGED_OUT_SCREENS = ("attract", "login", "maintenance")
INACTIVITY_S = 120.0
TERMS_LIMIT_S = 15 * 60
WARNING_S = 30.0

log = logging.getLogger(__name__)


def configure_window(kiosk_mode: bool) -> None:
    """Before the window opens: its size, touch only, no way out by keys."""
    Config.set("graphics", "width", str(SIZE[0]))
    Config.set("graphics", "height", str(SIZE[1]))
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")
    if kiosk_mode:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")


configure_window(kiosk_mode=False)

from kivy.app import App  # noqa: E402 - after the window's configuration
from kivy.clock import Clock  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.properties import (  # noqa: E402
    BooleanProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from kiosk.ui.style import Style  # noqa: E402


class EventRelay:
    """The service's ``emit``: events from its threads, passed to the app once
    it runs (until then they are kept)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Callable[[Event], None] | None = None
        self._early: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            target = self._target
            if target is None:
                self._early.append(event)
                return
        target(event)

    def attach(self, target: Callable[[Event], None]) -> None:
        with self._lock:
            self._target, early, self._early = target, self._early, []
        for event in early:
            target(event)


@dataclass
class Shared:
    """What the screens share for the resident logged in (forgotten at logout)."""

    stamps: int | None = None
    prepaid_cents: int | None = None
    trust_cents: int | None = None
    contacts: tuple[Contact, ...] | None = None  # None: not read yet

    def balances(self, home: Home) -> None:
        self.stamps, self.prepaid_cents, self.trust_cents = (home.stamps, home.prepaid_cents,
                                                             home.trust_cents)


def screen_classes() -> dict[str, Any]:
    from kiosk.ui.account import AccountScreen
    from kiosk.ui.attract import AttractScreen
    from kiosk.ui.compose import ComposeScreen
    from kiosk.ui.conversation import ConversationScreen
    from kiosk.ui.dock import DockScreen
    from kiosk.ui.help import HelpScreen
    from kiosk.ui.home import HomeScreen
    from kiosk.ui.inbox import InboxScreen
    from kiosk.ui.login import LoginScreen
    from kiosk.ui.maintenance import MaintenanceScreen
    from kiosk.ui.pin import PinScreen
    from kiosk.ui.requests import RequestsScreen
    from kiosk.ui.store import StoreScreen
    from kiosk.ui.terms import TermsScreen
    from kiosk.ui.viewer import ViewerScreen

    return {"attract": AttractScreen, "login": LoginScreen, "pin": PinScreen,
            "terms": TermsScreen, "home": HomeScreen, "inbox": InboxScreen,
            "conversation": ConversationScreen, "viewer": ViewerScreen,
            "compose": ComposeScreen, "store": StoreScreen, "account": AccountScreen,
            "dock": DockScreen, "help": HelpScreen, "requests": RequestsScreen,
            "maintenance": MaintenanceScreen}


def load_kv() -> None:
    from kiosk.ui import widgets  # noqa: F401 - the classes theme.kv styles

    for path in [HERE / "theme.kv", *sorted(p for p in HERE.glob("*.kv")
                                            if p.name != "theme.kv")]:
        if str(path) not in Builder.files:
            Builder.load_file(str(path))


class KioskApp(App):
    """``service`` is a started :class:`kiosk.service.KioskService`, the one
    facade every screen calls; ``relay`` the :class:`EventRelay` it emits into."""

    title = "Sallyport kiosk"
    lang = StringProperty("en")
    style = ObjectProperty(None)
    online = BooleanProperty(True)
    logged_in = BooleanProperty(False)
    countdown_text = StringProperty("")
    contrast = BooleanProperty(False)
    large_text = BooleanProperty(False)

    def __init__(self, service: KioskService, relay: EventRelay, *, kiosk_mode: bool = False,
                 inactivity_s: float = INACTIVITY_S, warning_s: float = WARNING_S,
                 video_options: tuple[str, ...] = (),
                 on_alive: Callable[[], None] | None = None, **kw: Any) -> None:
        self.style = Style()
        super().__init__(**kw)
        self.service = service
        self.relay = relay
        self.kiosk_mode = kiosk_mode
        self.inactivity_s = inactivity_s
        self.warning_s = warning_s
        self.video_options = video_options  # libvlc's, for videograms (say, --aout=dummy)
        self.on_alive = on_alive  # called every second from the screen's clock (the watchdog)
        self.translator = Translator()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-task")
        self.last_touch = time.monotonic()
        self.listeners: list[Callable[[Event], None]] = []
        self.first_pin = ""  # the one-time PIN, until the resident has chosen their own
        self.screen_data = Shared()  # what screens share for one resident
        self.session = 0  # one more at each logout (see task)

    # -- life ----------------------------------------------------------------------

    def build(self) -> ScreenManager:
        from kivy.core.window import Window

        Window.size = SIZE
        if self.kiosk_mode:
            Window.bind(on_request_close=lambda *_, **__: True)  # no way out but the service
        Window.bind(on_touch_down=self._touched)
        load_kv()
        manager = ScreenManager(transition=NoTransition())
        for name, cls in screen_classes().items():
            manager.add_widget(cls(name=name))
        self.relay.attach(lambda event: Clock.schedule_once(partial(self._event, event)))
        Clock.schedule_interval(lambda _: self._tick(), 1.0)
        return manager

    def on_stop(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)
        self.root.get_screen("viewer").close()

    # -- what screens use ----------------------------------------------------------

    def t(self, text: str, _lang: str | None = None, /, **values: object) -> str:
        """``text`` in the language chosen (kv passes ``app.lang`` so that it follows)."""
        return self.translator(text, **values)

    def go(self, screen: str) -> None:
        """Show a screen; shown again, it reads what it shows again."""
        log.debug("screen %s -> %s", self.root.current, screen)
        if self.root.current == screen:
            self.root.current_screen.dispatch("on_pre_enter")
        else:
            self.root.current = screen

    def task(self, work: Callable[[], Any], done: Callable[[Any], None],
             failed: Callable[[BaseException], None] | None = None) -> None:
        """Run ``work`` on the worker thread; ``done`` (or ``failed``) runs on
        Kivy's clock with what it returned (or raised), unless the resident who
        asked has logged out since: one resident's answers never reach the
        next resident's screens."""
        session = self.session

        def answered(callback: Callable[[], None]) -> None:
            if self.session == session:
                callback()

        def finished(future: Future[Any]) -> None:
            error = future.exception()
            if error is None:
                Clock.schedule_once(lambda _: answered(lambda: done(future.result())))
            else:
                log.warning("a kiosk task failed: %r", error)
                Clock.schedule_once(lambda _: answered(
                    lambda: (failed or self._failed)(error)))
        self.worker.submit(work).add_done_callback(finished)

    def _failed(self, error: BaseException) -> None:
        log.error("unhandled kiosk task error: %r", error)

    def set_language(self, language: str) -> None:
        self.translator.use(language)
        self.lang = language
        self.go(self.root.current)  # screens built in Python read the new words

    def set_look(self, *, contrast: bool | None = None, large_text: bool | None = None) -> None:
        if contrast is not None:
            self.contrast = contrast
        if large_text is not None:
            self.large_text = large_text
        self.style.set(contrast=self.contrast, large=self.large_text)
        self.go(self.root.current)

    @property
    def resident(self) -> Resident | None:
        return self.service.resident

    def logged_in_as(self, resident: Resident | None) -> None:
        self.logged_in = resident is not None
        self.last_touch = time.monotonic()

    def logout(self) -> None:
        """Log the resident out (the server is told on the worker thread)."""
        self.logged_in = False
        self.countdown_text = ""
        self.first_pin = ""
        self.screen_data = Shared()
        self.session += 1  # answers still on their way for them are dropped
        gone = self.service.end_session()  # docking and calls are no longer theirs, now
        self.task(lambda: self.service.tell_server_logout(gone), lambda _: None)
        for screen in self.root.screens:
            reset = getattr(screen, "reset", None)
            if reset is not None:
                reset()  # nothing of theirs stays on a screen
        if self.lang != "en":
            self.set_language("en")  # the next resident starts in English
        self.go("attract")

    # -- events and time -----------------------------------------------------------

    def _event(self, event: Event, *_: object) -> None:
        if isinstance(event, CentralChanged):
            self.online = event.online
        for listener in list(self.listeners):
            listener(event)

    def _touched(self, *_: object) -> None:
        self.last_touch = time.monotonic()
        if self.countdown_text:
            self.countdown_text = ""

    def _tick(self) -> None:
        """Log out a resident who walked away (after a visible countdown). The
        terms are read without that timeout, but not forever: after
        TERMS_LIMIT_S untouched the kiosk logs out there too, so the next
        person cannot accept them in someone else's name. An open maintenance
        menu locks after the same time as a resident's session."""
        if self.on_alive is not None:
            self.on_alive()
        idle = time.monotonic() - self.last_touch
        if self.root.current == "maintenance" and idle > self.inactivity_s:
            maintenance = self.root.current_screen
            if maintenance.unlocked:
                log.info("the maintenance menu locked itself after %.0f s", idle)
                self.go("attract")  # leaving it locks it and signs staff out
            return
        if not self.logged_in or self.root.current == "terms":
            self.countdown_text = ""
            if self.logged_in and idle > TERMS_LIMIT_S:
                log.info("logged out on the terms screen after %.0f s without a touch", idle)
                self.logout()
            return
        left = self.inactivity_s - idle
        if left <= 0:
            log.info("logged out after %.0f s without a touch", idle)
            self.logout()
        elif left <= self.warning_s:
            self.countdown_text = self.t("Logging out in {seconds} s: touch to stay",
                                         seconds=int(left))
        else:
            self.countdown_text = ""
