"""Writing a reply, offline: it is saved, signed by the tablet, and goes out
at the next dock. The stamp cost is shown before it is saved."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from tablet.library import MAX_DRAFT_CHARS


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
        library = App.get_running_app().context.library
        cost = library.draft_cost(self.ids.text.text)
        left = MAX_DRAFT_CHARS - len(self.ids.text.text)
        self.cost_text = (f"Costs {cost} stamp{'' if cost == 1 else 's'} when it is sent. "
                          f"It goes out the next time you dock.  ({left} characters left)")

    def save(self) -> None:
        app = App.get_running_app()
        if not app.context.lock().can_compose:
            self.problem = app.context.lock().explanation
            return
        try:
            app.context.library.write(int(self.contact_id), self.ids.text.text)
        except ValueError as e:
            self.problem = str(e).capitalize() + "."
            return
        app.go("conversation")
