"""Essential requests on the tablet: the resident's requests with their
receipt numbers, status and deadlines once a dock brought them back, and a
way to write a new one offline (medical, grievance, PREA report, legal,
records): it is signed by the tablet and goes up at the next dock."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from tablet.library import MAX_DRAFT_CHARS, REQUEST_TYPES, Request
from tablet.ui.context import when
from tablet.ui.widgets import make

STATUS = {"waiting": "Waiting for the next dock", "handed": "Handed to the kiosk, on its way",
          "filed": "Received: staff will answer", "answered": "Answered by staff",
          "escalated": "Past its deadline: escalated", "resolved": "Resolved"}


def describe(r: Request) -> tuple[str, str]:
    """A request's title and text, as its row shows them."""
    title = r.name + (f" · {r.receipt}" if r.receipt else "")
    lines = [STATUS.get(r.status, r.status)]
    if r.due_at:
        lines.append(f"Answer due by {when(r.due_at)}")
    if r.text:
        lines.append(r.text[:160])
    elif r.type == "prea" and r.status != "waiting":
        lines.append("Its words are not shown.")
    return title, "\n".join(lines)


class RequestsScreen(Screen):
    lock_text = StringProperty("")
    can_write = BooleanProperty(True)

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        context = App.get_running_app().context
        lock = context.lock()
        self.can_write = lock.can_compose
        self.lock_text = "" if lock.can_compose else lock.explanation
        box = self.ids.requests
        box.clear_widgets()
        requests = context.library.requests()
        if not requests:
            box.add_widget(make("Body", text="No requests yet. Write one below; it goes to "
                                             "staff the next time you dock."))
        for r in requests:
            title, text = describe(r)
            box.add_widget(make("RequestCard", title=title, text=text))

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
        self.title = REQUEST_TYPES.get(self.type_, self.type_)
        self.update_note()

    def update_note(self) -> None:
        left = MAX_DRAFT_CHARS - len(self.ids.text.text)
        self.note = ("Free. It goes to staff the next time you dock, and its receipt "
                     f"number shows here after that.  ({left} characters left)")

    def save(self) -> None:
        app = App.get_running_app()
        if not app.context.lock().can_compose:
            self.problem = app.context.lock().explanation
            return
        try:
            app.context.library.write_request(self.type_, self.ids.text.text)
        except ValueError as e:
            self.problem = str(e).capitalize() + "."
            return
        self.ids.text.text = ""
        app.go("requests")
