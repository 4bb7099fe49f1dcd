"""Screening: which keyword terms a message contains, as a pure decision.

Staff keep keyword lists at agency, facility, unit and resident scope. A
``Screen`` compiles one set of terms into an Aho-Corasick automaton; ``check``
returns a ``Verdict`` for one message. Nothing here does I/O.

Both the terms and the messages are reduced to one *matching form*
(``normalize``), one character at a time:

- characters that render as nothing (Unicode's Default_Ignorable_Code_Point:
  zero-width characters, joiners, soft hyphens, variation selectors, tag
  characters, Hangul fillers ...) are dropped, and for word boundaries they are
  not there at all;
- case is folded, compatibility forms decomposed (NFKD: fullwidth, mathematical,
  circled, parenthesized and superscript letters, ligatures) and combining
  marks dropped;
- characters that pass for ASCII letters or digits are read as them: the
  confusables of UTS #39 and the Latin small capitals (a table generated from
  Unicode's data, ``central/screening_tables.py``), and the digits and symbols
  written for letters ("0" -> "o", "1", "l", "!" and "|" -> "i", "$" -> "s" ...);
- everything that is not then a letter or digit is removed,

so that "D.R.U.G.S", "d r u g s", "drúgs", "ᴅʀᴜɢs", "drug$" and "dr\u3164ugs"
all read "drugs". The form is defined one character at a time, which lets a
``str.translate`` table (filled in lazily) compute it at C speed; text that fits
in Latin-1, most messages, goes through a 256-byte table instead.

The automaton runs over the matching form with every run of one character
squeezed to one (``"druuugs"`` and ``"drugs"`` both read ``"drugs"``), computed
with a few big-integer operations rather than a loop. Each pattern knows how
long each of its runs is, and a match is checked against the text's runs: a
word of four letters or more may repeat its letters, a shorter one must be
spelt as it is. ``central/screening_variants.py`` says which other spellings a
term stands for (swapped letters, endings, digits) and why.

Because spacing is removed, a match may begin or end inside an innocent word
("class" holds "ass"), or join the end of one word to the start of the next. A
match is therefore a hit only if, in the original text, the character before it
is not a letter or digit (or is a number glued on) and neither is the
character after it (or the word goes on with one of the term's endings, or a
number). A combining mark counts as part of the letter it follows. Those
checks, and the offsets back into the original text, are worked out only for
the messages in which the automaton found something, and even then without a
Python loop per character.

For text that fits in Latin-1 (nearly every message), the squeeze, the
boundary flags and the look-ups at each match are done instead by one compiled
module, ``central/_screening_core.pyx``, which reads each character's form and
class from tables made here (``_core_tables``); the functions here are its
reference and the path for other text, and
``tests/central/test_screening_core.py`` holds the two equal.

A message with right-to-left overrides, embeddings or isolates is screened
twice: as stored, and in the order it is displayed
(``central/screening_bidi.py``), since "\u202esgurd" shows as "drugs".
"""

from __future__ import annotations

import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Any, NamedTuple

import ahocorasick_rs

from central.errors import InvalidInput
from central.screening_bidi import displayed_order, has_explicit_controls
from central.screening_tables import IGNORABLE, LOOKALIKES
from central.screening_variants import Variant, squeeze, variants

SCOPES = ("agency", "facility", "unit", "resident")
MAX_TERM_CHARS = 200
MAX_MESSAGE_CHARS = 100_000

_SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}

# Digits and symbols written in place of a Latin letter. Applied to the original
# character and again to every character that case folding and decomposition
# produce. The letter "l", the digit "1" and the symbols "!" and "|" all read "i".
_WRITTEN_FOR = {
    "0": "o", "1": "i", "l": "i", "!": "i", "|": "i", "3": "e", "4": "a", "@": "a",
    "5": "s", "$": "s", "7": "t", "8": "b", "9": "g", "€": "e",
}
# Characters beyond ASCII that pass for ASCII letters (Unicode's confusables and
# small capitals): "Η" (Greek capital eta) reads "H", "η" reads "n", "ᴅ" reads "d".
_PASSES_FOR = {chr(code): form for code, form in LOOKALIKES.items()}
_IGNORABLE = frozenset(chr(code) for first, last in IGNORABLE for code in range(first, last + 1))

# The matching form of one character is cut to this length (no character comes
# near it: the longest decomposition, U+FDFA, has 18), so that a length fits in
# the five bits the boundary bookkeeping below gives it.
_MAX_EXPANSION = 31
# How many characters the lazy tables remember; rarer ones are worked out again.
_TABLE_LIMIT = 1 << 16
# How far past a match the screen looks for an ending and a number glued on.
_MAX_TAIL = 16


