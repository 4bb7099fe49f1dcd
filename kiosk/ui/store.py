"""The music store: search the catalog, buy with prepaid funds (the price and
the balance shown first), and follow each purchase until it is on the
tablet (paid, at the kiosk, on the tablet), refunds included."""

from __future__ import annotations

from typing import TypeVar

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer, Attempt
from kiosk.records import CatalogItem, Entitlement
from kiosk.ui.plain import DELIVERY, money
from kiosk.ui.widgets import make

T = TypeVar("T")


class StoreScreen(Screen):
    tab = StringProperty("browse")  # browse or mine
    problem = StringProperty("")
    typing = BooleanProperty(False)
    confirm_text = StringProperty("")
    _item: CatalogItem | None = None
    _attempt: Attempt | None = None

    def reset(self) -> None:
        self.ids.query.text = ""
        self.ids.entries.clear_widgets()
        self.problem = self.confirm_text = ""
        self.tab, self.typing, self._item = "browse", False, None

    def on_pre_enter(self, *_: object) -> None:
        self.problem, self.confirm_text, self.typing = "", "", False
        self.ids.keyboard.target = self.ids.query
        self.ids.keyboard.multiline = False
        self.show(self.tab)

    def show(self, tab: str) -> None:
        self.tab = tab
        self.problem = ""
        if tab == "browse":
            self.search()
        else:
            self._mine()

    def search(self) -> None:
        app = App.get_running_app()
        query = self.ids.query.text.strip()
        self.typing = False
        app.task(lambda: app.service.catalog(query), self._found)

    def _listing(self, answer: Answer[tuple[T, ...]], empty: str) -> tuple[T, ...]:
        """The rows an answer lists, the list emptied first; why there are none
        (the problem, or ``empty``) shown instead."""
        self.ids.entries.clear_widgets()
        if not answer.ok or answer.value is None:
            self.problem = answer.message
            return ()
        if not answer.value:
            self.ids.entries.add_widget(make("Body", text=empty))
        return answer.value

    def _found(self, answer: Answer[tuple[CatalogItem, ...]]) -> None:
        app = App.get_running_app()
        box = self.ids.entries
        for item in self._listing(answer, app.t("Nothing found. Try another word.")):
            minutes, seconds = divmod(item.duration_s, 60)
            detail = f"{item.artist} · {item.kind}" + (
                f" · {minutes}:{seconds:02d}" if item.duration_s else "")
            if item.owned:
                row = make("StoreRow", title=item.title, detail=detail,
                           price=app.t("Yours"), action="")
            else:
                if item.owned_tracks:
                    detail += " · " + app.t("{n} of its {total} tracks are yours already",
                                            n=item.owned_tracks, total=item.tracks)
                row = make("StoreRow", title=item.title, detail=detail,
                           price=money(item.price_cents), action=app.t("Buy"))
                row.ids.act.bind(on_release=lambda _, it=item: self.ask(it))
            box.add_widget(row)

    def ask(self, item: CatalogItem) -> None:
        app = App.get_running_app()
        prepaid = app.screen_data.prepaid_cents
        self._item = item
        # Asked again (after no answer), the same item is the same attempt: the same key.
        self._attempt = app.service.attempt("buy", item.id)
        self.confirm_text = app.t("Buy {title} for {price}?", title=item.title,
                                  price=money(item.price_cents)) + (
            "  " + app.t("You have {money} prepaid.", money=money(prepaid))
            if prepaid is not None else "")

    def cancel(self) -> None:
        self.confirm_text = ""  # the attempt stays: the same item asked again is the same buy

    def buy(self) -> None:
        app = App.get_running_app()
        attempt, item = self._attempt, self._item  # the same attempt if Buy is touched twice
        if attempt is None or item is None:
            return
        self.confirm_text = app.t("Buying…")
        price = item.price_cents  # the price the resident was shown, and no other
        app.task(lambda: app.service.buy(attempt, price), self._bought)

    def _bought(self, answer: Answer[tuple[Entitlement, ...]]) -> None:
        app = App.get_running_app()
        self.confirm_text = ""
        if not answer.unsure:
            self._item, self._attempt = None, None  # a definite answer: the next is new
        if not answer.ok:
            self.problem = app.t("Not bought: {why}", why=answer.message)
            return
        app.task(app.service.home, lambda home: app.screen_data.balances(home.value)
                 if home.ok and home.value is not None else None)
        self.show("mine")

    def _mine(self) -> None:
        app = App.get_running_app()
        app.task(app.service.entitlements, self._listed)

    def _listed(self, answer: Answer[tuple[Entitlement, ...]]) -> None:
        app = App.get_running_app()
        box = self.ids.entries
        bought = self._listing(answer, app.t("You have not bought anything yet."))
        for e in sorted(bought, key=lambda e: -e.created_at):
            row = make("StoreRow", title=e.title, detail=app.t(DELIVERY.get(e.state, e.state)),
                       price=money(e.price_cents), action="")
            box.add_widget(row)
