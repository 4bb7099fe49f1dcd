"""Write central/screening_tables.py from the Unicode data files in scripts/unicode/.

The screening's matching form (central/screening.py) needs two facts about
characters that Python's ``unicodedata`` does not give:

- which characters are Default_Ignorable_Code_Point (DerivedCoreProperties.txt):
  they render as nothing, so the screen reads text as if they were absent;
- which characters pass for ASCII letters or digits: the confusables of UTS #39
  (confusables.txt) whose prototype, once decomposed and stripped of marks, is
  ASCII, and the Latin small capitals (named in UnicodeData.txt), which are the
  prototypes of many confusables ("в" reads "ʙ", which reads "b"), and the
  negative circled and squared letters, which have no decomposition.

Characters that Unicode decomposition alone already brings to ASCII ("é",
fullwidth, mathematical and circled letters) are left to ``unicodedata`` at run
time and are not in the table. The output depends only on the files read, so
regenerating gives the committed bytes (tests/central/test_screening_tables.py).

    python scripts/make_screening_tables.py            # rewrite the table
    python scripts/make_screening_tables.py --check    # exit 1 if it is stale
    python scripts/make_screening_tables.py --extract PATH/UnicodeData.txt

UnicodeData.txt itself (2 MB) is not kept: ``--extract`` keeps the fields and
lines the table is made from (code point, name, category, decomposition of the
characters that decompose, are marks, are small capitals or negative letters,
or are in confusables.txt) as UnicodeData-extract.txt, which ``read`` uses.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scripts" / "unicode"
EXTRACT = "UnicodeData-extract.txt"  # code;name;category;decomposition, a line each
OUTPUT = ROOT / "central" / "screening_tables.py"

_VERSION = re.compile(r"^# Version: (\d+\.\d+\.\d+)$", re.MULTILINE)
_DERIVED_VERSION = re.compile(r"^# DerivedCoreProperties-(\d+\.\d+\.\d+)\.txt$", re.MULTILINE)
# Letters that no decomposition gives: "LATIN LETTER SMALL CAPITAL G", "LATIN CAPITAL
# LETTER SMALL CAPITAL I", "... OE", and the negative circled and squared letters
# ("NEGATIVE SQUARED LATIN CAPITAL LETTER A"); not the reversed, turned, barred or
# stroked ones, which no longer read as the letter.
_NAMED_LETTER = re.compile(r"^(?:LATIN (?:CAPITAL )?LETTER SMALL CAPITAL ([A-Z]{1,2})"
                           r"|NEGATIVE (?:CIRCLED|SQUARED) LATIN CAPITAL LETTER ([A-Z]))$")


@dataclass(frozen=True)
class UnicodeData:
    names: dict[int, str]
    categories: dict[int, str]
    decompositions: dict[int, tuple[int, ...]]  # canonical and compatibility alike
    confusables: dict[int, tuple[int, ...]]
    ignorable: list[tuple[int, int]]
    version: str


def _code_points(field: str) -> tuple[int, ...]:
    return tuple(int(part, 16) for part in field.split() if not part.startswith("<"))


def _confusables(data: Path) -> tuple[str, dict[int, tuple[int, ...]]]:
    text = (data / "confusables.txt").read_text(encoding="utf-8-sig")
    confusables: dict[int, tuple[int, ...]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            source, target, _kind = (part.strip() for part in line.split(";"))
            confusables[int(source, 16)] = _code_points(target)
    return text, confusables


def extract(unicode_data: Path, data: Path = DATA) -> str:
    """The lines of UnicodeData.txt the table is made from, as ``EXTRACT`` holds them."""
    _, confusables = _confusables(data)
    wanted = set(confusables) | {c for target in confusables.values() for c in target}
    kept = []
    for line in unicode_data.read_text(encoding="utf-8").splitlines():
        fields = line.split(";")
        if (fields[5] or fields[2].startswith("M") or _NAMED_LETTER.match(fields[1])
                or int(fields[0], 16) in wanted):
            kept.append(";".join((fields[0], fields[1], fields[2], fields[5])))
    return "\n".join(kept) + "\n"


def read(data: Path = DATA) -> UnicodeData:
    names: dict[int, str] = {}
    categories: dict[int, str] = {}
    decompositions: dict[int, tuple[int, ...]] = {}
    for line in (data / EXTRACT).read_text(encoding="utf-8").splitlines():
        code_field, name, category, decomposition = line.split(";")
        code = int(code_field, 16)
        names[code] = name
        categories[code] = category
        if decomposition:
            decompositions[code] = _code_points(decomposition)

    confusables_text, confusables = _confusables(data)

    derived_text = (data / "DerivedCoreProperties.txt").read_text(encoding="utf-8")
    ignorable: list[tuple[int, int]] = []
    for raw in derived_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        span, prop, *_value = (part.strip() for part in line.split(";"))
        if prop == "Default_Ignorable_Code_Point":
            first, _, last = span.partition("..")
            ignorable.append((int(first, 16), int(last or first, 16)))

    versions = {m.group(1) for m in (_VERSION.search(confusables_text),
                                      _DERIVED_VERSION.search(derived_text)) if m}
    if len(versions) != 1:
        raise SystemExit(f"the Unicode data files disagree on their version: {versions}")
    return UnicodeData(names, categories, decompositions, confusables, _merged(ignorable),
                       versions.pop())


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def _small_capital(data: UnicodeData, code: int) -> str | None:
    """The letter a small capital (or a negative circled or squared letter) reads as."""
    match = _NAMED_LETTER.match(data.names.get(code, ""))
    return (match.group(1) or match.group(2)).lower() if match else None


def _decomposed(data: UnicodeData, code: int) -> str | None:
    """What decomposition alone makes of a character (marks dropped), if that is ASCII."""
    if code < 0x80:
        return chr(code)
    if data.categories.get(code, "").startswith("M"):
        return ""
    parts = data.decompositions.get(code)
    if parts is None:
        return None
    pieces = [_decomposed(data, part) for part in parts]
    return None if any(p is None for p in pieces) else "".join(p or "" for p in pieces)


def _ascii(data: UnicodeData, code: int, seen: frozenset[int] = frozenset()) -> str | None:
    """The ASCII a character passes for, or None: its small capital's letter, else
    its decomposition's, else its confusable prototype's (marks dropped)."""
    if code < 0x80:
        return chr(code)
    if code in seen:
        return None  # a cycle ("ß" -> "β" -> ...): case folding decides at run time
    seen = seen | {code}
    if data.categories.get(code, "").startswith("M"):
        return ""
    small = _small_capital(data, code)
    if small is not None:
        return small
    for route in (data.decompositions.get(code), data.confusables.get(code)):
        if route is None:
            continue
        pieces = [_ascii(data, part, seen) for part in route]
        if all(piece is not None for piece in pieces):
            return "".join(piece or "" for piece in pieces)
    return None


def _prototypes(data: UnicodeData) -> dict[tuple[int, ...], str]:
    """The ASCII each confusable prototype passes for. UTS #39 makes characters with
    one prototype confusable with each other, so a prototype that is no ASCII
    itself ("ʍ", which "м" reads as) passes for the ASCII that one of its
    confusables reads as by its name or decomposition ("ᴍ", a small capital M)."""
    members: dict[tuple[int, ...], list[int]] = {}
    for source, target in data.confusables.items():
        members.setdefault(target, []).append(source)
    readings: dict[tuple[int, ...], str] = {}
    for target, sources in members.items():
        pieces = [_ascii(data, part) for part in target]
        if all(piece is not None for piece in pieces):
            readings[target] = "".join(piece or "" for piece in pieces)
            continue
        for source in sorted(sources):
            reading = _small_capital(data, source)
            if reading is None:
                reading = _decomposed(data, source)
            if reading:
                readings[target] = reading
                break
    return readings


def lookalikes(data: UnicodeData) -> dict[int, str]:
    """Characters beyond ASCII that pass for ASCII text, where decomposition alone
    does not already say so."""
    table: dict[int, str] = {}
    readings = _prototypes(data)
    ignorable = data.ignorable
    for code in sorted(set(data.names) | set(data.confusables)):
        if code < 0x80 or any(first <= code <= last for first, last in ignorable):
            continue
        if _decomposed(data, code) is not None:
            continue  # unicodedata.normalize("NFKD") gets there at run time
        target = _ascii(data, code)
        if target is None:
            target = readings.get(data.confusables.get(code, (code,)))
        if target is not None and any(ch.isalnum() for ch in target):
            table[code] = target
    return table


def render(data: UnicodeData) -> str:
    table = lookalikes(data)
    lines = [
        f'"""Generated by scripts/make_screening_tables.py from Unicode {data.version} data',
        "(confusables.txt of UTS #39, DerivedCoreProperties.txt, UnicodeData.txt; Unicode",
        'License v3, see scripts/unicode/LICENSE). Do not edit: run the script."""',
        "",
        f'UNICODE_VERSION = "{data.version}"',
        "",
        "# Default_Ignorable_Code_Point, as inclusive (first, last) ranges.",
        "IGNORABLE: tuple[tuple[int, int], ...] = (",
    ]
    lines += [f"    (0x{first:04X}, 0x{last:04X})," for first, last in data.ignorable]
    lines += [
        ")",
        "",
        "# Characters that pass for ASCII: confusable prototypes and small capitals.",
        "LOOKALIKES: dict[int, str] = {",
    ]
    lines += [f"    0x{code:04X}: {target!r},  # {data.names.get(code, '?')}"[:100].rstrip()
              for code, target in table.items()]
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--extract"] and len(argv) == 2:
        (DATA / EXTRACT).write_text(extract(Path(argv[1])), encoding="utf-8")
        print(f"wrote {(DATA / EXTRACT).relative_to(ROOT)}")
        return 0
    text = render(read())
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run scripts/make_screening_tables.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {text.count(chr(10))} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
