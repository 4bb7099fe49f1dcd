"""Throughput of message screening, against plain pyahocorasick on the same text.

A 10,000-term keyword list (generated pseudo-words and some phrases of the kind
staff add) and about 20 MB of generated messages, mostly clean with a few
planted hits, some of them disguised. The raw figure is an automaton over the
terms as typed, run over the whole corpus as one string; ours is
``Screen.check`` on each message, with normalization and word-boundary checks.
Both are the best of a few rounds taken in this one run.
"""

from __future__ import annotations

import collections
import random
import time

import ahocorasick

from central.screening import KeywordTerm, Screen, normalize

SEED = 20261123
TERMS = 10_000
CORPUS_BYTES = 20_000_000
ROUNDS = 3

ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
          "w", "z", "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "sl", "st", "th",
          "tr", "qu")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "y")
CODAS = ("", "", "", "", "n", "r", "s", "t", "ck", "ll", "nd", "ng", "sh", "x")

PHRASES = ("white girl", "black tar", "green dot card", "cash app me", "three way call",
           "burner phone", "hit the fence", "drop spot", "kite it over", "shank",
           "escape plan", "the package", "send the pin", "new number", "go loud",
           "blue pills", "ice cream man", "snow white", "pay the toll", "tag the wall")

# Everyday words the messages are mostly made of.
ENGLISH_WORDS = (
    "i you he she we they it me him her us them my your our their the a an and or but "
    "so if then when because about after before again all also always am are be been "
    "being can could did do does doing done down even every for from get give go going "
    "good got had has have having here how just know last like little long look made make "
    "many may more most much must never new next no not now of off old on once only other "
    "out over own people please put really right said same say see should since some soon "
    "still such sure take tell than thank that these thing think this those through time "
    "to today told too try under until up very want was way week well went were what where "
    "which while who why will with without work would write year yes yet love miss mom dad "
    "baby kids school lawyer court visit call letter money food home family happy sorry "
    "hope pray church birthday sister brother aunt uncle cousin friend game weekend night "
    "morning tomorrow yesterday hearing judge phone tablet commissary canteen account "
    "doctor medicine class program job release date parole officer check card store bus"
)
SPANISH_WORDS = ("hola mamá papá te quiero mucho está bien cómo estás gracias por todo el día "
                 "de la semana mañana niños escuela corazón familia abogado visita carta "
                 "dinero comida casa feliz perdón espero")
ENGLISH = ENGLISH_WORDS.split()
SPANISH = SPANISH_WORDS.split()


def pseudo_word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                   for _ in range(syllables))


def keyword_terms(rng: random.Random) -> list[KeywordTerm]:
    scopes = ("agency", "facility", "unit", "resident")
    texts: dict[str, str] = {}  # matching form -> text
    for phrase in PHRASES:
        texts.setdefault(normalize(phrase), phrase)
    # A made-up word that happens to spell everyday words ("thatdo") would be a
    # term no one would list; leave those out so that clean messages stay clean.
    everyday = ENGLISH + SPANISH
    common = {normalize(a + b) for a in everyday for b in everyday} | set(map(normalize, everyday))
    while len(texts) < TERMS:
        word = pseudo_word(rng, rng.choice((2, 2, 2, 3, 3, 4)))
        if normalize(word) not in common:
            texts.setdefault(normalize(word), word)
    return [KeywordTerm(text, scopes[i % 4], f"S{i % 7}", "en", 1 + i % 3)
            for i, text in enumerate(texts.values())]


def disguise(rng: random.Random, term: str) -> str:
    """A term as someone dodging the screen might write it."""
    how = rng.randrange(5)
    if how == 0:
        return rng.choice(" .-_").join(term.replace(" ", ""))
    if how == 1:
        return term.upper()
    if how == 2:
        return term.replace("o", "0").replace("e", "3").replace("a", "@")
    if how == 3:  # Cyrillic o and a
        return term.replace("o", "\u043e").replace("a", "\u0430")
    return term


def corpus(rng: random.Random, terms: list[KeywordTerm]) -> tuple[list[str], list[str]]:
    """Messages of 500 to 2,000 characters, and those of them in which a term was
    planted (about one in a hundred)."""
    patterns = {normalize(t.text) for t in terms}
    # Made-up names and slang, kept apart from the keyword list.
    made_up = [w for w in (pseudo_word(rng, rng.choice((1, 2, 3))) for _ in range(3000))
               if normalize(w) not in patterns]
    messages: list[str] = []
    planted: list[str] = []
    size = 0
    while size < CORPUS_BYTES:
        spanish = rng.random() < 0.1
        words: list[str] = []
        length = rng.randint(500, 2000)
        chars = 0
        while chars < length:
            pick = rng.random()
            if pick < 0.12:
                word = rng.choice(made_up)
            elif spanish and pick < 0.6:
                word = rng.choice(SPANISH)
            else:
                word = rng.choice(ENGLISH)
            if rng.random() < 0.08:
                word += rng.choice((".", ",", "!", "?", " :)"))
            if rng.random() < 0.05:
                word = word.capitalize()
            words.append(word)
            chars += len(word) + 1
        plant = rng.random() < 0.01
        if plant:
            words.insert(rng.randrange(len(words)), disguise(rng, rng.choice(terms).text))
        message = " ".join(words)
        messages.append(message)
        if plant:
            planted.append(message)
        size += len(message.encode())
    return messages, planted


def raw_automaton(terms: list[KeywordTerm]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for index, term in enumerate(terms):
        automaton.add_word(term.text, index)
    automaton.make_automaton()
    return automaton


def raw_seconds(automaton: ahocorasick.Automaton, text: str) -> float:
    started = time.perf_counter()
    collections.deque(automaton.iter(text), maxlen=0)
    return time.perf_counter() - started


def screen_seconds(screen: Screen, messages: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    held = sum(screen.check(m).held for m in messages)
    return time.perf_counter() - started, held


def run() -> dict[str, tuple[float, str, str]]:
    rng = random.Random(SEED)
    terms = keyword_terms(rng)
    messages, planted = corpus(rng, terms)
    screen = Screen.build(terms)
    automaton = raw_automaton(terms)
    text = "\n".join(messages)
    size = len(text.encode())  # the messages' bytes, and one newline between each two
    raw_best = ours_best = float("inf")
    held = 0
    for _ in range(ROUNDS):  # alternate, so that a busy moment on the machine hits both
        raw_best = min(raw_best, raw_seconds(automaton, text))
        seconds, held = screen_seconds(screen, messages)
        ours_best = min(ours_best, seconds)
    raw = size / raw_best / 1e6
    ours = sum(len(m.encode()) for m in messages) / ours_best / 1e6
    caught = sum(screen.check(m).held for m in planted)
    return {
        "screening.mbps": (ours, "MB/s", f"Screen.check over {len(messages)} messages of "
                           f"500-2,000 characters against {len(terms)} terms ({held} held; "
                           f"{caught} of the {len(planted)} with a planted term)"),
        "screening.raw_mbps": (raw, "MB/s", "plain pyahocorasick over the same text as one "
                               "string, terms as typed, no normalization"),
        "screening.ratio_to_raw": (ours / raw, "ratio", "screening.mbps / screening.raw_mbps"),
    }
