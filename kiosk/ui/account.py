"""Money and stamps: the trust and prepaid balances, a transfer from trust to
prepaid within the agency's limits, and stamp bundles bought with prepaid
funds. Every action is confirmed first and is one attempt with a key the
kiosk makes, so a second touch or a retry never moves money twice."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer, Attempt
from kiosk.records import Home, Offer
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
    _pending: tuple[Attempt, str] | None = None  # what was asked, and how it was said

    def reset(self) -> None:
        self.trust = self.prepaid = self.stamps = "…"
        self.message = self.note = self.confirm_text = ""
        self._pending = None
        self.ids.offers.clear_widgets()

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        self.reset()
        policy = app.service.agency_policy()
        self.low = policy.transfer_min_cents
        self.high = policy.transfer_max_cents
        self.step = policy.transfer_step_cents
        self.amount = self.low
        self.limits = app.t("From {low} to {high}, in steps of {step}.", low=money(self.low),
                            high=money(self.high), step=money(self.step))
        app.task(app.service.home, self._balances)
        app.task(app.service.offers, self._offers)

    def _balances(self, answer: Answer[Home]) -> None:
        app = App.get_running_app()
        if not answer.ok or answer.value is None:
            self.message = answer.message
            return
        home = answer.value
        self.trust = money(home.trust_cents)
        self.prepaid = money(home.prepaid_cents)
        self.stamps = str(home.stamps)
        app.screen_data.balances(home)

    def _offers(self, answer: Answer[tuple[Offer, ...]]) -> None:
        app = App.get_running_app()
        box = self.ids.offers
        box.clear_widgets()
        if not answer.ok or answer.value is None:
            box.add_widget(make("Caption", text=answer.message))
            return
        for offer in answer.value:
            label = app.t("{n} stamps for {price}", n=offer.stamps, price=money(offer.price_cents))
            if offer.valid_days:
                label += " · " + app.t("for {days} days", days=offer.valid_days)
            button = make("QuietButton", text=label)
            button.bind(on_release=lambda _, o=offer: self.ask_stamps(o))
            box.add_widget(button)

    def change(self, steps: int) -> None:
        self.amount = max(self.low, min(self.high, int(self.amount) + steps * self.step))

    def ask_transfer(self) -> None:
        """Ask to confirm a transfer of the amount shown."""
        app = App.get_running_app()
        amount = int(self.amount)
        # Asked again after no answer, the same thing is the same attempt (the same key).
        self._pending = (app.service.attempt("transfer", str(amount)), app.t(
            "Move {amount} from your trust account to prepaid?", amount=money(amount)))
        self.confirm_text = self._pending[1]

    def ask_stamps(self, offer: Offer) -> None:
        app = App.get_running_app()
        self._pending = (app.service.attempt("stamps", offer.id), app.t(
            "Buy {n} stamps for {price} from your prepaid money?", n=offer.stamps,
            price=money(offer.price_cents)))
        self.confirm_text = self._pending[1]

    def cancel(self) -> None:
        self.confirm_text = ""  # the attempt stays: asked the same again, it is the same one

    def confirm(self) -> None:
        app = App.get_running_app()
        if self._pending is None:
            return
        attempt = self._pending[0]  # the same attempt if Yes is touched twice
        self.confirm_text = app.t("Working…")
        work = app.service.transfer if attempt.action == "transfer" else app.service.buy_stamps
        app.task(lambda: work(attempt), self._done)

    def _done(self, answer: Answer[Any]) -> None:
        app = App.get_running_app()
        self.confirm_text = ""
        self.note = ""
        if not answer.unsure:
            self._pending = None  # a definite answer: the next action is a new attempt
        if not answer.ok:
            self.message = app.t("Nothing was moved: {why}", why=answer.message)
            return
        self.message = ""
        self.note = app.t("Done.")
        app.task(app.service.home, self._balances)
