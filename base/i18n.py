"""Translations kept as gettext .po files and compiled with Babel when they are
loaded, so a translator edits one text file and nothing generated is committed.
The kiosk, the tablet and the web pages each keep their own catalogs."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def compile_po(path: Path, language: str) -> gettext.GNUTranslations:
    """The catalog in ``path`` (a .po file of ``language``), compiled in memory."""
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
