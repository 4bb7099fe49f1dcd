"""The tablet's languages: English, and Spanish from ``locale/es.po`` (gettext).

As on the kiosk, catalogs are kept as .po files and compiled with Babel when
the tablet starts, so a translator edits one text file and nothing generated
is committed. A string without a translation shows in English. ``{name}``
placeholders are filled after translation, so a translation can move them.
"""

from __future__ import annotations

import datetime
import gettext
from pathlib import Path

from base.i18n import compile_po
from tablet.settings import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
NAMES = {"en": "English", "es": "Español"}  # each language's name in itself


def N_(text: str) -> str:
    """Marks ``text`` for translation where it is defined; it is translated
    where it is shown."""
    return text


def load_catalog(language: str, directory: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English: none needed). Raises
    ValueError for a language the tablet does not speak."""
    if language not in LANGUAGES:
        raise ValueError(f"the tablet speaks {', '.join(LANGUAGES)}, not {language!r}")
    if language == "en":
        return gettext.NullTranslations()
    return compile_po(directory / f"{language}.po", language)


# Day and month names, translated where they are shown (strftime would follow
# the process's C locale, not the language chosen on the tablet).
DAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
          N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


class Translator:
    """Translates into the language chosen now (English to begin with)."""

    def __init__(self, directory: Path = LOCALE_DIR) -> None:
        self._catalogs = {code: load_catalog(code, directory) for code in LANGUAGES}
        self.language = "en"

    def use(self, language: str) -> None:
        """Raises ValueError for a language the tablet does not speak."""
        if language not in self._catalogs:
            raise ValueError(f"the tablet speaks {', '.join(LANGUAGES)}, not {language!r}")
        self.language = language

    def __call__(self, text: str, /, **values: object) -> str:
        translated = self._catalogs[self.language].gettext(text)
        return translated.format(**values) if values else translated

    def when(self, at: int | None) -> str:
        """A time as a resident reads it: 'never', or like 'Mon 23 Nov, 14:05'."""
        if not at:
            return self(N_("never"))
        moment = datetime.datetime.fromtimestamp(at)
        return self(N_("{day} {date} {month}, {time}"), day=self(DAYS[moment.weekday()]),
                    date=f"{moment.day:02d}", month=self(MONTHS[moment.month - 1]),
                    time=moment.strftime("%H:%M"))
