"""The screen's quick filters (where a match starts and ends, how long its runs of
one letter are) only set aside matches that the full checks would refuse: a
screen gives the same hits as running the full checks on every match the
automaton reports."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from central import screening
from central.screening import KeywordTerm, Screen

TERMS = ("weed", "speed", "cocaine", "heroin", "ice", "bag", "lsd", "white girl", "pass",
         "traficar", "droga", "llamada", "party", "smuggle", "2pac", "oo7x")
BUILT = Screen.build([KeywordTerm(t, "agency", "AG1", "es" if t in ("traficar", "droga", "llamada")
                                  else "en", 1) for t in TERMS])

# Pieces of text: the terms' letters, doubled, split and glued to endings, digits
# and the symbols read as letters, so that runs, boundaries and endings all vary.
PIECES = st.sampled_from((
    "weed", "wed", "weeed", "we ed", "speed", "sped", "spee d", "speeeed", "cocaine",
    "cocaiine", "coccaine", "heroin", "herion", "ice", "iice", "icee", "bag", "baag",
    "lsd", "white girl", "whitegirl", "whiite  giirl", "pass", "pas", "paass", "pass3s",
    "traficar", "traficando", "trafficaron", "droga", "drogas", "drogita", "llamada",
    "iiamada", "lamada", "party", "parties", "smuggling", "smuggle", "2pac", "oo7x",
    "007x", "s", "e", "d", "i", "l", "1", "4", "!", "$", "ing", "ed", "es", "er", "os"))
SEPARATORS = st.sampled_from(("", " ", "  ", ".", "-", "\u200b", "'", "\n"))


def unfiltered(built: Screen, text: str) -> list[tuple[str, int, int]]:
    """The hits of the full checks run on every match of the automaton."""
    latin1 = screening._as_latin1(text)
    form = screening._fold(text, latin1)
    squeezed = screening._squeeze(form)
    reader = screening._Reader(form, screening._edge_flags(text, latin1),
                               squeezed.marks(len(form)), len(squeezed.text))
    found: dict[tuple[int, int, tuple[KeywordTerm, ...]], None] = {}
    for index, first, end in built._automaton.find_matches_as_indexes(squeezed.text,
                                                                        overlapping=True):
        for pattern in built._entries[index]:
            for begin, finish in reader.hits(end - 1, end - first, pattern):
                found[(begin, finish, pattern.members)] = None
    return sorted({(hit.term.text, hit.start, hit.end)
                   for hit in screening._hits(text, list(found))})


def screened(built: Screen, text: str) -> list[tuple[str, int, int]]:
    return sorted((hit.term.text, hit.start, hit.end) for hit in built.check(text).hits)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(PIECES, SEPARATORS), min_size=1, max_size=12))
def test_the_quick_filters_never_set_aside_a_hit(parts: list[tuple[str, str]]) -> None:
    text = "".join(piece + separator for piece, separator in parts)
    assert screened(BUILT, text) == unfiltered(BUILT, text)


def test_a_match_with_too_few_or_too_many_repeats_is_set_aside_but_not_a_hit() -> None:
    # "sped" and "wed" match the squeezed "sped" and "wed" but lack the double
    # letter; "baag" stretches an exact three-letter term; "speeed" and "we ed" hit.
    for text in ("sped here", "we wed", "a baag"):
        assert screened(BUILT, text) == unfiltered(BUILT, text) == []
    assert screened(BUILT, "speeed and we ed") == [("speed", 0, 6), ("weed", 11, 16)]
    assert screened(BUILT, "speeed and we ed") == unfiltered(BUILT, "speeed and we ed")


def test_a_word_that_goes_on_past_a_match_is_held_only_with_an_ending() -> None:
    # "speedster" goes on with an "s" and then more letters; "heroines" with "es",
    # which is no ending after an "n"; "smuggled" with the "ed" whose "e" joins the
    # term's last letter; "drogas" and "heroins" with endings of their lists.
    held = {"speeders": [("speed", 0, 8)], "heroins": [("heroin", 0, 7)],
            "smuggled": [("smuggle", 0, 8)], "drogas": [("droga", 0, 6)],
            "speedster": [], "heroines": [], "drogasx": [], "speeds4u": []}
    for word, hits in held.items():
        text = f"{word} now"
        assert screened(BUILT, text) == unfiltered(BUILT, text) == hits, word
