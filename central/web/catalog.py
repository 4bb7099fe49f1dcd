"""The web pages' strings, found where they are written: ``_("...")`` and
``N_("...")`` in central/web's Python and ``_("...")`` in its templates.
``python -m central.web.catalog`` adds the strings new since the last run to
locale/es.po (with an empty msgstr, for a translator) and drops those no
longer used; tests/web/test_i18n.py checks that none is left untranslated."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from central.web.i18n import LANGUAGES, LOCALE_DIR

HERE = Path(__file__).parent
KEYWORDS = {"_": None, "N_": None, "gettext": None, "_n": (1, 2), "ngettext": (1, 2)}
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]


def strings() -> dict[str | tuple[str, str], set[str]]:
    """Every msgid (a pair: singular and plural), with the files it is in."""
    found: dict[str | tuple[str, str], set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
            HERE, METHODS, keywords=KEYWORDS,
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n",
                                                "trim_blocks": "true",
                                                "lstrip_blocks": "true"}}):
        if isinstance(message, str) and message:
            found.setdefault(message, set()).add(filename)
        elif isinstance(message, tuple) and all(message[:2]):
            found.setdefault((message[0], message[1]), set()).add(filename)
    return found


def update(language: str, directory: Path = LOCALE_DIR) -> tuple[int, int]:
    """Bring ``language``'s catalog up to date; returns (added, dropped)."""
    path = directory / f"{language}.po"
    old = Catalog(locale=language)
    if path.exists():
        with path.open("rb") as po:
            old = read_po(po, locale=language)
    found = strings()
    new = Catalog(locale=language, project="Sallyport web", version="1", fuzzy=False,
                  header_comment=f"# {LANGUAGES[language]} for Sallyport's web pages. Edit the "
                  "msgstr lines; the server compiles this file\n# when it starts. Run "
                  "`python -m central.web.catalog` after adding strings.")
    added = 0
    for msgid in sorted(found, key=lambda m: str(m[0] if isinstance(m, tuple) else m).lower()):
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        before = old.get(key)
        if before is None or isinstance(before.id, tuple) != isinstance(msgid, tuple):
            added += 1
            string: str | tuple[str, ...] = ("",) * new.num_plurals \
                if isinstance(msgid, tuple) else ""
        else:
            string = tuple(before.string) if isinstance(before.string, tuple | list) \
                else str(before.string or "")
        new.add(msgid, string, locations=[(f, 0) for f in sorted(found[msgid])],
                flags=("python-brace-format",) if "{" in key else ())
    dropped = sum(1 for m in old if m.id and m.id not in found
                  and not (isinstance(m.id, tuple) and tuple(m.id[:2]) in found))
    with path.open("wb") as out:
        write_po(out, new, width=100, omit_header=False, include_lineno=False)
    return added, dropped


def main() -> int:
    for language in LANGUAGES:
        if language != "en":
            added, dropped = update(language)
            print(f"{language}: {added} new strings, {dropped} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
