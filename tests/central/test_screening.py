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
from central.screening_bidi import displayed_order
from central.screening_tables import IGNORABLE, LOOKALIKES, UNICODE_VERSION
from central.screening_variants import DIGITS_MIN_LETTERS, FUZZ_MIN_LETTERS


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
    "a bagel", "fisherman", "heroines", "methods", "assess", "iced tea", "guns",
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
    checked = screen("ish", "sa", "as", "fis").check("Straß ﬁsh ßa aß")
    assert found(checked) == []
    assert found(screen("ass", "ssa").check("Straß ﬁsh ßa aß")) == [("ssa", "ßa"),
                                                                    ("ass", "aß")]
    # A word of four letters or more may repeat a letter, and "ß" is a repeated "s".
    assert found(screen("stras").check("Straß")) == [("stras", "Straß")]


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
    message = f"{clean(before, text)} {disguised}."  # ("!" would read "i")
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
        if len(normalize(hit.term.text)) < DIGITS_MIN_LETTERS:  # spelt exactly as listed
            assert normalize(hit.excerpt) == normalize(hit.term.text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_gets_a_verdict(text: str) -> None:
    verdict = LIST.check(text)
    for hit in verdict.hits:
        assert hit.excerpt == text[hit.start:hit.end]


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


# Terms of up to three letters are matched exactly as spelt: no repeats, swaps or
# endings (a hit of a longer term is checked by the tests of evasions below).
exact_terms = st.lists(st.text("abeisc", min_size=1, max_size=FUZZ_MIN_LETTERS - 1),
                       min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(word_texts, min_size=1, max_size=12), st.lists(gaps, min_size=12, max_size=12),
       exact_terms)
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
       exact_terms)
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


# -- evasions: characters that render as nothing ------------------------------------------

ENGLISH = Screen.build([term(t) for t in ("drugs", "smuggle", "stab", "party", "cocaine",
                                          "weed", "ice", "white girl")])
SPANISH = Screen.build([term(t, language="es") for t in ("droga", "traficar", "cuchillo",
                                                         "vender", "pistola", "arma")])
FILLERS = [
    "\u3164", "\u115f", "\u1160", "\uffa0",  # Hangul fillers
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width characters, word joiner
    "\u034f", "\ufe0f", "\U000e0100",  # combining grapheme joiner, variation selectors
    "\u00ad", "\u180e", "\u2064", "\U000e0041",  # soft hyphen, Mongolian, invisible plus, tag
]


def held_as(built: Screen, message: str) -> list[tuple[str, str]]:
    return found(built.check(message))


@pytest.mark.parametrize("filler", FILLERS)
def test_fillers_that_render_as_nothing_do_not_hide_a_term(filler: str) -> None:
    for message, built, listed in (("drugs", ENGLISH, "drugs"), ("droga", SPANISH, "droga")):
        inside = message[:2] + filler + message[2:]
        around = filler + message + filler * 3
        everywhere = filler.join(message)
        for disguised in (inside, around, everywhere):
            assert listed in [t for t, _ in held_as(built, f"hola {disguised} ok")], \
                repr(disguised)
    # Nor do they join an innocent word to a term: "class" with a filler is still "class".
    assert not screen("ass").check(f"cl{filler}ass").held


IGNORABLE_CHARS = st.sampled_from(sorted(
    chr(code) for first, last in IGNORABLE for code in range(first, min(last, first + 300) + 1)))


@FAST
@given(st.sampled_from(["drugs", "cocaine", "droga", "cuchillo", "ice"]), st.data())
def test_any_default_ignorable_character_anywhere_is_read_through(
        text: str, data: st.DataObject) -> None:
    spelled = "".join(letter + "".join(data.draw(st.lists(IGNORABLE_CHARS, max_size=2)))
                      for letter in text)
    prefix = "".join(data.draw(st.lists(IGNORABLE_CHARS, max_size=2)))
    assert text in [t for t, _ in found(screen(text).check(f"a {prefix}{spelled} b"))]


# -- evasions: letters and numbers glued on --------------------------------------------------


