"""The kiosk's languages: English, and Spanish from ``locale/es.po`` (gettext).

Catalogs are kept as .po files and compiled with Babel when the kiosk starts,
so a translator edits one text file and nothing generated is committed. A
string without a translation shows in English. ``{name}`` placeholders are
filled after translation, so a translation can move them.
"""

from __future__ import annotations

import copy
import datetime
import gettext
from pathlib import Path

from babel.dates import format_date, format_skeleton

from base.i18n import compile_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "es": "Español"}


def load_catalog(language: str, directory: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English: none needed). Raises
    ValueError for a language the kiosk does not offer."""
    if language not in LANGUAGES:
        raise ValueError(f"the kiosk speaks {', '.join(LANGUAGES)}, not {language!r}")
    if language == "en":
        return gettext.NullTranslations()
    return compile_po(directory / f"{language}.po", language)


def N_(text: str) -> str:
    """Marks ``text`` for translation where it is defined; it is translated
    where it is shown."""
    return text


class Translator:
    """Translates into the language chosen now (English to begin with)."""

    def __init__(self, directory: Path = LOCALE_DIR) -> None:
        self._catalogs = {code: load_catalog(code, directory) for code in LANGUAGES}
        self.language = "en"

    def use(self, language: str) -> None:
        if language not in self._catalogs:
            raise ValueError(f"the kiosk speaks {', '.join(LANGUAGES)}, not {language!r}")
        self.language = language

    def speaking(self, language: str) -> Translator:
        """A translator into ``language`` sharing these catalogs (this one's
        choice is left as it is). Raises ValueError as :meth:`use`."""
        other = copy.copy(self)
        other.use(language)
        return other

    def __call__(self, text: str, /, **values: object) -> str:
        translated = self._catalogs[self.language].gettext(text)
        return translated.format(**values) if values else translated


def date_time(at: float, language: str) -> str:
    """``at`` (seconds since the epoch) as this kiosk's local date and time,
    written as ``language`` writes it: "March 12, 2025, 14:05", "12 de marzo
    de 2025, 14:05" (Babel's CLDR data). Raises ValueError for a language the
    kiosk does not offer."""
    if language not in LANGUAGES:
        raise ValueError(f"the kiosk speaks {', '.join(LANGUAGES)}, not {language!r}")
    moment = datetime.datetime.fromtimestamp(at)
    return (f"{format_date(moment, 'long', locale=language)}, "
            f"{format_skeleton('Hm', moment, locale=language)}")
