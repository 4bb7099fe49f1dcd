"""The false-positive guard: ordinary letters in English and Spanish against a
10,000-term keyword list (both made by screening_corpus/make_corpus.py with a
fixed seed, when the tests run), and the same list catching its own terms
disguised in those letters."""

from __future__ import annotations

import random

import pytest

from central.screening import KeywordTerm, Screen
from central.screening_tables import LOOKALIKES
from tests.central.screening_corpus import make_corpus

# Made here from the word banks with the fixed seed (about 1 MB of text; run
# make_corpus.py to write it out and read it).
_LETTERS_TEXT, _KEYWORDS_TEXT = make_corpus.make()


def keyword_terms() -> list[KeywordTerm]:
    rows = _KEYWORDS_TEXT.splitlines()
    return [KeywordTerm(text, ("agency", "facility", "unit")[i % 3], "S1", language, 1)
            for i, (language, text) in enumerate(row.split("\t") for row in rows)]


LETTERS = _LETTERS_TEXT.splitlines()


@pytest.fixture(scope="module")
def built() -> Screen:
    return Screen.build(keyword_terms())


def test_the_corpus_is_the_same_each_time_it_is_made() -> None:
    assert make_corpus.make() == (_LETTERS_TEXT, _KEYWORDS_TEXT)


def test_the_list_is_ten_thousand_terms_in_both_languages_and_stays_bounded(
        built: Screen) -> None:
    terms = keyword_terms()
    assert len(terms) == 10_000
    assert {t.language for t in terms} == {"en", "es"}
    assert len(LETTERS) == 3000
    assert built.size > 9_900  # a few terms read the same
    assert built.patterns < 10 * built.size  # swaps and stems, no variant per repeat


def test_fewer_than_one_in_a_hundred_ordinary_letters_is_held(built: Screen) -> None:
    held = [letter for letter in LETTERS if built.check(letter).held]
    assert len(held) < len(LETTERS) // 100, held[:5]


PASSES_FOR: dict[str, str] = {}
for _code, _form in sorted(LOOKALIKES.items()):
    if len(_form) == 1 and _form.islower():
        PASSES_FOR.setdefault(_form, chr(_code))


def disguise(rng: random.Random, text: str) -> str:
    how = rng.randrange(6)
    if how == 0:  # a Hangul filler inside
        return text[:1] + "\u3164" + text[1:]
    if how == 1:  # look-alikes from other scripts
        return "".join(PASSES_FOR.get(ch, ch) if rng.random() < 0.5 else ch for ch in text)
    if how == 2:  # reversed, shown the right way round by an override
        return "\u202e" + text[::-1] + "\u202c"
    if how == 3:  # fullwidth capitals
        return "".join(chr(ord(ch) - 0x20 + 0xFF00) if "a" <= ch <= "z" else ch
                       for ch in text).upper()
    if how == 4:  # a number glued on
        return text + "420"
    return text.upper().replace(" ", ".")


def test_disguised_terms_in_ordinary_letters_are_held(built: Screen) -> None:
    rng = random.Random(7)
    terms = [t for t in keyword_terms() if len(t.text.replace(" ", "")) >= 3]
    for term in rng.sample(terms, 300):
        letter = rng.choice(LETTERS).split(". ")
        disguised = disguise(rng, term.text)
        letter.insert(rng.randrange(1, len(letter)), disguised)
        message = ". ".join(letter)
        listed = {hit.term.text for hit in built.check(message).hits}
        assert term.text in listed, (term.text, disguised)
