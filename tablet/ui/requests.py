"""Essential requests on the tablet: the resident's requests with their
receipt numbers, status and deadlines once a dock brought them back, and a
way to write a new one offline (medical, grievance, PREA report, legal,
records): it is signed by the tablet and goes up at the next dock."""

from __future__ import annotations

from collections.abc import Callable

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from tablet.i18n import N_
from tablet.library import MAX_DRAFT_CHARS, Request
from tablet.ui.widgets import clear, lock_text, make

# Each type's name as the resident reads it (tablet/library.py's REQUEST_TYPES).
NAMES = {"medical": N_("Medical request"), "grievance": N_("Grievance"),
         "prea": N_("PREA report"), "legal": N_("Legal request"),
         "records": N_("Records request")}
STATUS = {"waiting": N_("Waiting for the next dock"),
          "handed": N_("Handed to the kiosk, on its way"),
          "filed": N_("Received: staff will answer"), "answered": N_("Answered by staff"),
          "escalated": N_("Past its deadline: escalated"), "resolved": N_("Resolved")}
# What Library.write_request raises, as the resident reads it.
PROBLEMS = {"write something first": N_("Write something first."),
            f"a request is at most {MAX_DRAFT_CHARS} characters":
                N_("A request is at most {n} characters."),
            "dock this tablet at your unit's kiosk once before writing":
                N_("Dock this tablet at your unit's kiosk once before writing.")}


def name_of(type_: str, t: Callable[..., str]) -> str:
    return t(NAMES[type_]) if type_ in NAMES else type_


def describe(r: Request, t: Callable[..., str], when: Callable[[int | None], str]
             ) -> tuple[str, str]:
    """A request's title and text, as its row shows them."""
    name = name_of(r.type, t)
    title = f"{name} · {r.receipt}" if r.receipt else name
    lines = [t(STATUS[r.status]) if r.status in STATUS else r.status]
    if r.due_at:
        lines.append(t("Answer due by {when}", when=when(r.due_at)))
    if r.text:
        lines.append(r.text[:160])
    elif r.type == "prea" and r.status != "waiting":
        lines.append(t("Its words are not shown."))
    return title, "\n".join(lines)


class RequestsScreen(Screen):
    lock_text = StringProperty("")
    can_write = BooleanProperty(True)

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        app = App.get_running_app()
        t, context = app.t, app.context
        lock = context.lock()
        self.can_write = lock.can_compose
        self.lock_text = "" if lock.can_compose else lock_text(lock, t)
        box = self.ids.requests
        clear(box)
        requests = context.library.requests()
        if not requests:
            box.add_widget(make("Body", text=t("No requests yet. Write one below; it goes to "
                                               "staff the next time you dock.")))
        for r in requests:
            title, text = describe(r, t, app.when)
            box.add_widget(make("RequestCard", title=title, text=text))

    def spoken(self) -> str:
        """The screen read aloud: its title, the lock, each request, and the buttons."""
        t = App.get_running_app().t
        lines = [t("Requests"), self.lock_text]
        for w in self.ids.requests.children[::-1]:
            lines.append(f"{w.title}. {w.text}" if hasattr(w, "title") else w.text)
        if self.can_write:
            lines.append(t("Buttons: {names}", names=", ".join(t(n) for n in NAMES.values())))
        return "\n".join(line for line in lines if line)

    def write(self, type_: str) -> None:
        app = App.get_running_app()
        app.root.get_screen("request").type_ = type_
        app.go("request")


class RequestScreen(Screen):
    """Writing one request, offline, on the on-screen keyboard."""

    type_ = StringProperty("medical")
    title = StringProperty("")
    note = StringProperty("")
    problem = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.ids.text.text = ""
        self.problem = ""
        self.title = name_of(self.type_, App.get_running_app().t)
        self.update_note()

    def update_note(self) -> None:
        left = MAX_DRAFT_CHARS - len(self.ids.text.text)
        self.note = App.get_running_app().t(
            "Free. It goes to staff the next time you dock, and its receipt number shows "
            "here after that.  ({left} characters left)", left=left)

    def spoken(self) -> str:
        """The screen read aloud: which request, what is typed so far, the note."""
        t = App.get_running_app().t
        return "\n".join(line for line in (
            self.title, self.ids.text.text, self.note, self.problem,
            t("Button: {name}", name=t("Save for the next dock"))) if line)

    def save(self) -> None:
        app = App.get_running_app()
        lock = app.context.lock()
        if not lock.can_compose:
            self.problem = lock_text(lock, app.t)
            return
        try:
            app.context.library.write_request(self.type_, self.ids.text.text)
        except ValueError as e:
            said = PROBLEMS.get(str(e))
            self.problem = app.t(said, n=MAX_DRAFT_CHARS) if said is not None \
                else str(e).capitalize() + "."
            return
        self.ids.text.text = ""
        app.go("requests")
