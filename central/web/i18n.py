"""The web pages' languages: English, and Spanish from ``locale/es.po``.

Catalogs are .po files compiled with Babel when the server starts (nothing
generated is committed). ``{name}`` placeholders are filled after
translation, so a translation can move them. A string without Spanish shows
in English; tests/web/test_i18n.py checks there is none.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

from base.i18n import compile_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"


def N_(text: str) -> str:
    """Marks ``text`` for translation where it is defined; it is translated
    where it is shown."""
    return text


def load_catalogs(directory: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    catalogs: dict[str, gettext.NullTranslations] = {"en": gettext.NullTranslations()}
    for language in LANGUAGES:
        if language == "en":
            continue
        catalogs[language] = compile_po(directory / f"{language}.po", language)
    return catalogs


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language a visitor chose (cookie), else the first their browser
    asks for that we speak, else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower()[:2]
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if code in LANGUAGES and (best is None or weight > best[0]):
            best = (weight, code)
    return best[1] if best else DEFAULT


Gettext = Callable[..., str]


def translator(catalog: gettext.NullTranslations) -> Gettext:
    def _(text: str, /, **values: object) -> str:
        translated = catalog.gettext(text)
        return translated.format(**values) if values else translated
    return _


def plural_translator(catalog: gettext.NullTranslations) -> Gettext:
    """``_n("{n} stamp", "{n} stamps", n)``: the form for ``n`` in the
    language, with ``{n}`` (and any other values) filled in."""
    def _n(singular: str, plural: str, n: int, /, **values: object) -> str:
        return catalog.ngettext(singular, plural, n).format(n=n, **values)
    return _n