@pytest.mark.parametrize(("message", "listed"), [
    ("drugs", "drugs"), ("smuggles", "smuggle"), ("smuggled", "smuggle"),
    ("smuggling", "smuggle"), ("smuggler", "smuggle"), ("smugglers", "smuggle"),
    ("smugglin'", "smuggle"), ("stabs", "stab"), ("stabbed", "stab"), ("stabbing", "stab"),
    ("stabber", "stab"), ("parties", "party"), ("partied", "party"), ("weeds", "weed"),
    ("white girls", "white girl"), ("420drugs", "drugs"), ("drugs420", "drugs"),
    ("2smuggle", "smuggle"), ("stabbing24", "stab"), ("ice2", "ice"), ("99ice", "ice"),
])
def test_english_endings_and_numbers_glued_to_a_term(message: str, listed: str) -> None:
    assert held_as(ENGLISH, f"they {message} it.") == [(listed, message.rstrip("'"))]


@pytest.mark.parametrize(("message", "listed"), [
    ("drogas", "droga"), ("drogo", "droga"), ("drogos", "droga"), ("traficando", "traficar"),
    ("traficado", "traficar"), ("traficadas", "traficar"), ("traficaron", "traficar"),
    ("traficarlo", "traficar"), ("traficarla", "traficar"), ("cuchillos", "cuchillo"),
    ("cuchillito", "cuchillo"), ("cuchilla", "cuchillo"), ("vendiendo", "vender"),
    ("vendido", "vender"), ("vendieron", "vender"), ("venderlos", "vender"),
    ("pistolas", "pistola"), ("armas", "arma"), ("3droga", "droga"), ("pistolas45", "pistola"),
])
def test_spanish_endings_and_numbers_glued_to_a_term(message: str, listed: str) -> None:
    assert held_as(SPANISH, f"las {message} ya") == [(listed, message)]


@pytest.mark.parametrize(("built", "message"), [
    (ENGLISH, "drugstore"), (ENGLISH, "stable"), (ENGLISH, "partisan"), (ENGLISH, "iced"),
    (ENGLISH, "ices"), (ENGLISH, "drugs4u"), (ENGLISH, "weedy"), (ENGLISH, "cocaines2go"),
    (ENGLISH, "smuggl"), (ENGLISH, "wed"),
    (SPANISH, "tráfico"), (SPANISH, "traficante"), (SPANISH, "armario"), (SPANISH, "armado"),
    (SPANISH, "vendedor"), (SPANISH, "droguería"), (SPANISH, "pistolero"), (SPANISH, "trafic"),
])
def test_words_that_begin_with_a_term_but_are_no_form_of_it_do_not_hit(
        built: Screen, message: str) -> None:
    assert held_as(built, f"el {message} ok") == []


def test_a_term_of_three_letters_takes_no_ending() -> None:
    # "ice" is matched as spelt: "ices", "iced", "icer" and "iice" are other words.
    assert held_as(ENGLISH, "ice ices iced icer iice icce") == [("ice", "ice")]


def test_endings_follow_the_language_of_the_list() -> None:
    both = Screen.build([term("pistola", language="es"), term("hell", language="en")])
    assert held_as(both, "pistolas hells pistolaed hellos") == [
        ("pistola", "pistolas"), ("hell", "hells")]


# -- evasions: look-alikes, small capitals and compatibility forms -----------------------------


@pytest.mark.parametrize("message", [
    "ᴅʀᴜɢꜱ",  # small capitals
    "ⓓⓡⓤⓖⓢ", "⒟⒭⒰⒢⒮", "🅓🅡🅤🅖🅢", "🄳🅁🅄🄶🅂",  # circled, parenthesized, negative
    "ｄｒｕｇｓ", "𝕕𝕣𝕦𝕘𝕤", "𝓭𝓻𝓾𝓰𝓼", "𝚍𝚛𝚞𝚐𝚜",  # fullwidth, mathematical
    "ᵈʳᵘᵍˢ",  # superscripts
    "ԁгսɡѕ",  # Cyrillic, Armenian and Latin look-alikes
    "Ꭰrugs", "ɗrugs", "ⅾrugs",  # Cherokee, d with hook, small roman numeral five hundred
])
def test_look_alikes_and_compatibility_forms_in_english(message: str) -> None:
    assert held_as(ENGLISH, f"got {message} today") == [("drugs", message)]


