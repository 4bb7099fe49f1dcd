"""Every string of the web pages has its Spanish, and the catalog holds no
string the pages no longer use."""

from __future__ import annotations

import string

from babel.messages.pofile import read_po

from central.services.review import REJECTION_REASONS
from central.web import catalog, family
from central.web.i18n import LOCALE_DIR


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_is_translated_into_spanish() -> None:
    found = catalog.strings()
    assert len(found) > 150  # the extraction finds the templates' strings and the code's
    assert "Check the cost and send" in found and "Stamps bought" in found
    with (LOCALE_DIR / "es.po").open("rb") as po:
        spanish = read_po(po, locale="es")
    missing = [m for m in found if not getattr(spanish.get(m), "string", "")]
    assert missing == [], "run `python -m central.web.catalog` and translate these"
    fuzzy = [m.id for m in spanish if m.id and m.fuzzy]
    assert fuzzy == []
    unused = [m.id for m in spanish if m.id and m.id not in found]
    assert unused == []
    for message in spanish:
        if message.id:  # a translation fills in the same placeholders
            assert _fields(str(message.id)) == _fields(str(message.string)), message.id


def test_the_rejection_reasons_are_the_reviewers_own() -> None:
    assert family.REASONS == REJECTION_REASONS
