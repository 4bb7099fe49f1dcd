"""Every word the tablet shows has its Spanish: each string given to the
translator (``t(...)``, ``app.t(...)``, or marked ``N_(...)``) in tablet/, in
Python or in .kv files, and each of the lock's explanations, has a
translation in tablet/locale/es.po that keeps the placeholders of its
English; and the tablet's settings remember the language on the device."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from device_security.at_rest import Sealer
from tablet.i18n import LOCALE_DIR, Translator
from tablet.lock import MESSAGES
from tablet.settings import Settings, SettingsFile

TABLET = Path(__file__).resolve().parents[2] / "tablet"
WITHHELD = Path(__file__).resolve().parents[2] / "sync" / "withheld.py"
KV_CALL = re.compile(r"""\b(?:app\.t|N_)\(\s*"((?:[^"\\]|\\.)*)\"""")


def messages() -> dict[str, str]:
    """msgid -> where it is used."""
    found: dict[str, str] = {}
    for path in [*sorted(TABLET.rglob("*.py")), WITHHELD]:  # its wording is said by both
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                getattr(node.func, "id", "")
            first = node.args[0]
            if name in ("t", "N_") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                found.setdefault(first.value, f"{path.name}:{node.lineno}")
    for path in sorted(TABLET.rglob("*.kv")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in KV_CALL.finditer(line):
                found.setdefault(match.group(1).encode().decode("unicode_escape"),
                                 f"{path.name}:{number}")
    for key, text in MESSAGES.items():
        found.setdefault(text, f"lock.py:{key}")
    return found


def catalog() -> object:
    with (LOCALE_DIR / "es.po").open("rb") as po:
        return read_po(po)


def test_the_collector_finds_the_tablets_words() -> None:
    found = messages()
    assert "Read aloud" in found and "Write a reply" in found  # kv and Python
    assert "Shift" in found and MESSAGES["locked"] in found  # N_ and the lock's
    assert len(found) > 80


def test_every_message_has_its_spanish() -> None:
    po = catalog()
    missing = {m: where for m, where in messages().items()
               if po.get(m) is None or not po.get(m).string}  # type: ignore[attr-defined]
    assert not missing, "no Spanish for:\n" + "\n".join(
        f"  {where}: {m!r}" for m, where in sorted(missing.items(), key=lambda x: x[1]))


def test_translations_keep_their_placeholders() -> None:
    for message in catalog():  # type: ignore[attr-defined]
        if message.id and message.string:
            wanted = set(re.findall(r"\{(\w+)\}", str(message.id)))
            assert set(re.findall(r"\{(\w+)\}", str(message.string))) == wanted, message.id


def test_the_translator_speaks_both_languages_and_dates() -> None:
    t = Translator()
    assert t("Read aloud") == "Read aloud"
    assert t.when(None) == "never"
    t.use("es")
    assert t("Read aloud") == "Escuchar"
    assert t("{n} waiting to send", n=2) != "{n} waiting to send"
    assert t.when(1795400000).split()[0] in {"lun", "mar", "mié", "jue", "vie", "sáb", "dom"}
    assert t.when(None) == "nunca"
    assert t("a sentence nobody translated") == "a sentence nobody translated"
    with pytest.raises(ValueError, match="not 'fr'"):
        t.use("fr")


def test_settings_are_remembered_and_what_says_something_of_the_resident_is_sealed(
        tmp_path: Path) -> None:
    key = os.urandom(32)
    path = tmp_path / "settings.json"
    settings = SettingsFile(path, Sealer(key))
    assert settings.load("874512") == Settings(owner="874512")  # nothing chosen yet
    settings.save(Settings("es", large_text=True, contrast=True, owner="874512"))
    again = SettingsFile(path, Sealer(key)).load("874512")
    assert again == Settings("es", True, True, "874512")
    on_disk = path.read_bytes()
    assert b'"language": "es"' in on_disk  # not sensitive: in the clear
    for secret in (b"large", b"contrast", b"874512", b"true"):
        assert secret not in on_disk  # how the resident sees, and who: sealed
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left over


def test_settings_of_another_owner_or_key_or_a_damaged_file_give_the_defaults(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    SettingsFile(path, Sealer(os.urandom(32))).save(Settings("es", True, False, "874512"))
    assert SettingsFile(path, Sealer(os.urandom(32))).load("874512") == \
        Settings(owner="874512")  # another key: the copy reveals and changes nothing
    key = os.urandom(32)
    SettingsFile(path, Sealer(key)).save(Settings("es", True, False, "874512"))
    assert SettingsFile(path, Sealer(key)).load("903377") == Settings(owner="903377")
    for damaged in (b"", b"{", b"[]", b'{"version": 9}', b"x" * 10_000,
                    b'{"version": 1, "language": "fr", "sealed": "00"}'):
        path.write_bytes(damaged)
        assert SettingsFile(path, Sealer(key)).load("874512") == Settings(owner="874512")
    assert "the defaults are used" in caplog.text
    with pytest.raises(ValueError, match="not 'fr'"):
        Settings("fr")