@pytest.mark.parametrize("message", [
    "ᴅʀᴏɢᴀ", "ⓓⓡⓞⓖⓐ", "ｄｒｏｇａ", "𝖉𝖗𝖔𝖌𝖆", "ԁгоցа", "ᵈʳᵒᵍᵃ", "dгօgа",
])
def test_look_alikes_and_compatibility_forms_in_spanish(message: str) -> None:
    assert held_as(SPANISH, f"la {message} ya") == [("droga", message)]


PASSES_FOR: dict[str, list[str]] = {}
for _code, _form in LOOKALIKES.items():
    if len(_form) == 1 and _form.isalpha() and _form.islower():
        PASSES_FOR.setdefault(_form, []).append(chr(_code))


@FAST
@given(st.sampled_from(["drugs", "cocaine", "shank", "droga", "pistola", "navaja"]), st.data())
def test_every_confusable_of_each_letter_reads_as_it(text: str, data: st.DataObject) -> None:
    disguised = "".join(data.draw(st.sampled_from([letter, *PASSES_FOR.get(letter, [])]))
                        for letter in text)
    assert found(screen(text).check(f"the {disguised} now")) == [(text, disguised)]


def test_the_look_alike_table_is_unicodes() -> None:
    assert UNICODE_VERSION == "17.0.0"
    assert LOOKALIKES[0x0430] == "a"  # Cyrillic a
    assert LOOKALIKES[0x13A0] == "D"  # Cherokee A looks like a D
    assert LOOKALIKES[0x1D05] == "d"  # small capital D, by its name
    assert LOOKALIKES[0x043C] == "m"  # Cyrillic em, through its prototype's small capital
    assert 0x00E9 not in LOOKALIKES  # "é": decomposition does it at run time


# -- evasions: repeated letters and swapped pairs -----------------------------------------------


@pytest.mark.parametrize(("built", "message", "listed"), [
    (ENGLISH, "druuuugs", "drugs"), (ENGLISH, "dddrugs", "drugs"), (ENGLISH, "drugsssss", "drugs"),
    (ENGLISH, "coooocaaaine", "cocaine"), (ENGLISH, "weeeeed", "weed"),
    (ENGLISH, "d r u u u g s", "drugs"), (ENGLISH, "whiiite giiirl", "white girl"),
    (ENGLISH, "durgs", "drugs"), (ENGLISH, "drgus", "drugs"), (ENGLISH, "cocanie", "cocaine"),
    (ENGLISH, "ccoaine", "cocaine"), (ENGLISH, "smgugling", "smuggle"),
    (ENGLISH, "duuurgs", "drugs"),
    (SPANISH, "drooooga", "droga"), (SPANISH, "cuuuchillo", "cuchillo"),
    (SPANISH, "dorga", "droga"), (SPANISH, "tarficar", "traficar"),
    (SPANISH, "pitsola", "pistola"), (SPANISH, "tarficando", "traficar"),
])
def test_repeated_letters_and_swapped_pairs(built: Screen, message: str, listed: str) -> None:
    assert held_as(built, f"ok {message} ok") == [(listed, message)]


@pytest.mark.parametrize(("built", "message"), [
    (ENGLISH, "rdugs"), (ENGLISH, "drusg"),  # the first and last letters stay put
    (ENGLISH, "wed"), (ENGLISH, "drgs"),  # a letter may be repeated, never left out
    (ENGLISH, "iice"), (ENGLISH, "icce"), (ENGLISH, "iec"),  # three letters: as spelt
    (SPANISH, "rdoga"), (SPANISH, "arams"), (SPANISH, "rama"),
])
def test_what_is_no_repeat_or_swap_does_not_hit(built: Screen, message: str) -> None:
    assert held_as(built, f"ok {message} ok") == []