# -- the matching form of one character ------------------------------------------


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _fold_char(ch: str) -> str:
    """The matching form of one character (possibly empty)."""
    if ch in _IGNORABLE:
        return ""
    folded = _WRITTEN_FOR.get(ch) or _PASSES_FOR.get(ch, ch)
    for _ in range(6):  # case folding, decomposition and the tables can each expose work
        # Marks go before case folding, which would turn a Greek iota subscript into
        # a letter iota.
        decomposed = unicodedata.normalize("NFKD", folded)
        again = "".join(_PASSES_FOR.get(part, part) for part in decomposed
                        if not _is_mark(part)).casefold()
        if again == folded:
            break
        folded = again
    kept = (_WRITTEN_FOR.get(part, part) for part in folded)
    return "".join(part for part in kept
                   if part.isalnum() and not _is_mark(part))[:_MAX_EXPANSION]


def _is_transparent(ch: str) -> bool:
    """A character that is no character for word boundaries: one that renders as
    nothing, or a combining mark (it belongs to the letter before it)."""
    return ch in _IGNORABLE or (_is_mark(ch) and not _fold_char(ch))


def _class_of(ch: str) -> int:
    """What the boundary check needs of a character that is not transparent:
    ``length << 3 | numeric << 2 | alnum``, the length of its form, whether it is
    a number and whether it is a letter or digit (bit 1 is left free for the
    check's own use)."""
    return len(_fold_char(ch)) << 3 | ch.isnumeric() << 2 | ch.isalnum()


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
_CLASS = _CharTable(lambda ch: None if _is_transparent(ch) else chr(_class_of(ch)))
_LENGTH = _CharTable(lambda ch: chr(len(_fold_char(ch))))


def _latin1_tables() -> tuple[bytes, bytes, tuple[tuple[bytes, str], ...], bytes, bytes]:
    """The same tables for text whose characters all lie below U+0100.

    Returns the folding table, the bytes it deletes, (placeholder, form) pairs
    for the few characters whose form is not one Latin-1 character ("ß", "½",
    "æ", "µ"), the
    class table and the transparent bytes (the soft hyphen) it deletes.
    """
    forms = [_fold_char(chr(code)) for code in range(256)]
    drop = bytes(code for code in range(256) if not forms[code])
    fold = bytearray(range(256))
    long: list[tuple[bytes, str]] = []
    for code, form in enumerate(forms):
        if len(form) == 1 and ord(form) < 256:
            fold[code] = ord(form)
        elif form:
            placeholder = drop[len(long):len(long) + 1]  # a byte that is deleted, so new
            fold[code] = placeholder[0]
            long.append((placeholder, form))
    classes = bytes(0 if _is_transparent(chr(code)) else _class_of(chr(code))
                    for code in range(256))
    transparent = bytes(code for code in range(256) if _is_transparent(chr(code)))
    return bytes(fold), drop, tuple(long), classes, transparent


_LATIN1_FOLD, _LATIN1_DROP, _LATIN1_LONG, _LATIN1_CLASS, _LATIN1_TRANSPARENT = _latin1_tables()
# How long the form of each Latin-1 character is.
_LATIN1_LENGTH = bytes(len(_fold_char(chr(code))) for code in range(256))


def _fold(text: str, latin1: bytes | None) -> str:
    """``normalize(text)``, given ``text.encode("latin-1")`` when there is one."""
    if latin1 is None:
        return text.translate(_FOLD)
    folded = latin1.translate(_LATIN1_FOLD, _LATIN1_DROP)
    if text.isascii():
        return folded.decode("ascii")
    form = folded.decode("latin-1")
    for placeholder, long in _LATIN1_LONG:
        if placeholder in folded:
            form = form.replace(placeholder.decode("latin-1"), long)
    return form


def _as_latin1(text: str) -> bytes | None:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


def normalize(text: str) -> str:
    """The matching form of text: what both terms and messages are reduced to.

    Characters that render as nothing dropped, case folded, decomposed (NFKD)
    with combining marks dropped, look-alike characters replaced by the Latin
    letter they imitate, and every character that is not then a letter or
    digit removed. Raises nothing.
    """
    return _fold(text, _as_latin1(text))


# -- runs of one character ----------------------------------------------------------


# Lane masks are remembered for texts of up to this many characters (4,096 of them
# at most, a few MB), so that a flood of long messages cannot fill memory with them.
_CACHED_LANES = 4096


