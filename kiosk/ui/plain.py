"""What the kiosk's codes mean, in words a resident reads at the screen
(English here; the screens translate them). No Kivy."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from babel.dates import format_skeleton

from device_security import reasons
from kiosk.i18n import N_

Translate = Callable[..., str]

_REFUSALS = {
    reasons.NOBODY_LOGGED_IN: N_("Log in first, then plug in your tablet."),
    reasons.ASSIGNED_TO_SOMEONE_ELSE: N_("This tablet belongs to someone else, so it cannot sync "
    "here. Staff have been told."),
    reasons.NOT_ASSIGNED: N_("This tablet is not assigned to anyone yet. Ask staff to assign it "
    "to you."),
    reasons.UNKNOWN_SERIAL: N_("This kiosk does not know this tablet. Staff have been told."),
    reasons.TABLET_NOT_ACTIVE: N_("This tablet is marked lost, released or retired, so it cannot "
    "sync. Staff have been told."),
    reasons.UNIT_NOT_ALLOWED: N_("Your tablet cannot sync at this unit's kiosk."),
    reasons.COUNTER_NOT_INCREASING: N_("This tablet's records do not match. It cannot sync; staff "
    "have been told."),
    reasons.UNEXPECTED_INTERFACES: N_("This device is not a tablet of this facility and was not "
    "let in. Staff have been told."),
    reasons.NO_SERIAL_INTERFACE: N_("This device is not a tablet of this facility and was not let "
    "in. Staff have been told."),
    reasons.USB_SERIAL_MISMATCH: N_("This tablet is not what it says it is. It cannot sync; staff "
    "have been told."),
    reasons.REVOCATION_LIST_STALE: N_("This kiosk cannot check tablets right now: it has not "
    "heard from the central server for too long. No tablet can sync here until it has; staff "
    "have been told. Your tablet is fine."),
}
_DEVICE_PROBLEM = N_("This tablet could not prove who it is, so it cannot sync here. Staff "
                     "have been told.")


def refusal_text(t: Translate, reason: object) -> str:
    """Why a docked tablet was refused, for the resident at the screen."""
    return t(_REFUSALS.get(str(reason), _DEVICE_PROBLEM))


def when(at: int | None, language: str = "en") -> str:
    """A day and time on a screen, short and in the screen's language: "Mar 12,
    14:05", "12 mar, 14:05" (the kiosk's local time)."""
    if not at:
        return "—"
    moment = datetime.datetime.fromtimestamp(at)
    return (f"{format_skeleton('MMMd', moment, locale=language)}, "
            f"{format_skeleton('Hm', moment, locale=language)}")


def money(cents: int | None) -> str:
    return "—" if cents is None else f"${cents / 100:,.2f}"


DELIVERY = {"paid": N_("Paid: on its way to the kiosk"),
            "at_kiosk": N_("At the kiosk: dock to get it"),
            "on_tablet": N_("On your tablet"), "verified": N_("On your tablet"),
            "refunded": N_("Refunded: you can buy it again")}
TICKET_STATUS = {"open": N_("Open: staff will answer"), "answered": N_("Answered by staff"),
                 "escalated": N_("Escalated to a supervisor"), "resolved": N_("Resolved")}
TICKET_CATEGORIES = {"tablet_broken": N_("My tablet is broken"), "tablet_sync": N_("My tablet will "
                     "not sync"), "purchase_missing": N_("A purchase is missing"),
                     "refund": N_("I want a refund"), "message_missing": N_("A message is missing"),
                     "kiosk": N_("This kiosk has a problem"), "account": N_("My account"),
                     "other": N_("Something else")}
REQUEST_TYPES = {"medical": N_("Medical request"), "grievance": N_("Grievance"),
                 "prea": N_("PREA report"), "legal": N_("Legal request"),
                 "records": N_("Records request")}
REQUEST_STATUS = {"filed": N_("Received: staff will answer"), "answered": N_("Answered by staff"),
                  "escalated": N_("Past its deadline: escalated"), "resolved": N_("Resolved"),
                  "queued": N_("Kept at this kiosk: it goes when the server is back"),
                  "waiting_login": N_("Kept at this kiosk: it goes at your next login"),
                  "refused": N_("Refused")}
