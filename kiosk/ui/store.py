"""The music store: search the catalog, buy with prepaid funds (the price and
the balance shown first), and follow each purchase until it is on the
tablet (paid, at the kiosk, on the tablet), refunds included."""

from __future__ import annotations

import secrets
from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.ui.plain import DELIVERY, money
from kiosk.ui.widgets import make


class StoreScreen(Screen):
    tab = StringProperty("browse")  # browse or mine
    problem = StringProperty("")
    typing = BooleanProperty(False)
    confirm_text = StringProperty("")
    _item: dict[str, Any] | None = None
    _key = ""

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
        app.task(lambda: app.service.call(lambda r: app.service.desk.catalog(r, query)),
                 self._found)

    def _listing(self, answer: dict[str, Any], empty: str) -> list[dict[str, Any]]:
        """The rows an answer lists, the list emptied first; why there are none
        (the problem, or ``empty``) shown instead."""
        self.ids.entries.clear_widgets()
        if not answer.get("ok"):
            self.problem = str(answer.get("message") or "")
            return []
        if not answer["value"]:
            self.ids.entries.add_widget(make("Body", text=empty))
        rows: list[dict[str, Any]] = answer["value"]
        return rows

    def _found(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        box = self.ids.entries
        for item in self._listing(answer, app.t("Nothing found. Try another word.")):
            minutes, seconds = divmod(int(item.get("duration_s") or 0), 60)
            detail = f"{item.get('artist', '')} · {item.get('kind', '')}" + (
                f" · {minutes}:{seconds:02d}" if item.get("duration_s") else "")
            row = make("StoreRow", title=item["title"], detail=detail,
                       price=money(item.get("price_cents")),
                       action=app.t("Buy"))
            row.ids.act.bind(on_release=lambda _, it=item: self.ask(it))
            box.add_widget(row)

    def ask(self, item: dict[str, Any]) -> None:
        app = App.get_running_app()
        prepaid = app.screen_data.get("prepaid_cents")
        if self._item is None or self._item.get("id") != item.get("id") or not self._key:
            self._key = "kiosk-buy-" + secrets.token_urlsafe(12)  # asked again: the same key
        self._item = item
        self.confirm_text = app.t("Buy {title} for {price}?", title=item["title"],
                                  price=money(item.get("price_cents"))) + (
            "  " + app.t("You have {money} prepaid.", money=money(prepaid))
            if prepaid is not None else "")

    def cancel(self) -> None:
        self.confirm_text = ""  # the key stays: the same item asked again is the same buy

    def buy(self) -> None:
        app = App.get_running_app()
        item, key = self._item, self._key  # the same key if Buy is touched twice
        if item is None:
            return
        self.confirm_text = app.t("Buying…")
        app.task(lambda: app.service.call(
            lambda r: app.service.desk.buy(r, str(item["id"]), key)), self._bought)

    def _bought(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        self.confirm_text = ""
        if not answer.get("unsure"):
            self._item, self._key = None, ""  # a definite answer: the next buy is a new one
        if not answer.get("ok"):
            self.problem = app.t("Not bought: {why}", why=answer.get("message") or "")
            return
        app.task(app.service.resident_home, lambda home: app.screen_data.update(
            prepaid_cents=home.get("prepaid_cents")) if home.get("ok") else None)
        self.show("mine")

    def _mine(self) -> None:
        app = App.get_running_app()
        app.task(lambda: app.service.call(app.service.desk.entitlements), self._listed)

    def _listed(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        box = self.ids.entries
        bought = self._listing(answer, app.t("You have not bought anything yet."))
        for e in sorted(bought, key=lambda e: -int(e.get("created_at") or 0)):
            state = str(e.get("state"))
            row = make("StoreRow", title=e["title"], detail=app.t(DELIVERY.get(state, state)),
                       price=money(e.get("price_cents")), action="")
            box.add_widget(row)