def _lanes(count: int, width: int) -> tuple[int, int]:
    """Masks of ``count`` lanes of ``width`` bits: all bits but the top one, and the top one."""
    return _cached_lanes(count, width) if count <= _CACHED_LANES \
        else _cached_lanes.__wrapped__(count, width)


@lru_cache(maxsize=4096)
def _cached_lanes(count: int, width: int) -> tuple[int, int]:
    top = 1 << (width - 1)
    step = width // 8
    return (int.from_bytes((top - 1).to_bytes(step, "little") * count, "little"),
            int.from_bytes(top.to_bytes(step, "little") * count, "little"))


class _Squeezed(NamedTuple):
    """A matching form with each run of one character cut to one character (a
    named tuple: one is made for every message, and a tuple is made fastest)."""

    text: str
    repeats: int  # the top bit of each lane (of ``width`` bits) set where a repeat was cut
    width: int

    def marks(self, count: int) -> bytes:
        """One byte per character of the (unsqueezed) form: 1 where a repeat was cut."""
        if not self.repeats:
            return b""
        if self.width == 8:
            return (self.repeats >> 7).to_bytes(count, "little")
        return (self.repeats >> 31).to_bytes(4 * count, "little")[::4]

    def run_flags(self, flags: bytes) -> bytes:
        """``flags`` (one byte per character of the form) carried over to the squeezed
        form: each kept character has the flags of its whole run OR-ed together
        (of its first 16 characters, for a longer run), and ``_DOUBLE`` if its
        run is two characters or more."""
        if not self.repeats:
            return flags
        count = len(flags)
        ones = (self.repeats >> 7 if self.width == 8
                else int.from_bytes(self.marks(count), "little"))  # 1 on each cut lane
        cut = ones * 0xFF
        # A character followed by a cut one starts a run of two or more.
        value = int.from_bytes(flags, "little") | (ones >> 8) * _DOUBLE
        step = cut >> 8  # 0xFF on each lane whose next lane was cut
        for shift in (8, 16, 32, 64):
            value |= (value >> shift) & step
            step &= step >> shift
            if not step:  # no run is longer than those already carried over
                break
        return (value | cut).to_bytes(count, "little").translate(None, b"\xff")


def _squeeze(form: str) -> _Squeezed:
    """Each run of one character in ``form`` cut to one, without a Python loop per
    character: the form is read as one integer of 8-bit lanes (ASCII) or 32-bit
    lanes, compared with itself shifted by one lane, and the lanes equal to
    their neighbour are zeroed and then deleted (no character of a matching
    form is NUL)."""
    count = len(form)
    if count < 2:
        return _Squeezed(form, 0, 8)
    ascii_form = form.isascii()
    width = 8 if ascii_form else 32
    raw = form.encode("ascii") if ascii_form else form.encode("utf-32-le")
    value = int.from_bytes(raw, "little")
    low, top = _lanes(count, width)
    differs = value ^ (value << width)
    # A lane's top bit ends up set where the lane differs from the one before. ASCII
    # lanes have no top bit of their own and cannot carry into the next lane.
    repeats = top ^ (((differs + low) if ascii_form
                      else (((differs & low) + low) | differs)) & top)
    if not repeats:
        return _Squeezed(form, 0, width)
    whole = (repeats >> (width - 1)) * ((1 << width) - 1)
    kept = (value ^ (value & whole)).to_bytes(len(raw), "little")
    text = (kept.translate(None, b"\x00").decode("ascii") if ascii_form
            else kept.decode("utf-32-le").replace("\x00", ""))
    return _Squeezed(text, repeats, width)


# -- word boundaries, for the messages where the automaton found something -------

# One byte per character of the matching form.
_MAY_END = 1  # the original character after it is no letter or digit
_MAY_START = 2  # the original character before it is no letter or digit
_NUMBER = 4  # it comes from a number ("4", "½")
_FIRST = 8  # it is the first character of its original character's form
_LAST = 16  # ... and the last
# In the squeezed form's flags only: the character's run is two or more long.
_DOUBLE = 32


def _expansion(code: int) -> str | None:
    # code = length << 3 | numeric << 2 | may_start << 1 | may_end, for one original
    # character: the first character of its form carries may_start, the last may_end.
    length, number = code >> 3, code & _NUMBER
    may_start, may_end = code & _MAY_START, code & _MAY_END
    if length == 0:
        return None
    if length == 1:
        return chr(may_start | may_end | number | _FIRST | _LAST)
    return (chr(may_start | number | _FIRST) + chr(number) * (length - 2)
            + chr(may_end | number | _LAST))


