"""Screening: which keyword terms a message contains, as a pure decision.

Staff keep keyword lists at agency, facility, unit and resident scope. A
``Screen`` compiles one set of terms into an Aho-Corasick automaton; ``check``
returns a ``Verdict`` for one message. Nothing here does I/O.

Both the terms and the messages are reduced to one *matching form*
(``normalize``): case folded, accents dropped, look-alike digits, symbols and
Cyrillic or Greek letters replaced by the Latin letter they imitate, and
everything that is not a letter or digit removed, so that "D.R.U.G.S",
"d r u g s", "drúgs" and "drug$" all read "drugs". The form is defined one
character at a time, which lets a ``str.translate`` table (filled in lazily
from ``str.casefold`` and ``unicodedata.normalize``) compute it at C speed; text
that fits in Latin-1, most messages, goes through a 256-byte table instead.

Because spacing is removed, a match may begin or end inside an innocent word
("class" holds "ass"), or join the end of one word to the start of the next. A
match is therefore a hit only if, in the original text, the character before it
is not a letter or digit and neither is the character after it (a combining
mark counts as part of the letter it follows). Those checks, and the offsets
back into the original text, are worked out only for the messages in which the
automaton found something, and even then without a Python loop per character.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import ahocorasick

from central.errors import InvalidInput

SCOPES = ("agency", "facility", "unit", "resident")
MAX_TERM_CHARS = 200
MAX_MESSAGE_CHARS = 100_000

_SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}

# Characters written in place of a Latin letter. Applied to the original
# character (so that a capital Greek eta reads "h" while a small one reads "n")
# and again to every character that case folding and decomposition produce.
# The letter "l", the digit "1" and the symbols "!" and "|" all read "i".
_LOOKALIKES = {
    # digits and symbols
    "0": "o", "1": "i", "l": "i", "!": "i", "|": "i", "3": "e", "4": "a", "@": "a",
    "5": "s", "$": "s", "7": "t", "8": "b", "9": "g", "€": "e",
    # Latin letters that pass for others
    "ı": "i", "ɡ": "g",
    # Cyrillic, capital then small
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p",
    "С": "c", "Т": "t", "У": "y", "Х": "x", "І": "i", "Ј": "j", "Ѕ": "s", "Ӏ": "i",
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ӏ": "i",
    "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ѵ": "v",
    # Greek, capital then small
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m",
    "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c",
}

# The matching form of one character is cut to this length (no character comes
# near it: the longest decomposition, U+FDFA, has 18), so that a length fits in
# the six bits the boundary bookkeeping below gives it.
_MAX_EXPANSION = 63
# How many characters the lazy tables remember; rarer ones are worked out again.
_TABLE_LIMIT = 1 << 16


# -- the matching form of one character ------------------------------------------


def _fold_char(ch: str) -> str:
    """The matching form of one character (possibly empty)."""
    folded = _LOOKALIKES.get(ch, ch)
    for _ in range(4):  # case folding and decomposition can each expose work for the other
        # Marks go before case folding, which would turn a Greek iota subscript into
        # a letter iota.
        decomposed = unicodedata.normalize("NFKD", folded)
        again = "".join(part for part in decomposed
                        if not unicodedata.category(part).startswith("M")).casefold()
        if again == folded:
            break
        folded = again
    kept = (_LOOKALIKES.get(part, part) for part in folded)
    return "".join(part for part in kept if part.isalnum()
                   and not unicodedata.category(part).startswith("M"))[:_MAX_EXPANSION]


def _is_mark(ch: str) -> bool:
    """A combining mark: it belongs to the letter before it, for word boundaries too."""
    return unicodedata.category(ch).startswith("M") and not _fold_char(ch)


def _class_of(ch: str) -> int:
    """What the boundary check needs of a character that is not a mark:
    ``length << 2 | alnum``, the length of its form and whether it is a letter
    or digit (bit 1 is left free for the check's own use)."""
    return len(_fold_char(ch)) << 2 | ch.isalnum()


class _CharTable(dict[int, Any]):
    """A ``str.translate`` table over all of Unicode, filled in as characters appear."""

    def __init__(self, entry: Callable[[str], str | None]) -> None:
        super().__init__()
        self._entry = entry
        for code in range(0x250):  # ASCII, Latin-1 and the Latin Extended blocks up front
            self[code] = entry(chr(code))

    def __missing__(self, code: int) -> str | None:
        value = self._entry(chr(code))
        if len(self) < _TABLE_LIMIT:
            self[code] = value
        return value


# None deletes a character; it also keeps str.translate on its fast path for ASCII.
_FOLD = _CharTable(lambda ch: _fold_char(ch) or None)
_CLASS = _CharTable(lambda ch: None if _is_mark(ch) else chr(_class_of(ch)))
_LENGTH = _CharTable(lambda ch: chr(len(_fold_char(ch))))


def _latin1_tables() -> tuple[bytes, bytes, tuple[tuple[bytes, bytes], ...], bytes]:
    """The same tables for text whose characters all lie below U+0100.

    Returns the folding table, the bytes it deletes, (placeholder, form) pairs
    for the few characters whose form is longer than one ("ß", "½"), and the
    class table (no character below U+0100 is a mark).
    """
    forms = [_fold_char(chr(code)) for code in range(256)]
    drop = bytes(code for code in range(256) if not forms[code])
    fold = bytearray(range(256))
    long: list[tuple[bytes, bytes]] = []
    for code, form in enumerate(forms):
        if len(form) == 1:
            fold[code] = ord(form)
        elif len(form) > 1:
            placeholder = drop[len(long):len(long) + 1]  # a byte that is deleted, so new
            fold[code] = placeholder[0]
            long.append((placeholder, form.encode("latin-1")))
    classes = bytes(_class_of(chr(code)) for code in range(256))
    return bytes(fold), drop, tuple(long), classes


_LATIN1_FOLD, _LATIN1_DROP, _LATIN1_LONG, _LATIN1_CLASS = _latin1_tables()


def _fold(text: str, latin1: bytes | None) -> str:
    """``normalize(text)``, given ``text.encode("latin-1")`` when there is one."""
    if latin1 is None:
        return text.translate(_FOLD)
    folded = latin1.translate(_LATIN1_FOLD, _LATIN1_DROP)
    if not text.isascii():
        for placeholder, form in _LATIN1_LONG:
            if placeholder in folded:
                folded = folded.replace(placeholder, form)
    return folded.decode("latin-1")


def _as_latin1(text: str) -> bytes | None:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


def normalize(text: str) -> str:
    """The matching form of text: what both terms and messages are reduced to.

    Case folded, decomposed (NFKD) with combining marks dropped, look-alike
    characters replaced by the Latin letter they imitate, and every character
    that is not then a letter or digit removed. Raises nothing.
    """
    return _fold(text, _as_latin1(text))


# -- word boundaries, for the messages where the automaton found something -------


def _expansion(code: int) -> str | None:
    # code = length << 2 | may_start << 1 | may_end, for one original character.
    # The first character of its form carries may_start, the last may_end.
    length, may_start, may_end = code >> 2, code & 2, code & 1
    if length == 0:
        return None
    if length == 1:
        return chr(may_start | may_end)
    return chr(may_start) + "\x00" * (length - 2) + chr(may_end)


_EXPAND = {code: _expansion(code) for code in range(256)}
_SHORT_CLASSES = bytes((0, 1, 4, 5))  # characters whose form is at most one long
_EXPAND_SHORT = bytes(code & 3 for code in range(256))
_EMPTY_FORM = bytes((0, 1, 2, 3))


def _edge_flags(text: str, latin1: bytes | None) -> bytes:
    """One byte per character of ``normalize(text)``: bit 2 set if a match may
    start there, bit 1 set if a match may end there.

    Each original character (marks left out) becomes one class byte; the bytes
    are read as one little-endian integer, so that shifting it by eight bits
    sets every character beside its neighbour at C speed.
    """
    classes = text.translate(_CLASS).encode("latin-1") if latin1 is None \
        else latin1.translate(_LATIN1_CLASS)
    count = len(classes)
    if count == 0:
        return b""
    packed = int.from_bytes(classes, "little")
    ones = int.from_bytes(b"\x01" * count, "little")
    alnum = packed & ones
    may_start = ones ^ (alnum << 8)  # the character before is no letter or digit
    may_end = ones ^ (alnum >> 8)  # nor is the one after
    # (alnum << 8) reaches one byte past the text; that byte is cut off here.
    flags = ((packed ^ alnum) | may_start << 1 | may_end).to_bytes(count + 1, "little")
    if text.isascii() or not classes.translate(None, _SHORT_CLASSES):
        return flags[:count].translate(_EXPAND_SHORT, _EMPTY_FORM)
    return flags[:count].decode("latin-1").translate(_EXPAND).encode("latin-1")


# -- the records -------------------------------------------------------------------


@dataclass(frozen=True)
class KeywordTerm:
    """One term of one version of one keyword list, as staff typed it."""

    text: str
    scope: str  # one of SCOPES
    scope_id: str  # which agency, facility, unit or resident the list belongs to
    language: str  # ISO 639-1
    list_version: int


@dataclass(frozen=True)
class Hit:
    """One term found in a message. ``start``/``end`` index the original text."""

    term: KeywordTerm
    start: int
    end: int  # exclusive
    excerpt: str  # original[start:end]


@dataclass(frozen=True)
class Verdict:
    """Every hit in one message, by start offset, then scope, then term text."""

    hits: tuple[Hit, ...]

    @property
    def held(self) -> bool:
        """True iff the message is to be held for staff review (at least one hit)."""
        return bool(self.hits)


_CLEAN = Verdict(())


def _term_order(term: KeywordTerm) -> tuple[int, str, str, str, int]:
    return (_SCOPE_RANK[term.scope], term.text, term.scope_id, term.language,
            term.list_version)


def _hit_order(hit: Hit) -> tuple[int, tuple[int, str, str, str, int], int]:
    return (hit.start, _term_order(hit.term), hit.end)


# -- the screen ---------------------------------------------------------------------


class Screen:
    """A compiled matcher for one set of terms (build once per list version,
    reuse for many messages). Immutable once built, so it may be shared."""

    __slots__ = ("_automaton", "_size")

    def __init__(self, automaton: Any, size: int) -> None:
        """Use ``Screen.build``."""
        self._automaton = automaton
        self._size = size

    @classmethod
    def build(cls, terms: Iterable[KeywordTerm]) -> Screen:
        """Compile terms into a screen.

        Terms with the same matching form share one pattern, and a hit on it
        reports each of them. Raises InvalidInput for a term whose scope is not
        one of SCOPES, whose text is longer than MAX_TERM_CHARS characters, or
        whose text has no letters or digits (it would normalize to nothing).
        """
        groups: dict[str, set[KeywordTerm]] = {}
        for term in terms:
            if term.scope not in _SCOPE_RANK:
                raise InvalidInput(f"keyword term {term.text[:40]!r} has scope {term.scope!r}; "
                                   f"it must be one of {', '.join(SCOPES)}",
                                   code="invalid_keyword_term")
            if len(term.text) > MAX_TERM_CHARS:
                raise InvalidInput(f"keyword term {term.text[:40]!r}... is {len(term.text)} "
                                   f"characters long; at most {MAX_TERM_CHARS} are allowed",
                                   code="invalid_keyword_term")
            pattern = normalize(term.text)
            if not pattern:
                raise InvalidInput(f"keyword term {term.text!r} has no letters or digits to "
                                   "match", code="invalid_keyword_term")
            groups.setdefault(pattern, set()).add(term)
        if not groups:
            return cls(None, 0)
        automaton = ahocorasick.Automaton()
        for pattern, members in groups.items():
            automaton.add_word(pattern, (len(pattern), tuple(sorted(members, key=_term_order))))
        automaton.make_automaton()
        return cls(automaton, len(groups))

    @property
    def size(self) -> int:
        """The number of distinct patterns (matching forms) in the screen."""
        return self._size

    def check(self, text: str) -> Verdict:
        """Screen one message.

        Raises InvalidInput if text is not a string or is longer than
        MAX_MESSAGE_CHARS characters; every other string gets a verdict.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"a message to screen must be text, not {type(text).__name__}",
                               code="invalid_message")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(f"a message of {len(text)} characters is longer than the "
                               f"{MAX_MESSAGE_CHARS} that can be screened",
                               code="message_too_long")
        if self._automaton is None:
            return _CLEAN
        try:
            latin1: bytes | None = text.encode("latin-1")
        except UnicodeEncodeError:
            latin1 = None
        matches = list(self._automaton.iter(_fold(text, latin1)))
        if not matches:
            return _CLEAN
        flags = _edge_flags(text, latin1)
        found = []
        for last, (length, members) in matches:
            first = last - length + 1
            if flags[first] & 2 and flags[last] & 1:
                found.append((first, last, members))
        if not found:
            return _CLEAN
        return Verdict(tuple(sorted(_hits(text, found), key=_hit_order)))


def _hits(text: str, found: list[tuple[int, int, tuple[KeywordTerm, ...]]]) -> list[Hit]:
    """Hits for matches given as (first, last) indexes into the matching form."""
    # ends[i]: how long the form of text[:i + 1] is.
    ends = list(accumulate(text.translate(_LENGTH).encode("latin-1")))
    hits: list[Hit] = []
    for first, last, members in found:
        start = bisect_right(ends, first)
        end = bisect_right(ends, last) + 1
        while end < len(text) and _CLASS[ord(text[end])] is None:
            end += 1  # the last letter keeps its combining marks
        excerpt = text[start:end]
        hits.extend(Hit(term, start, end, excerpt) for term in members)
    return hits
