"""The compiled pass (central/_screening_core.pyx) gives exactly what the
pure-Python reference in central/screening.py gives, for every Latin-1 text:
the squeezed matching form with its run flags, and the matching form with its
flags and where each squeezed character starts in it. It is built by the project's install; a screen
without it would be correct but slow, so the tests insist that it is there."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central import screening
from central.screening import KeywordTerm, Screen

core = screening._screening_core

# Every kind of Latin-1 character the pass treats apart: letters (and the same
# letter twice, so that runs form), capitals and accented letters, the digits and
# symbols read as letters, numbers whose form is two characters ("½"), letters
# whose form is two ("ß", "æ"), the soft hyphen (no character for boundaries),
# spacing and punctuation (no form), and the two whose form is not ASCII ("µ", "ð").
LATIN1 = st.sampled_from(tuple("aabbddeeilosss drugs") + tuple("AEÉéñÑüç") + tuple("01345789!|$@")
                         + tuple("²³¹¼½¾ßÆæ") + ("\xad", "\xa0", " ", "  ", ".", "-", "'", "\n")
                         + ("µ", "ð", "\x00", "\xff"))


def reference_squeezed(text: str) -> tuple[str, bytes]:
    latin1 = text.encode("latin-1")
    squeezed = screening._squeeze(screening._fold(text, latin1))
    return squeezed.text, squeezed.run_flags(screening._edge_flags(text, latin1))


def reference_forms(text: str) -> tuple[str, bytes, bytes]:
    latin1 = text.encode("latin-1")
    form = screening._fold(text, latin1)
    squeezed = screening._squeeze(form)
    if not squeezed.repeats:
        starts = b""
    else:  # where each squeezed character starts in the form, as the full checks find it
        reader = screening._Reader(form, b"", squeezed.marks(len(form)), len(squeezed.text))
        starts = array("I", [reader.at(k) for k in range(len(squeezed.text))]).tobytes()
    return form, screening._edge_flags(text, latin1), starts


def declined(text: str) -> bool:
    return any(not screening._fold_char(ch).isascii() for ch in text)


def test_the_compiled_pass_is_built() -> None:
    assert core is not None, "central/_screening_core.pyx is not compiled: pip install -e ."


@pytest.mark.parametrize("compiled, reference", [
    ("squeeze_latin1", reference_squeezed),  # the squeezed form and its run flags
    ("forms_latin1", reference_forms),  # the form, its flags, where squeezed characters start
])
@settings(max_examples=600, deadline=None)
@given(st.lists(LATIN1, max_size=80).map("".join))
def test_the_compiled_pass_gives_what_the_reference_gives(
        compiled: str, reference: Callable[[str], tuple[Any, ...]], text: str) -> None:
    got = getattr(core, compiled)(text.encode("latin-1"))
    if declined(text):
        assert got is None
    else:
        assert got == reference(text)


@pytest.mark.parametrize("text", [
    "", "a", " ", "\xad", "\xad\xada\xad", "aa", "a a", "a" * 15 + " a", "a" * 16 + " a",
    "a" * 17 + " a", "a" * 40 + "1" + "a" * 40, "s" + " s" * 30, "ß" * 9 + "s", "½½", "x½y",
    "drug\xad s", "DRUGS!!", "d.r.u.g.s", "$$$ $ $", "a\xadb c\xad",
])
def test_runs_longer_than_the_reach_and_edge_cases_match(text: str) -> None:
    # A run takes the flags of its first 16 characters: the reference's four doubling
    # steps reach that far and no further, and the pass must agree exactly.
    assert core.squeeze_latin1(text.encode("latin-1")) == reference_squeezed(text)
    assert core.forms_latin1(text.encode("latin-1")) == reference_forms(text)


def test_every_byte_is_read_without_error() -> None:
    every = bytes(range(256)) * 3
    text = every.decode("latin-1")
    assert core.squeeze_latin1(every) is None  # "µ" is among them
    without = bytes(b for b in every if b not in (0xB5, 0xF0))
    assert core.squeeze_latin1(without) == reference_squeezed(without.decode("latin-1"))
    assert core.forms_latin1(every) is None and declined(text)


def test_tables_that_would_overrun_a_buffer_are_refused() -> None:
    forms, info = screening._core_tables()
    with pytest.raises(ValueError, match="512 and 256"):
        core.set_tables(forms[:-1], info)
    with pytest.raises(ValueError, match="three characters"):
        core.set_tables(forms, info[:97] + bytes([info[97] | 3]) + info[98:])
    with pytest.raises(ValueError, match="not ASCII"):
        core.set_tables(forms[:194] + b"\xe1" + forms[195:], info)
    # Nothing was taken: the screen still reads "a" as "a".
    assert core.squeeze_latin1(b"a") == ("a", b"\x1b")


def test_the_compiled_constants_are_the_screens() -> None:
    # The flags and bits are written in both files; a change to one must reach the other.
    assert core.CONSTANTS == {
        "MAY_END": screening._MAY_END, "MAY_START": screening._MAY_START,
        "NUMBER": screening._NUMBER, "FIRST": screening._FIRST, "LAST": screening._LAST,
        "DOUBLE": screening._DOUBLE, "OTHER_BIT": screening._OTHER_BIT,
        "NUMBER_ENDS_HIT": screening._NUMBER_ENDS_HIT, "ENDS_HIT": screening._ENDS_HIT,
        "ALNUM": screening._CORE_ALNUM, "NUMERIC": screening._CORE_NUMERIC,
        "TRANSPARENT": screening._CORE_TRANSPARENT, "DECLINE": screening._CORE_DECLINE}


def test_a_match_outside_the_text_is_an_error_not_a_read() -> None:
    with pytest.raises(IndexError):
        core.starting([(0, 5, 6)], b"\x02\x02")
    shorts: list[list[Any]] = [[()], [(0,)], [(0, 1)]]
    for short in shorts:  # the process must not read past a tuple
        with pytest.raises(ValueError, match="pattern, first, end"):
            core.starting(short, b"\x02\x02")
        with pytest.raises(ValueError, match="pattern, first, end"):
            core.ending(short, b"\x01\x01", "ab", array("I", [1 << 28]), ((),))
    assert core.starting([(0, 1, 2), (1, 0, 2)], b"\x00\x02") == [(0, 1, 2)]
    assert core.starting([(0, 1, 2)], b"\x04\x00") == [(0, 1, 2)]  # a number before it
    tails = array("I", [1 << 28, 1 << 4])  # the end of a word; an ending that begins with "e"
    endings = ((), ("ed",))
    with pytest.raises(IndexError):
        core.ending([(2, 0, 1)], b"\x01\x01", "ab", tails, endings)
    with pytest.raises(IndexError):
        core.ending([(0, 0, 3)], b"\x01\x01", "ab", tails, endings)
    with pytest.raises(ValueError, match="differ in length"):
        core.ending([], b"\x01", "ab", tails, endings)
    with pytest.raises(ValueError, match="different patterns"):
        core.ending([], b"\x01", "a", tails, ((),))
    # "ab|ed": pattern 0 ends a word at 2; pattern 1 goes on with its ending "ed",
    # which ends the word; at 1 neither ends.
    assert core.ending([(0, 0, 2), (1, 0, 2), (0, 0, 1), (1, 0, 1)], b"\x00\x01\x00\x01",
                       "abed", tails, endings) == [(0, 0, 2), (1, 0, 2)]
    # "ab|e" then the text ends: the ending is not all there.
    assert core.ending([(1, 0, 2)], b"\x00\x01\x01", "abe", tails, endings) == []


TERMS = ("weed", "speed", "cocaine", "heroin", "ice", "white girl", "traficar", "droga",
         "2pac", "straße")
BUILT = Screen.build([KeywordTerm(t, "agency", "AG1", "es" if t in ("traficar", "droga")
                                  else "en", 1) for t in TERMS])


DISGUISED = ("weeed", "c0ca1ne", "w e e d", "herion", "drogas", "STRASSE", "iice")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from((*TERMS, *DISGUISED)), LATIN1), max_size=30)
       .map("".join))
def test_a_screen_with_the_pass_holds_what_one_without_it_holds(text: str) -> None:
    with_pass = BUILT.check(text)
    original = screening._screening_core
    screening._screening_core = None  # type: ignore[assignment]
    try:
        without = BUILT.check(text)
    finally:
        screening._screening_core = original
    assert with_pass == without
