"""Money and stamps: the trust and prepaid balances, a transfer from trust to
prepaid within the agency's limits, and stamp bundles bought with prepaid
funds. Every action is confirmed first and carries a key of its own, so a
second touch or a retry never moves money twice."""

from __future__ import annotations

import secrets
from typing import Any

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.ui.plain import money
from kiosk.ui.widgets import make


class AccountScreen(Screen):
    trust = StringProperty("…")
    prepaid = StringProperty("…")
    stamps = StringProperty("…")
    amount = NumericProperty(0)  # cents
    limits = StringProperty("")
    message = StringProperty("")
    note = StringProperty("")
    confirm_text = StringProperty("")
    _pending: tuple[str, Any, str] | None = None  # what, argument, key

    def reset(self) -> None:
        self.trust = self.prepaid = self.stamps = "…"
        self.message = self.note = self.confirm_text = ""
        self._pending = None
        self.ids.offers.clear_widgets()

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        self.reset()
        policy = app.service.cache.agency_policy() or {}
        self.low = int(policy.get("transfer_min_cents", 500))
        self.high = int(policy.get("transfer_max_cents", 20000))
        self.step = int(policy.get("transfer_step_cents", 500))
        self.amount = self.low
        self.limits = app.t("From {low} to {high}, in steps of {step}.", low=money(self.low),
                            high=money(self.high), step=money(self.step))
        app.task(app.service.resident_home, self._balances)
        app.task(lambda: app.service.call(app.service.desk.offers), self._offers)

    def _balances(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        if not answer.get("ok"):
            self.message = str(answer.get("message") or "")
            return
        self.trust = money(answer.get("trust_cents"))
        self.prepaid = money(answer.get("prepaid_cents"))
        self.stamps = str(answer.get("stamps"))
        app.screen_data.update(stamps=answer.get("stamps"),
                               prepaid_cents=answer.get("prepaid_cents"),
                               trust_cents=answer.get("trust_cents"))

    def _offers(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        box = self.ids.offers
        box.clear_widgets()
        if not answer.get("ok"):
            box.add_widget(make("Caption", text=str(answer.get("message") or "")))
            return
        for offer in answer["value"]:
            label = app.t("{n} stamps for {price}", n=offer["stamps"],
                          price=money(offer["price_cents"]))
            if offer.get("valid_days"):
                label += " · " + app.t("for {days} days", days=offer["valid_days"])
            button = make("QuietButton", text=label)
            button.bind(on_release=lambda _, o=offer: self.ask("stamps", o))
            box.add_widget(button)

    def change(self, steps: int) -> None:
        self.amount = max(self.low, min(self.high, int(self.amount) + steps * self.step))

    def ask(self, what: str, argument: Any = None) -> None:
        app = App.get_running_app()
        if what == "transfer":
            argument = int(self.amount)
        if self._pending is None or self._pending[:2] != (what, argument):
            # A new question gets a new key; asked again (after no answer), the same one.
            self._pending = (what, argument, "kiosk-" + secrets.token_urlsafe(12))
        if what == "transfer":
            self.confirm_text = app.t("Move {amount} from your trust account to prepaid?",
                                      amount=money(argument))
        else:
            self.confirm_text = app.t("Buy {n} stamps for {price} from your prepaid money?",
                                      n=argument["stamps"], price=money(argument["price_cents"]))

    def cancel(self) -> None:
        self.confirm_text = ""  # the key stays: asked the same again, it is the same action

    def confirm(self) -> None:
        app = App.get_running_app()
        if self._pending is None:
            return
        what, argument, key = self._pending
        amount = int(argument) if what == "transfer" else 0  # the amount they confirmed
        self.confirm_text = app.t("Working…")
        if what == "transfer":
            work = lambda r: app.service.desk.transfer(r, amount, key)  # noqa: E731
        else:
            work = lambda r: app.service.desk.buy_stamps(r, str(argument["id"]), key)  # noqa: E731
        app.task(lambda: app.service.call(work), self._done)

    def _done(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        self.confirm_text = ""
        self.note = ""
        if not answer.get("unsure"):
            self._pending = None  # a definite answer: the next action gets a key of its own
        if not answer.get("ok"):
            self.message = app.t("Nothing was moved: {why}", why=answer.get("message") or "")
            return
        self.message = ""
        self.note = app.t("Done.")
        app.task(app.service.resident_home, self._balances)
