"""Every string of the web pages has its Spanish, and the catalog holds no
string the pages no longer use."""

from __future__ import annotations

import string
from typing import Any

from babel.messages.pofile import read_po

from central.rejections import REASONS
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
    missing = [m for m in found if not all(_strings(spanish.get(m[0] if isinstance(m, tuple)
                                                                else m)))]
    assert missing == [], "run `python -m central.web.catalog` and translate these"
    fuzzy = [m.id for m in spanish if m.id and m.fuzzy]
    assert fuzzy == []
    unused = [m.id for m in spanish if m.id and _key(m.id) not in found]
    assert unused == []
    for message in spanish:
        if message.id:  # a translation fills in the same placeholders
            ids = [str(i) for i in message.id] if isinstance(message.id, tuple) \
                else [str(message.id)]
            for text in _strings(message):
                assert _fields(text) <= _fields(" ".join(ids)), message.id
                assert "n" in _fields(text) or not isinstance(message.id, tuple), message.id


def _key(msgid: Any) -> Any:
    return tuple(msgid[:2]) if isinstance(msgid, tuple) else msgid


def _strings(message: Any) -> list[str]:
    if message is None:
        return [""]
    string = message.string
    return list(string) if isinstance(string, tuple) else [str(string)]


def test_the_rejection_reasons_are_the_reviewers_own() -> None:
    assert family.REASONS is REASONS
    assert family.reason_text("threat", "es") == REASONS["threat"].es
    assert family.reason_text("threat", "en") == REASONS["threat"].en
    assert family.reason_text("no such code", "es") == ""


def test_the_ready_answers_are_the_ticket_services_own() -> None:
    from central.services.tickets import CANNED_REPLIES
    from central.web.staff import CANNED
    assert CANNED == CANNED_REPLIES