_EXPAND = {code: _expansion(code) for code in range(256)}
_SHORT_CLASSES = bytes(range(16))  # characters whose form is at most one long
# For text whose characters' forms are at most one long: by a class byte with, in
# bit 6, whether the character before is a letter or digit and, in bit 7, whether
# the one after is, the flags of its form (a character without one is deleted).
_PREVIOUS_ALNUM, _NEXT_ALNUM = 64, 128
_SHORT_FLAGS = bytes(
    ord(_EXPAND[code & 14 | (0 if code & _PREVIOUS_ALNUM else _MAY_START)
                | (0 if code & _NEXT_ALNUM else _MAY_END)] or "\x00")
    if code & 8 else 0 for code in range(256))
_NO_FORM = bytes(code for code in range(256) if not code & 8)


def _ones(count: int) -> int:
    """``count`` lanes of 8 bits, each 1."""
    return _cached_ones(count) if count <= _CACHED_LANES else _cached_ones.__wrapped__(count)


@lru_cache(maxsize=4096)
def _cached_ones(count: int) -> int:
    return int.from_bytes(b"\x01" * count, "little")


def _edge_flags(text: str, latin1: bytes | None) -> bytes:
    """One byte of flags (``_MAY_END`` ...) per character of ``normalize(text)``.

    Each original character (transparent ones left out) becomes one class byte;
    the bytes are read as one little-endian integer, so that shifting it by eight
    bits sets every character beside its neighbour at C speed.
    """
    classes = text.translate(_CLASS).encode("latin-1") if latin1 is None \
        else latin1.translate(_LATIN1_CLASS, _LATIN1_TRANSPARENT)
    count = len(classes)
    if count == 0:
        return b""
    packed = int.from_bytes(classes, "little")
    ones = _ones(count)
    alnum = packed & ones
    if text.isascii() or not classes.translate(None, _SHORT_CLASSES):
        # (alnum << 14) reaches two bytes past the text; they are cut off here.
        near = (packed | alnum << 14 | alnum >> 1).to_bytes(count + 2, "little")
        return near[:count].translate(_SHORT_FLAGS, _NO_FORM)
    may_start = ones ^ (alnum << 8)  # the character before is no letter or digit
    may_end = ones ^ (alnum >> 8)  # nor is the one after
    # (alnum << 8) reaches one byte past the text; that byte is cut off here.
    flags = ((packed ^ alnum) | may_start << 1 | may_end).to_bytes(count + 1, "little")
    return flags[:count].decode("latin-1").translate(_EXPAND).encode("latin-1")


# -- the same forms and flags in one compiled pass, for text that fits in Latin-1 ----

# What central/_screening_core.pyx knows of each Latin-1 character: its form (two
# bytes, padded with NUL) and these bits besides the form's length (0 to 2).
_CORE_ALNUM, _CORE_NUMERIC, _CORE_TRANSPARENT, _CORE_DECLINE = 4, 8, 16, 32


def _core_tables() -> tuple[bytes, bytes]:
    forms, info = bytearray(512), bytearray(256)
    for code in range(256):
        ch = chr(code)
        form = _fold_char(ch)
        if len(form) <= 2 and form.isascii():
            forms[2 * code:2 * code + len(form)] = form.encode("ascii")
            bits = len(form)
        else:  # "µ" reads Greek mu: such a message takes the path above
            bits = _CORE_DECLINE
        bits |= (_CORE_ALNUM * ch.isalnum() | _CORE_NUMERIC * ch.isnumeric()
                 | _CORE_TRANSPARENT * _is_transparent(ch))
        info[code] = bits
    return bytes(forms), bytes(info)


def _latin1_reader(core: Any, latin1: bytes, count: int) -> _Reader:
    """The reader of a text the compiled pass squeezed (``count`` characters)."""
    forms = core.forms_latin1(latin1)
    assert forms is not None  # the squeeze took it
    form, flags, starts = forms
    if not starts:  # nothing was cut: each character starts where it is
        return _Reader(form, flags, b"", count)
    return _Reader(form, flags, b"", count, memoryview(starts).cast("I"))


try:
    from central import _screening_core
except ImportError:  # not compiled (a bare source tree): the pure-Python path does it all
    _screening_core = None  # type: ignore[assignment]
