"""The screening matcher: evasions it sees through, innocent words it leaves
alone, offsets back into the original text, and what a hit carries."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from central.errors import InvalidInput
from central.screening import (
    MAX_MESSAGE_CHARS,
    SCOPES,
    Hit,
    KeywordTerm,
    Screen,
    Verdict,
    normalize,
)


def term(text: str, scope: str = "agency", scope_id: str = "AG1", language: str = "en",
         list_version: int = 1) -> KeywordTerm:
    return KeywordTerm(text, scope, scope_id, language, list_version)


def screen(*texts: str) -> Screen:
    return Screen.build(term(t) for t in texts)


def found(verdict: Verdict) -> list[tuple[str, str]]:
    """(term text, excerpt) of every hit."""
    return [(hit.term.text, hit.excerpt) for hit in verdict.hits]


LIST = screen("drugs", "meth", "cocaine", "heroin", "white girl", "ass", "ice", "gun",
              "hell", "shank", "bag", "strasse", "fish")


# -- evasions --------------------------------------------------------------------


@pytest.mark.parametrize("message", ["DRUGS", "Drugs", "dRuGs", "ＤＲＵＧＳ"])
def test_case_does_not_hide_a_term(message: str) -> None:
    assert found(LIST.check(f"got the {message} today")) == [("drugs", message)]


@pytest.mark.parametrize("message", [
    "cócaïne", "CÓCAÏNE", "co\u0301cai\u0308ne", "cŏçàînē", "ćọćạįńẹ",
])
def test_accents_do_not_hide_a_term(message: str) -> None:
    assert found(LIST.check(f"{message} please")) == [("cocaine", message)]


@pytest.mark.parametrize(("message", "hidden"), [
    ("m3th", "meth"), ("c0ca1ne", "cocaine"), ("h3r01n", "heroin"), ("@ss", "ass"),
    ("4ss", "ass"), ("$hank", "shank"), ("5hank", "shank"), ("!ce", "ice"), ("|ce", "ice"),
    ("1ce", "ice"), ("9un", "gun"), ("8ag", "bag"), ("he11", "hell"), ("heII", "hell"),
    ("dru9$", "drugs"), ("7he ice", "ice"), ("m€th", "meth"),
])
def test_digits_and_symbols_standing_for_letters(message: str, hidden: str) -> None:
    assert hidden in [t for t, _ in found(LIST.check(f"so {message} ok"))]


def test_l_1_i_and_bars_all_read_the_same() -> None:
    assert normalize("l") == normalize("1") == normalize("i") == normalize("I") \
        == normalize("!") == normalize("|") == normalize("L")
    assert found(screen("lil").check("1i| i!l LIL")) == [("lil", "1i|"), ("lil", "i!l"),
                                                           ("lil", "LIL")]


@pytest.mark.parametrize("message", [
    "\u043cеth",  # Cyrillic em and ie
    "\u0441\u043e\u0441\u0430in\u0435",  # Cyrillic es, o, es, a and ie: "cocaine"
    "\u039c\u0395\u03a4\u0397",  # Greek capitals mu, epsilon, tau, eta
    "\u03bf",  # Greek small omicron, alone: not a term
    "𝐦𝐞𝐭𝐡",  # mathematical bold
])
def test_look_alike_letters_from_other_scripts(message: str) -> None:
    verdict = LIST.check(f"try {message} now")
    if message == "\u03bf":
        assert not verdict.held
    else:
        assert [hit.excerpt for hit in verdict.hits] == [message]


@pytest.mark.parametrize("message", [
    "d r u g s", "d.r.u.g.s", "d-r-u-g-s", "d_r_u_g_s", "d  r   u g s", "d/r\\u+g.s",
    "dr ugs", "d.r.u.g.s.", "D.R.Ú.G.S", "dr\u200bugs", "dr\u00adugs", "d😀r😀u😀g😀s",
    "d\nr\tu\rg s",
])
def test_spacing_and_punctuation_between_letters(message: str) -> None:
    verdict = LIST.check(f"buy {message} now")
    assert [hit.term.text for hit in verdict.hits] == ["drugs"]
    assert verdict.hits[0].excerpt == message.rstrip(".")


@pytest.mark.parametrize("message", [
    "white girl", "whitegirl", "white  girl", "w h i t e g i r l", "WHITE-GIRL", "white_girl",
    "Whi te gi rl", "wh1te g1rl",
])
def test_a_phrase_matches_however_it_is_spaced(message: str) -> None:
    assert found(LIST.check(f"got some {message}.")) == [("white girl", message)]


# -- innocent words ----------------------------------------------------------------


@pytest.mark.parametrize("message", [
    "I go to class on Monday", "the assassin in the film", "a passage from the book",
    "meet me at the drugstore", "the red rugs are new", "something for methane",
    "practice makes perfect", "hello Michelle", "shellfish", "a nice slice", "begun",
    "cl@ss", "bass guitar", "embassy", "notice the police", "Advice", "gunk",
    "a bagel", "fishing",
])
def test_words_that_merely_contain_a_term_do_not_hit(message: str) -> None:
    assert not LIST.check(message).held, found(LIST.check(message))


@pytest.mark.parametrize("message", [
    "buy drugs now", "drugs", "drugs!", "(drugs)", "\"drugs\"", "drugs.", "drugs, meth",
    "d r u g s", "😀drugs😀", "$drugs",
])
def test_the_same_words_standing_alone_do_hit(message: str) -> None:
    assert "drugs" in [t for t, _ in found(LIST.check(message))]


def test_a_match_must_not_split_one_characters_expansion() -> None:
    # "ß" reads "ss" and "ﬁ" reads "fi": a match may not start or end inside them.
    checked = screen("stras", "ish", "sa", "fis").check("Straß ﬁsh ßa")
    assert found(checked) == []
    assert found(screen("strass", "ssa").check("Straß ﬁsh ßa")) == [("strass", "Straß"),
                                                                    ("ssa", "ßa")]


def test_combining_marks_belong_to_their_letter() -> None:
    # The mark after "e" does not make a word boundary before "ass".
    assert not screen("ass").check("cle\u0301ass").held
    assert not screen("ass").check("ass\u0301x").held
    checked = screen("ass").check("a e\u0301 ass\u0301 b")
    assert found(checked) == [("ass", "ass\u0301")]


# -- offsets, terms and order ----------------------------------------------------------


def test_offsets_index_the_original_text() -> None:
    text = "Straße 😀 ﬁsh, d\u0301rugs! ok ｍｅｔｈ"
    verdict = screen("strasse", "fish", "drugs", "meth").check(text)
    assert [(h.term.text, h.excerpt) for h in verdict.hits] == [
        ("strasse", "Straße"), ("fish", "ﬁsh"), ("drugs", "d\u0301rugs"), ("meth", "ｍｅｔｈ")]
    for hit in verdict.hits:
        assert hit.excerpt == text[hit.start:hit.end]
    assert (verdict.hits[0].start, verdict.hits[0].end) == (0, 6)
    assert (verdict.hits[1].start, verdict.hits[1].end) == (9, 12)


def test_a_hit_carries_its_term() -> None:
    kept = KeywordTerm("shank", "unit", "U-B2", "en", 7)
    verdict = Screen.build([kept]).check("bring the shank")
    assert verdict.held
    assert verdict.hits == (Hit(kept, 10, 15, "shank"),)
    assert verdict.hits[0].term.scope == "unit"
    assert verdict.hits[0].term.scope_id == "U-B2"
    assert verdict.hits[0].term.list_version == 7
    assert verdict.hits[0].term.language == "en"


def test_terms_that_read_the_same_each_report_a_hit_in_scope_order() -> None:
    terms = [term("Meth", "resident", "R1", list_version=2), term("meth", "unit", "U1"),
             term("m3th", "agency", "AG1", "es", 4), term("METH", "facility", "F1")]
    built = Screen.build([*terms, terms[1]])  # the same term twice counts once
    assert built.size == 1
    verdict = built.check("no m.e.t.h here")
    assert [(h.term.scope, h.term.text) for h in verdict.hits] == [
        ("agency", "m3th"), ("facility", "METH"), ("unit", "meth"), ("resident", "Meth")]
    assert {h.excerpt for h in verdict.hits} == {"m.e.t.h"}


def test_hits_are_ordered_by_start_then_scope_then_text() -> None:
    built = Screen.build([term("white girl", "unit"), term("white", "agency"),
                          term("girl", "agency"), term("white", "unit"), term("ice")])
    verdict = built.check("ice, white girl")
    assert [(h.start, h.term.scope, h.term.text) for h in verdict.hits] == [
        (0, "agency", "ice"), (5, "agency", "white"), (5, "unit", "white"),
        (5, "unit", "white girl"), (11, "agency", "girl")]


def test_size_counts_distinct_patterns() -> None:
    assert screen("meth", "M3TH", "m e t h", "drugs").size == 2
    assert Screen.build([]).size == 0


def test_an_empty_list_never_holds() -> None:
    empty = Screen.build([])
    for message in ("", "drugs", "d r u g s", "x" * MAX_MESSAGE_CHARS):
        assert empty.check(message) == Verdict(())
        assert not empty.check(message).held


def test_a_clean_message_is_not_held() -> None:
    verdict = LIST.check("Hi mom, the kids are well. See you Sunday at the visit!")
    assert verdict == Verdict(())
    assert not verdict.held


# -- what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "...", "😀", "\u0301", "-_-"])
def test_a_term_with_nothing_to_match_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="no letters or digits"):
        screen("drugs", text)


def test_a_term_longer_than_200_characters_is_refused() -> None:
    assert screen("a" * 200).size == 1
    with pytest.raises(InvalidInput, match="201 characters"):
        screen("a" * 201)


def test_a_term_of_an_unknown_scope_is_refused() -> None:
    with pytest.raises(InvalidInput, match="scope 'state'"):
        Screen.build([term("drugs", "state")])


def test_a_message_longer_than_the_limit_is_refused() -> None:
    assert LIST.check("x " * (MAX_MESSAGE_CHARS // 2)) == Verdict(())
    with pytest.raises(InvalidInput) as raised:
        LIST.check("x" * (MAX_MESSAGE_CHARS + 1))
    assert raised.value.code == "message_too_long"


def test_a_message_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput):
        LIST.check(b"drugs")  # type: ignore[arg-type]


def test_broken_text_gets_a_verdict() -> None:
    text = "\ud800 drugs \udfff\x00 m\x00eth"  # lone surrogates and NULs
    assert found(LIST.check(text)) == [("drugs", "drugs"), ("meth", "m\x00eth")]


def test_a_long_message_of_rare_characters_gets_a_verdict() -> None:
    # Every character different, none of them Latin-1: the slow path, at the limit.
    text = "".join(chr(0x4E00 + i % 20000) for i in range(MAX_MESSAGE_CHARS - 8)) + " drugs!"
    assert found(LIST.check(text)) == [("drugs", "drugs")]


# -- properties -------------------------------------------------------------------------

LETTERS = "abcdefghijkmnopqrstuvwxyz"  # no "l": it reads "i"
terms_text = st.text(LETTERS, min_size=2, max_size=10)
clean_words = st.lists(st.sampled_from(["hello", "mom", "see", "you", "soon", "the", "kids",
                                        "ok", "yes", "tomorrow", "court"]), max_size=6)
separators = st.sampled_from([" ", ".", "-", "_", "  ", ". ", "\u200b", "*"])
FAST = settings(max_examples=100, deadline=None)


def clean(words: list[str], used: str) -> str:
    return " ".join(w for w in words if normalize(used) not in normalize(w))


@FAST
@given(terms_text, st.data(), clean_words, clean_words)
def test_separators_between_the_letters_of_a_term_never_hide_it(
        text: str, data: st.DataObject, before: list[str], after: list[str]) -> None:
    spaced = text[0] + "".join(data.draw(st.one_of(st.just(""), separators)) + letter
                               for letter in text[1:])
    message = f"{clean(before, text)} {spaced} {clean(after, text)}"
    verdict = screen(text).check(message)
    assert spaced in [hit.excerpt for hit in verdict.hits]


ACCENTS = [chr(c) for c in range(0x300, 0x370)]


@FAST
@given(terms_text, st.data(), clean_words)
def test_case_and_accents_never_hide_a_term(text: str, data: st.DataObject,
                                           before: list[str]) -> None:
    disguised = ""
    for letter in text:
        cased = letter.upper() if data.draw(st.booleans()) else letter
        marks = "".join(data.draw(st.lists(st.sampled_from(ACCENTS), max_size=2)))
        if data.draw(st.booleans()):
            disguised += unicodedata.normalize("NFC", cased + marks)
        else:
            disguised += cased + marks
    message = f"{clean(before, text)} {disguised}!"
    verdict = screen(text).check(message)
    assert disguised in [hit.excerpt for hit in verdict.hits]


@FAST
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]) |
                        st.sampled_from("drugsmethß ﬁ.\u0301"), max_size=40), max_size=30),
       st.lists(st.sampled_from(["drugs", "meth", "ß", "ss", "fi", "a", "e", "s", "ﬁsh"]),
                min_size=1, max_size=4))
def test_every_hit_points_at_its_excerpt(pieces: list[str], texts: list[str]) -> None:
    text = "".join(pieces)
    verdict = screen(*texts).check(text)
    starts = [hit.start for hit in verdict.hits]
    assert starts == sorted(starts)
    for hit in verdict.hits:
        assert 0 <= hit.start < hit.end <= len(text)
        assert hit.excerpt == text[hit.start:hit.end]
        assert normalize(hit.excerpt) == normalize(hit.term.text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_gets_a_verdict(text: str) -> None:
    verdict = LIST.check(text)
    for hit in verdict.hits:
        assert hit.excerpt == text[hit.start:hit.end]
        assert normalize(hit.excerpt) == normalize(hit.term.text)


@FAST
@given(st.text(max_size=200))
def test_the_matching_form_is_built_one_character_at_a_time(text: str) -> None:
    # "Ω" is outside Latin-1, so the two sides take different paths to the form.
    assert normalize(text + "Ω") == normalize(text) + normalize("Ω")
    assert normalize(text) == "".join(normalize(ch) for ch in text)


# Words of letters (some with accents or of more than one letter's form) and the
# terms made of the same letters, so that runs of words often spell a term.
WORD_LETTERS = "abeisßéﬁ" + "\u0441"  # the last is a Cyrillic es, read "c"
word_texts = st.text(WORD_LETTERS, min_size=1, max_size=4)
gaps = st.sampled_from([" ", ", ", " - ", "\n", " 😀 ", "..."])


def spelled_by_runs(words: list[str], patterns: set[str]) -> set[tuple[int, int]]:
    """(first, last) word indexes of every run of words whose forms join to a pattern."""
    runs = set()
    for first in range(len(words)):
        joined = ""
        for last in range(first, len(words)):
            joined += normalize(words[last])
            if joined in patterns:
                runs.add((first, last))
    return runs


@settings(max_examples=150, deadline=None)
@given(st.lists(word_texts, min_size=1, max_size=12), st.lists(gaps, min_size=12, max_size=12),
       st.lists(st.text("abeisc", min_size=1, max_size=6), min_size=1, max_size=6))
def test_hits_are_exactly_the_runs_of_whole_words_that_spell_a_term(
        words: list[str], between: list[str], texts: list[str]) -> None:
    text, starts, ends = "", [], []
    for word, gap in zip(words, between, strict=False):
        starts.append(len(text))
        text += word
        ends.append(len(text))
        text += gap
    built = screen(*texts)
    runs = spelled_by_runs(words, {normalize(t) for t in texts})
    verdict = built.check(text)
    assert {(hit.start, hit.end) for hit in verdict.hits} == {
        (starts[first], ends[last]) for first, last in runs}
    assert verdict.held == bool(runs)


@settings(max_examples=150, deadline=None)
@given(st.lists(word_texts, min_size=1, max_size=12), st.lists(gaps, min_size=12, max_size=12),
       st.lists(st.text("abeisc", min_size=1, max_size=6), min_size=1, max_size=6))
def test_words_that_are_no_terms_never_hit(words: list[str], between: list[str],
                                           texts: list[str]) -> None:
    patterns = {normalize(t) for t in texts}
    # No word is a term, and no run of words spells one. A word may well contain a
    # term ("class" holds "ass"): that alone must not hit.
    assume(not spelled_by_runs(words, patterns))
    text = "".join(word + gap for word, gap in zip(words, between, strict=False))
    assert not screen(*texts).check(text).held


def test_latin1_text_and_other_text_see_the_same_word_boundaries() -> None:
    # Text below U+0100 goes through byte tables; "Ω" sends it the general way.
    built = screen("ab")
    for code in range(256):
        ch = chr(code)
        for text in (f"{ch}ab{ch}", f"ab{ch}b", f"{ch}a{ch}b"):
            assert built.check(text).held == built.check(text + " Ω").held, repr(text)


def test_scopes_are_the_four_levels_in_order() -> None:
    assert SCOPES == ("agency", "facility", "unit", "resident")
