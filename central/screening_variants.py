"""The spellings one keyword term stands for, worked out once when a screen is
built (precomputing variants of the terms is far cheaper than varying the text).

A term is split into words; a word of ``FUZZ_MIN_LETTERS`` letters or more is
*fuzzy*, a shorter one is matched exactly as it is spelt. For the fuzzy words:

- **repeated letters**: the text may repeat any letter ("druuugs"). That is no
  variant here: the screen matches with every run of one letter squeezed to a
  single letter and checks the run lengths afterwards, so each variant below is
  one pattern however its letters are stretched.
- **swaps**: one pair of adjacent letters inside a word, neither of them its first
  or last letter, may be swapped ("durgs", "cocaien"). A word of n letters gets
  at most n - 3 such variants, so a list's automaton grows about fourfold at most.
- **endings**: letters glued after the last word, when it is fuzzy: English
  plurals and verb endings, Spanish plurals, gender, diminutives, participles,
  gerunds and enclitic pronouns, following the term's list language. Where the
  ending changes the stem ("smuggle" -> "smuggling", "traficar" -> "traficando",
  "party" -> "parties") the stem is its own pattern, allowed only with those
  endings, and only if it keeps ``FUZZ_MIN_LETTERS`` letters.
- **digits** glued before or after any term of ``DIGITS_MIN_LETTERS`` letters or
  more ("420drugs", "meth4u" is not: "4u" is no number).

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

FUZZ_MIN_LETTERS = 4
DIGITS_MIN_LETTERS = 3

# Endings, as written; they are brought to the matching form when used.
_ENGLISH = ("s", "ed", "ing", "in", "er", "ers")
_ENGLISH_ES_AFTER = ("s", "x", "z", "ch", "sh", "o")  # "es" only after these: no "heroines"
_ENGLISH_AFTER_E = ("ing", "in", "ed", "er", "ers")  # smuggle -> smuggl + ing
_ENGLISH_AFTER_Y = ("es", "ed", "er", "ers")  # party -> parti + es
_VOWELS = ("a", "e", "i", "o", "u")
_SPANISH_ENCLITICS = ("lo", "la", "los", "las", "le", "les", "me", "te", "se", "nos")
_SPANISH_AFTER_VOWEL = ("a", "o", "as", "os", "ita", "ito", "itas", "itos")  # droga -> drog + os
_SPANISH_AR = ("ando", "ado", "ada", "ados", "adas", "aron", "aba", "aban")
_SPANISH_ER_IR = ("iendo", "ido", "ida", "idos", "idas", "ieron", "ia", "ian")
_OTHER = ("s", "es")


@dataclass(frozen=True)
class Variant:
    """One pattern of a term: its letters in the matching form, which of them
    the text may repeat, the endings that may follow it, and whether digits may
    be glued on. ``whole`` is False for a stem, which needs one of its endings."""

    form: str
    stretch: tuple[bool, ...]
    endings: frozenset[str]
    digits: bool
    whole: bool


def squeeze(form: str) -> str:
    """form with every run of one character cut to one ("druuugs" -> "drugs")."""
    return "".join(ch for i, ch in enumerate(form) if i == 0 or form[i - 1] != ch)


def _swaps(form: str, fuzzy: Sequence[bool], starts: set[int], ends: set[int]) -> list[str]:
    swapped = []
    for i in range(len(form) - 1):
        j = i + 1
        if (fuzzy[i] and fuzzy[j] and i not in starts and j not in ends
                and form[i] != form[j]):
            spelling = form[:i] + form[j] + form[i] + form[j + 1:]
            # A swap that leaves fewer than FUZZ_MIN_LETTERS letters once repeats are
            # squeezed ("pepe" -> "ppee", read "pe") would be found inside every
            # other word; the term itself still is, repeated or not.
            if len(squeeze(spelling)) >= FUZZ_MIN_LETTERS:
                swapped.append(spelling)
    return swapped


def variants(words: Sequence[str], languages: set[str],
             fold: Callable[[str], str]) -> list[Variant]:
    """The variants of a term given as the matching forms of its words (in order,
    none empty), for lists in ``languages``; ``fold`` gives the matching form of
    an ending."""
    form = "".join(words)
    fuzzy: list[bool] = []
    starts: set[int] = set()
    ends: set[int] = set()
    for word in words:
        starts.add(len(fuzzy))
        fuzzy.extend([len(word) >= FUZZ_MIN_LETTERS] * len(word))
        ends.add(len(fuzzy) - 1)
    stretch = tuple(fuzzy)
    digits = len(form) >= DIGITS_MIN_LETTERS
    if not fuzzy[-1]:  # an exact last word takes no endings
        return [Variant(form, stretch, frozenset(), digits, True)]

    def endings(texts: Sequence[str]) -> frozenset[str]:
        return frozenset(squeeze(fold(text)) for text in texts)

    last = len(words[-1])
    out = []
    for spelling in [form, *_swaps(form, fuzzy, starts, ends)]:
        whole: list[str] = []
        stems: list[tuple[str, tuple[str, ...]]] = []
        if "en" in languages:
            whole += _ENGLISH
            if spelling.endswith(_ENGLISH_ES_AFTER):
                whole.append("es")
            if spelling.endswith("e"):
                stems.append((spelling[:-1], _ENGLISH_AFTER_E))
            if spelling.endswith("y") and spelling[-2:-1] not in _VOWELS:
                stems.append((spelling[:-1] + "i", _ENGLISH_AFTER_Y))
        if "es" in languages:
            whole.append("s" if spelling.endswith(_VOWELS) else "es")
            if spelling[-2:] in (fold("ar"), fold("er"), fold("ir")):
                whole += _SPANISH_ENCLITICS
                stems.append((spelling[:-2], _SPANISH_AR if spelling.endswith(fold("ar"))
                              else _SPANISH_ER_IR))
            elif spelling[-1:] in ("a", "o"):
                stems.append((spelling[:-1], _SPANISH_AFTER_VOWEL))
        if not languages & {"en", "es"}:
            whole += _OTHER
        out.append(Variant(spelling, stretch, endings(whole), digits, True))
        for stem, stem_endings in stems:
            cut = len(spelling) - len(stem)  # 1, or 2; a stem ending in "i" replaces one
            if last - max(cut, 1) < FUZZ_MIN_LETTERS:
                continue
            out.append(Variant(stem, stretch[:len(stem)], endings(stem_endings), digits, False))
    return out