@FAST
@given(st.sampled_from(["drugs", "cocaine", "smuggle", "droga", "cuchillo", "traficar"]),
       st.data())
def test_stretching_any_letters_of_a_long_term_never_hides_it(
        text: str, data: st.DataObject) -> None:
    stretched = "".join(letter * data.draw(st.integers(1, 4)) for letter in text)
    assert text in [t for t, _ in found(screen(text).check(f"ya {stretched}!"))]


@FAST
@given(st.sampled_from(["drugs", "cocaine", "smuggle", "droga", "cuchillo", "traficar"]),
       st.data())
def test_swapping_one_inner_pair_never_hides_it(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(1, len(text) - 3))
    swapped = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    assert text in [t for t, _ in found(screen(text).check(f"ya {swapped}!"))]


def test_a_list_of_variants_stays_bounded() -> None:
    # Each inner pair adds a spelling, each spelling ending in "e" a stem ("cocain"
    # for "cocained"); runs of one letter add none, however long.
    built = screen("cocaine")
    assert built.size == 1
    assert built.patterns == (1 + 4) * 2  # the term and its four inner swaps, and stems
    assert screen("a" * 200).patterns == 1


# -- evasions: text reversed by bidirectional controls -------------------------------------------

RLO, LRO, PDF, RLI, PDI, RLE = "\u202e", "\u202d", "\u202c", "\u2067", "\u2069", "\u202b"


@pytest.mark.parametrize(("message", "built", "listed"), [
    (f"{RLO}sgurd{PDF}", ENGLISH, "drugs"),
    (f"{RLO}sgurd", ENGLISH, "drugs"),  # an override runs to the end of the paragraph
    (f"d{RLO}gur{PDF}s", ENGLISH, "drugs"),
    (f"{RLI}{RLO}sgurd{PDF}{PDI}", ENGLISH, "drugs"),
    (f"{RLO}lrig etihw{PDF}", ENGLISH, "white girl"),
    (f"{RLO}agord{PDF}", SPANISH, "droga"),
    (f"{RLO}sagord{PDF}", SPANISH, "droga"),
    (f"{RLO}ɐɓoɹp{PDF} {RLO}agord", SPANISH, "droga"),
])
def test_an_override_that_reverses_a_word_does_not_hide_it(
        message: str, built: Screen, listed: str) -> None:
    verdict = built.check(f"hi {message} ok")
    assert listed in [hit.term.text for hit in verdict.hits]
    for hit in verdict.hits:  # the excerpt is the stored text, reversed letters and all
        assert hit.excerpt == f"hi {message} ok"[hit.start:hit.end]


def test_a_term_is_held_whether_stored_or_displayed() -> None:
    # Stored "drugs" shows as "sgurd": held for what is stored.
    assert held_as(ENGLISH, f"{RLO}drugs{PDF}") == [("drugs", "drugs")]
    # A nested left-to-right override shows its letters in stored order again.
    assert held_as(ENGLISH, f"{RLO}{LRO}drugs{PDF}{PDF}") == [("drugs", "drugs")]
    # An embedding without override does not reverse Latin letters.
    assert held_as(ENGLISH, f"{RLE}sgurd{PDF}") == []


def test_displayed_order_follows_the_overrides() -> None:
    def shown(text: str) -> str:
        return "".join(text[i] for i in displayed_order(text))

    assert shown(f"ab{RLO}cde{PDF}fg") == "abedcfg"
    assert shown(f"{RLO}ab{LRO}cd{PDF}ef{PDF}") == "fecdba"
    assert shown(f"{RLO}abc\ndef") == "cba\ndef"  # a paragraph ends every override
    assert shown(f"{PDF}{PDF}ab") == "ab"  # unmatched closers change nothing
    assert shown(f"x{RLI}ab{PDI}y") == "xaby"  # Latin letters in an isolate keep their order
    assert shown(RLO * 200 + "abc") == "cba"  # past the depth limit, overrides are ignored
    assert shown("hello") == "hello"
