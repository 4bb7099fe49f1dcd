"""Every word the kiosk shows has its Spanish: each string given to the
translator (``t(...)``, ``app.t(...)``, or marked ``N_(...)``) in kiosk/, in
Python or in .kv files, has a translation in kiosk/locale/es.po, and each
translation keeps the placeholders of its English."""

from __future__ import annotations

import ast
import datetime
import re
from pathlib import Path

from babel.messages.pofile import read_po

from kiosk.i18n import LOCALE_DIR, Translator
from kiosk.ui.plain import when

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
WITHHELD = Path(__file__).resolve().parents[2] / "sync" / "withheld.py"
KV_CALL = re.compile(r"""\b(?:app\.t|N_)\(\s*"((?:[^"\\]|\\.)*)\"""")


def messages() -> dict[str, str]:
    """msgid -> where it is used."""
    found: dict[str, str] = {}
    for path in [*sorted(KIOSK.rglob("*.py")), WITHHELD]:  # its wording is said by both
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                getattr(node.func, "id", "")
            first = node.args[0]
            if name in ("t", "N_") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                found.setdefault(first.value, f"{path.name}:{node.lineno}")
    for path in sorted(KIOSK.rglob("*.kv")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in KV_CALL.finditer(line):
                found.setdefault(match.group(1).encode().decode("unicode_escape"),
                                 f"{path.name}:{number}")
    return found


def test_every_message_has_its_spanish() -> None:
    with (LOCALE_DIR / "es.po").open("rb") as po:
        catalog = read_po(po)
    missing = {}
    for m, where in messages().items():
        entry = catalog.get(m)
        if entry is None or not entry.string:
            missing[m] = where
    assert not missing, "no Spanish for:\n" + "\n".join(
        f"  {where}: {m!r}" for m, where in sorted(missing.items(), key=lambda x: x[1]))


def test_translations_keep_their_placeholders() -> None:
    with (LOCALE_DIR / "es.po").open("rb") as po:
        catalog = read_po(po)
    for message in catalog:
        if message.id and message.string:
            wanted = set(re.findall(r"\{(\w+)\}", str(message.id)))
            assert set(re.findall(r"\{(\w+)\}", str(message.string))) == wanted, message.id


def test_the_translator_speaks_both_languages() -> None:
    t = Translator()
    assert t("Log in") == "Log in"
    t.use("es")
    assert t("Log in") != "Log in"
    assert "3" in t("{n} unread", n=3)
    assert t("a sentence nobody translated") == "a sentence nobody translated"


def test_screen_times_are_written_in_the_screens_language() -> None:
    at = int(datetime.datetime(2026, 3, 12, 14, 5).timestamp())  # the kiosk's local time
    assert when(at, "en") == "Mar 12, 14:05"
    assert when(at, "es") == "12 mar, 14:05"
    assert when(None, "es") == "—"