else:
    _screening_core.set_tables(*_core_tables())


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


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One variant of some terms, as the automaton reports it: the lengths of its
    runs of one character, and whether the text may stretch each run."""

    runs: tuple[int, ...]
    stretch: tuple[bool, ...]
    endings: frozenset[str]  # squeezed matching forms of the letters that may follow
    digits: bool
    whole: bool  # False for a stem, which must be followed by one of its endings
    members: tuple[KeywordTerm, ...]


def _runs(variant: Variant) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    runs: list[int] = []
    stretch: list[bool] = []
    for i, ch in enumerate(variant.form):
        if i and variant.form[i - 1] == ch:
            runs[-1] += 1
            stretch[-1] = stretch[-1] and variant.stretch[i]
        else:
            runs.append(1)
            stretch.append(variant.stretch[i])
    return tuple(runs), tuple(stretch)


def _words(text: str) -> list[str]:
    """The matching forms of a term's words (split where a character has no form)."""
    words, current = [], ""
    for ch in text:
        form = _fold_char(ch)
        if form:
            current += form
        elif not _is_transparent(ch) and current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


_BLOCK = 64  # characters of the form per entry of a _Reader's index


class _Reader:
    """One message's matching form, its squeezed form and its flags, with the
    checks that turn a match of the automaton into a hit."""

    def __init__(self, form: str, flags: bytes, marks: bytes, count: int,
                 starts: memoryview | None = None) -> None:
        """``marks`` as ``_Squeezed.marks`` gives them; ``count``: how long the squeezed
        form is; ``starts``, if known, what ``at`` answers for each character."""
        self.form = form
        self.flags = flags
        self.marks = marks
        self.count = count
        self._starts = starts
        # kept[j]: how many characters of the form before j * _BLOCK the squeeze kept.
        self._kept: list[int] | None = None

    def at(self, k: int) -> int:
        """Where the k-th character of the squeezed form starts in the matching form:
        the p with p - (repeats cut up to p) == k, found from the block it lies in
        by a few counts at C speed."""
        if k >= self.count:
            return len(self.form)
        if self._starts is not None:
            return int(self._starts[k])
        marks = self.marks
        if not marks:
            return k
        if self._kept is None:
            self._kept = list(accumulate(
                (_BLOCK - marks.count(1, i, i + _BLOCK) for i in range(0, len(marks), _BLOCK)),
                initial=0))
        block = bisect_right(self._kept, k) - 1
        base = block * _BLOCK
        ahead = k - self._kept[block]  # kept characters between base and p
        p = base + ahead
        while True:
            q = base + ahead + marks.count(1, base, p + 1)
            if q == p:
                return p
            p = q

    def _start(self, s: int, pattern: _Pattern) -> int | None:
        """Where a hit starting at ``s`` begins (before a number glued on), or None."""
        flags = self.flags
        if not flags[s] & _FIRST:
            return None
        if flags[s] & _MAY_START:
            return s
        if (not pattern.digits or s == 0 or not flags[s - 1] & _NUMBER
                or self.form[s - 1] == self.form[s]):  # a "1" before "ice" is part of it
            return None
        r = s - 1
        while r >= 0 and flags[r] & _NUMBER:
            if flags[r] & _MAY_START:
                return r
            r -= 1
        return None

    def _end(self, e: int, pattern: _Pattern) -> int | None:
        """Where a hit ending at ``e`` ends (after an ending and a number), or None."""
        flags = self.flags
        if not flags[e] & _LAST:
            return None
        if flags[e] & _MAY_END:
            return e if pattern.whole else None
        if not pattern.endings and not pattern.digits:
            return None
        w = e + 1
        limit = min(len(flags), e + 1 + _MAX_TAIL)
        while w < limit and not flags[w] & _MAY_END:
            w += 1
        if w >= limit:
            return None
        d = w
        while d > e and flags[d] & _NUMBER:
            d -= 1
        if d < w and not pattern.digits:
            return None
        if d > e:  # an ending, which may begin with the letter the term ends in
            if squeeze(self.form[e + 1:d + 1]) not in pattern.endings:
                return None
        elif not pattern.whole or self.form[e + 1] == self.form[e]:
            return None  # a stem needs its ending; a "1" after "lil" is part of it
        return w

    def hits(self, last: int, length: int, pattern: _Pattern) -> list[tuple[int, int]]:
        """(first, last) positions in the matching form of each hit of ``pattern``
        where the automaton matched the squeezed characters ``last - length + 1``
        to ``last``."""
        first = last - length + 1
        runs, stretch = pattern.runs, pattern.stretch
        head, after_head = self.at(first), self.at(first + 1)
        if length == 1:
            return self._single_run(head, after_head - 1, runs[0], stretch[0], pattern)
        # The first run: the hit takes its last runs[0] characters or, stretched, more.
        span = after_head - head
        if span < runs[0]:
            return []
        starts = range(after_head - runs[0], head - 1, -1) if stretch[0] \
            else (after_head - runs[0],)
        begin = next((b for s in starts if (b := self._start(s, pattern)) is not None), None)
        if begin is None:
            return []
        tail, after_tail = self.at(last), self.at(last + 1)
        if after_tail - tail < runs[-1]:
            return []
        ends = range(after_tail - 1, tail + runs[-1] - 2, -1) if stretch[-1] \
            else (tail + runs[-1] - 1,)
        finish = next((f for e in ends if (f := self._end(e, pattern)) is not None), None)
        if finish is None:
            return []
        for k in range(1, length - 1):
            span = self.at(first + k + 1) - self.at(first + k)
            if span < runs[k] or (span != runs[k] and not stretch[k]):
                return []
        return [(begin, finish)]

    def _single_run(self, head: int, tail: int, need: int, stretch: bool,
                    pattern: _Pattern) -> list[tuple[int, int]]:
        """Hits of a pattern of one repeated character within one run of the text."""
        found = []
        for s in range(head, tail - need + 2):
            begin = self._start(s, pattern)
            if begin is None:
                continue
            ends = range(tail, s + need - 2, -1) if stretch else (s + need - 1,)
            finish = next((f for e in ends if (f := self._end(e, pattern)) is not None), None)
            if finish is not None:
                found.append((begin, finish))
                if stretch:
                    break
        return found


