"""Writing a reply, offline: it is saved, signed by the tablet, and goes out
at the next dock. The stamp cost is shown before it is saved."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from tablet.i18n import N_
from tablet.library import MAX_DRAFT_CHARS
from tablet.ui.widgets import lock_text

# What Library.write raises, as the resident reads it.
PROBLEMS = {"write something first": N_("Write something first."),
            f"a message is at most {MAX_DRAFT_CHARS} characters":
                N_("A message is at most {n} characters."),
            "dock this tablet at your unit's kiosk once before writing":
                N_("Dock this tablet at your unit's kiosk once before writing.")}


class ComposeScreen(Screen):
    contact_id = NumericProperty(0)
    contact_name = StringProperty("")
    cost_text = StringProperty("")
    problem = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.ids.text.text = ""
        self.problem = ""
        self.update_cost()

    def update_cost(self) -> None:
        app = App.get_running_app()
        cost = app.context.library.draft_cost(self.ids.text.text)
        left = MAX_DRAFT_CHARS - len(self.ids.text.text)
        if cost == 1:
            self.cost_text = app.t("Costs {n} stamp when it is sent. It goes out the next "
                                   "time you dock.  ({left} characters left)", n=cost, left=left)
        else:
            self.cost_text = app.t("Costs {n} stamps when it is sent. It goes out the next "
                                   "time you dock.  ({left} characters left)", n=cost, left=left)

    def spoken(self) -> str:
        """The screen read aloud: to whom, what is typed so far, and the cost."""
        t = App.get_running_app().t
        return "\n".join(line for line in (
            t("To {name}", name=self.contact_name), self.ids.text.text, self.cost_text,
            self.problem, t("Button: {name}", name=t("Save for the next dock"))) if line)

    def save(self) -> None:
        app = App.get_running_app()
        lock = app.context.lock()
        if not lock.can_compose:
            self.problem = lock_text(lock, app.t)
            return
        try:
            app.context.library.write(int(self.contact_id), self.ids.text.text)
        except ValueError as e:
            said = PROBLEMS.get(str(e))
            self.problem = app.t(said, n=MAX_DRAFT_CHARS) if said is not None \
                else str(e).capitalize() + "."
            return
        app.go("conversation")
