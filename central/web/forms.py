"""Checking what a web form sent: pure functions from the posted text fields
to clean values, or to a message per field. Nothing here touches the
database; the services check again what only they can know."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from central.errors import CentralError, InvalidFields
from central.pricing import IDENTITY_FIELDS
from central.web.i18n import N_, Gettext

_AGENCY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")

IDENTITY_LABELS = {
    "legal_name": N_("Legal name (as on your ID)"),
    "date_of_birth": N_("Date of birth"),
    "phone": N_("Phone number"),
    "street_address": N_("Street address"),
    "id_document": N_("ID document number (driver's licence or passport)"),
}
# What a service's own words about a field are, said in the visitor's language.
IDENTITY_PROBLEMS = {
    "this is needed": N_("This is needed."),
    "a date as YYYY-MM-DD": N_("Write the date as YYYY-MM-DD."),
    "a date of birth in the past": N_("This is not a date of birth."),
    "a phone number: digits, spaces, +, -, ( and )": N_("Write a phone number: digits, "
                                                        "spaces, +, -, ( and )."),
}


@dataclass
class Form:
    """What a form sent, and what is wrong with it, field by field (each
    message already in the visitor's language)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # about the form as a whole

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def refuse(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.problem


def required(form: Form, _: Gettext, *names: str) -> None:
    for name in names:
        if not form.get(name):
            form.refuse(name, _("This is needed."))


def check_signup(values: Mapping[str, str], identity_fields: tuple[str, ...],
                 _: Gettext) -> Form:
    form = Form(dict(values))
    required(form, _, "name", "email", "password", "password_again", *identity_fields)
    if len(form.get("name")) > 200:
        form.refuse("name", _("At most {n} characters.", n=200))
    if form.get("email") and "@" not in form.get("email"):
        form.refuse("email", _("This is not an email address."))
    if form.values.get("password", "") != form.values.get("password_again", ""):
        form.refuse("password_again", _("The two passwords are not the same."))
    return form


def check_contact_request(values: Mapping[str, str], _: Gettext) -> Form:
    form = Form(dict(values))
    required(form, _, "resident_agency_id", "relationship")
    agency_id = form.get("resident_agency_id")
    if agency_id and not _AGENCY_ID.fullmatch(agency_id):
        form.refuse("resident_agency_id", _("An ID number is letters and digits, "
                                            "as the facility wrote it."))
    if len(form.get("relationship")) > 64:
        form.refuse("relationship", _("At most {n} characters.", n=64))
    return form


def check_choice(form: Form, name: str, choices: Mapping[str, object], _: Gettext) -> None:
    if form.get(name) not in choices:
        form.refuse(name, _("Choose one of these."))


def check_key(form: Form, name: str, _: Gettext) -> None:
    """A key the page made (a purchase's, a message's): present and well formed."""
    if not _KEY.fullmatch(form.get(name)):
        form.problem = _("This form is out of date. Open the page again and send it again.")


def identity_errors(e: InvalidFields, _: Gettext) -> dict[str, str]:
    return {name: _(IDENTITY_PROBLEMS.get(text, "")) if text in IDENTITY_PROBLEMS
            else _("At most {n} printable characters.", n=IDENTITY_FIELDS.get(name, 0))
            for name, text in e.fields.items()}


def service_refusal(form: Form, e: CentralError, fields: Mapping[str, tuple[str, str]],
                    _: Gettext) -> None:
    """Put a service's refusal beside the field its code is about (``fields``:
    code -> (field, message)), or above the form."""
    if isinstance(e, InvalidFields):
        for name, message in identity_errors(e, _).items():
            form.refuse(name, message)
        return
    if e.code in fields:
        name, message = fields[e.code]
        form.refuse(name, message)
        return
    form.problem = e.message