class Screen:
    """A compiled matcher for one set of terms (build once per list version,
    reuse for many messages). Immutable once built, so it may be shared."""

    __slots__ = ("_automaton", "_endings", "_entries", "_patterns", "_runs", "_size",
                 "_tails")

    def __init__(self, automaton: Any, entries: tuple[tuple[_Pattern, ...], ...],
                 tails: tuple[int, ...], size: int) -> None:
        """Use ``Screen.build``."""
        self._automaton = automaton
        self._entries = entries  # by the automaton's pattern index
        # by the automaton's pattern index: _tail of its entries (an array, which the
        # compiled pass reads as well)
        self._tails = array("I", tails)
        # by the automaton's pattern index: _run_masks of its entries
        self._runs = tuple(map(_run_masks, entries))
        # by the automaton's pattern index: every ending of its entries, longest first
        self._endings = tuple(
            tuple(sorted({e for p in group for e in p.endings}, key=lambda e: (-len(e), e)))
            for group in entries)
        self._size = size
        self._patterns = sum(len(e) for e in entries)

    @classmethod
    def build(cls, terms: Iterable[KeywordTerm]) -> Screen:
        """Compile terms into a screen.

        Terms with the same matching form share their patterns, and a hit on
        one reports each of them. Raises InvalidInput for a term whose scope is
        not one of SCOPES, whose text is longer than MAX_TERM_CHARS characters,
        or whose text has no letters or digits (it would normalize to nothing).
        """
        groups: dict[str, set[KeywordTerm]] = {}
        words: dict[str, list[str]] = {}
        for term in terms:
            if term.scope not in _SCOPE_RANK:
                raise InvalidInput(f"keyword term {term.text[:40]!r} has scope {term.scope!r}; "
                                   f"it must be one of {', '.join(SCOPES)}",
                                   code="invalid_keyword_term")
            if len(term.text) > MAX_TERM_CHARS:
                raise InvalidInput(f"keyword term {term.text[:40]!r}... is {len(term.text)} "
                                   f"characters long; at most {MAX_TERM_CHARS} are allowed",
                                   code="invalid_keyword_term")
            form = normalize(term.text)
            if not form:
                raise InvalidInput(f"keyword term {term.text!r} has no letters or digits to "
                                   "match", code="invalid_keyword_term")
            groups.setdefault(form, set()).add(term)
            # Of the terms that read the same, the one of fewest words decides
            # which letters are fuzzy ("meth" rather than "m e t h").
            split = _words(term.text)
            if form not in words or len(split) < len(words[form]):
                words[form] = split
        if not groups:
            return cls(None, (), (), 0)
        patterns: dict[str, list[_Pattern]] = {}
        for form, members in groups.items():
            ordered = tuple(sorted(members, key=_term_order))
            languages = {term.language for term in members}
            for variant in variants(words[form], languages, normalize):
                runs, stretch = _runs(variant)
                patterns.setdefault(squeeze(variant.form), []).append(_Pattern(
                    runs, stretch, variant.endings, variant.digits, variant.whole, ordered))
        # Every match is wanted, overlapping ones too; a DFA walks the text fastest.
        automaton = ahocorasick_rs.AhoCorasick(
            list(patterns), matchkind=ahocorasick_rs.MATCHKIND_STANDARD,
            implementation=ahocorasick_rs.Implementation.DFA)
        tails = tuple(_tail(entries, form) for form, entries in patterns.items())
        return cls(automaton, tuple(map(tuple, patterns.values())), tails, len(groups))

    @property
    def size(self) -> int:
        """The number of distinct terms (matching forms) in the screen."""
        return self._size

    @property
    def patterns(self) -> int:
        """The number of patterns the terms compiled to (their variants)."""
        return self._patterns

    def check(self, text: str) -> Verdict:
        """Screen one message, as stored and, if bidirectional controls make them
        differ, as displayed.

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
        latin1 = _as_latin1(text)
        hits = self._hits(text, latin1)
        if latin1 is None and has_explicit_controls(text):
            order = displayed_order(text)
            shown = "".join(text[i] for i in order)
            for hit in self._hits(shown, _as_latin1(shown)):
                spots = order[hit.start:hit.end]
                start, end = min(spots), max(spots) + 1
                hits.append(Hit(hit.term, start, end, text[start:end]))
        if not hits:
            return _CLEAN
        return Verdict(tuple(sorted(set(hits), key=_hit_order)))

    def _hits(self, text: str, latin1: bytes | None) -> list[Hit]:
        core = _screening_core  # read once: the tests compare a screen with and without it
        compiled = None if latin1 is None or core is None else core.squeeze_latin1(latin1)
        if compiled is None:
            form = _fold(text, latin1)
            squeezed = _squeeze(form)
            squeezed_text = squeezed.text
        else:
            squeezed_text, run_flags = compiled
        # (pattern, first, end) for each match in the squeezed form, as one list.
        matches = self._automaton.find_matches_as_indexes(squeezed_text, overlapping=True)
        if not matches:
            return []
        if compiled is None:
            flags = _edge_flags(text, latin1)
            run_flags = squeezed.run_flags(flags)
        candidates = self._candidates(matches, squeezed_text, run_flags, core)
        if not candidates:
            return []
        if compiled is None:
            reader = _Reader(form, flags, squeezed.marks(len(form)), len(squeezed_text))
        else:
            assert core is not None and latin1 is not None  # as compiled says
            reader = _latin1_reader(core, latin1, len(squeezed_text))
        found: dict[tuple[int, int, tuple[KeywordTerm, ...]], None] = {}
        for index, first, end in candidates:
            for pattern in self._entries[index]:
                for begin, finish in reader.hits(end - 1, end - first, pattern):
                    found[(begin, finish, pattern.members)] = None
        return _hits(text, list(found), latin1) if found else []

    def _candidates(self, matches: list[tuple[int, int, int]], text_of: str,
                    run_flags: bytes, core: Any) -> list[tuple[int, int, int]]:
        """The matches the full checks are to look at, of all the automaton reported
        in a squeezed form ``text_of`` with its run flags. Most matches lie inside a
        word or end inside one: those that cannot start a hit where they start, or
        cannot end one where they end, are set aside with a few look-ups each
        (``core``'s compiled ones, if it is not None)."""
        runs = run_flags + b"\x00"  # one byte per squeezed character, and one past the end
        endings = self._endings
        if core is not None:  # the same look-ups, compiled
            matches = core.starting(matches, run_flags)
            candidates = core.ending(matches, run_flags, text_of, self._tails, endings)
        else:
            before = b"\x00" + runs  # before[i]: the byte of the character before i
            tails = self._tails
            candidates = [match for match in matches
                          if runs[first := match[1]] & _MAY_START or before[first] & _NUMBER]
            candidates = [match for match in candidates
                          if (need := tails[index := match[0]]) & (
                              _ENDS[before[end := match[2]]] | _NUMBER_NEXT[runs[end]])
                          or (need & _LETTER_BITS.get(text_of[end:end + 1], _OTHER_BIT)
                              and _ending_fits(endings[index], text_of, end, runs))]
        # A match whose runs are too short (one letter where the term has two) or
        # too long (an exact letter stretched) is set aside with one comparison.
        fits = self._runs
        return [match for match in candidates
                if not (masks := fits[match[0]])[1]
                or int.from_bytes(runs[match[1]:match[2]], "little") & masks[1] == masks[0]]


# What a pattern needs after its last character to end a hit: the next character's
# letter (bits 0 to 25 for "a" to "z", _OTHER for any other character), a number
# glued on (_NUMBER_ENDS_HIT) or the end of the word (_ENDS_HIT). A pattern's _tail
# holds the bits it accepts; each place in a squeezed form, the bits found there.
_OTHER = 26
_ENDS_HIT, _NUMBER_ENDS_HIT = 1 << 28, 1 << 27
# By the byte of flags of a squeezed character: whether a match that ends with the
# character before it ends a word, and whether the next is a number.
_ENDS = tuple(_ENDS_HIT if code & _MAY_END else 0 for code in range(256))
_NUMBER_NEXT = tuple(_NUMBER_ENDS_HIT if code & _NUMBER else 0 for code in range(256))
# By the character after a match: its letter's bit (_OTHER_BIT for any other
# character); past the last character, none.
_OTHER_BIT = 1 << _OTHER
_LETTER_BITS = {chr(97 + code): 1 << code for code in range(26)} | {"": 0}


def _ending_fits(endings: tuple[str, ...], squeezed: str, end: int, runs: bytes) -> bool:
    """Whether a word that goes on past a match ending at ``end`` (in the squeezed
    form ``squeezed``, with ``runs`` its flags and one byte more) may go on with
    one of ``endings``: the text spells it there, or all of it but a first letter
    that joined the match's last run, and the word ends after it or a number
    follows."""
    for ending in endings:
        if squeezed.startswith(ending, end):
            after = end + len(ending)
        elif ending[0] == squeezed[end - 1] and squeezed.startswith(ending[1:], end):
            after = end + len(ending) - 1
        else:
            continue
        if runs[after - 1] & (_MAY_END | _NUMBER) or runs[after] & _NUMBER:
            return True
    return False


def _run_masks(entries: tuple[_Pattern, ...]) -> tuple[int, int]:
    """What the runs of a match of ``entries`` (patterns with one squeezed form) must
    be for some of them to hit, as masks over its bytes of squeezed flags: the
    bytes that must carry ``_DOUBLE`` (a run of two or more in every pattern) and,
    second, those whose ``_DOUBLE`` is looked at (those, and the inner runs that
    every pattern spells exactly once)."""
    double = single = -1
    for pattern in entries:
        runs, last = pattern.runs, len(pattern.runs) - 1
        double &= sum(_DOUBLE << 8 * k for k, run in enumerate(runs) if run >= 2)
        single &= sum(_DOUBLE << 8 * k for k, run in enumerate(runs)
                      if run == 1 and not pattern.stretch[k] and 0 < k < last)
    return double, double | single


def _letter_bit(letter: str) -> int:
    return 1 << (ord(letter) - 97) if "a" <= letter <= "z" else 1 << _OTHER


def _tail(entries: Iterable[_Pattern], form: str) -> int:
    """The bits (``_ENDS_HIT`` ...) with which some pattern of ``entries`` (the patterns
    whose squeezed matching form is ``form``) may end a hit."""
    need = 0
    for pattern in entries:
        if pattern.whole:
            need |= _ENDS_HIT
        if pattern.digits:
            need |= _NUMBER_ENDS_HIT
        for ending in pattern.endings:
            need |= _letter_bit(ending[0])
            if ending[0] == form[-1]:  # its first letter joins the term's last run
                # ... which is all of a one-letter ending; a longer one goes on
                need |= (_letter_bit(ending[1]) if len(ending) > 1
                         else _ENDS_HIT | _NUMBER_ENDS_HIT)
    return need


def _hits(text: str, found: list[tuple[int, int, tuple[KeywordTerm, ...]]],
          latin1: bytes | None = None) -> list[Hit]:
    """Hits for matches given as (first, last) indexes into the matching form of
    text (``latin1``: its Latin-1 bytes, if it has them)."""
    # ends[i]: how long the form of text[:i + 1] is.
    ends = list(accumulate(text.translate(_LENGTH).encode("latin-1") if latin1 is None
                           else latin1.translate(_LATIN1_LENGTH)))
    hits: list[Hit] = []
    for first, last, members in found:
        start = bisect_right(ends, first)
        end = bisect_right(ends, last) + 1
        while end < len(text) and _is_mark(text[end]):
            end += 1  # the last letter keeps its combining marks
        excerpt = text[start:end]
        hits.extend(Hit(term, start, end, excerpt) for term in members)
    return hits
