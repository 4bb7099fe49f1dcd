# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Screening's per-character work, compiled, for a message that fits in Latin-1:
the squeezed matching form the automaton reads with the boundary flags of each
of its runs (``squeeze_latin1``), the matching form with its flags and where
each squeezed character starts in it (``forms_latin1``, for the full checks),
and the look-ups that set aside matches which cannot start (``starting``) or
end (``ending``) a hit.

``central/screening.py`` does the same in pure Python (``_fold``, ``_squeeze``,
``_edge_flags``, ``_Squeezed.run_flags``, ``_Reader.at`` and
``Screen._candidates``), with a few big-integer operations per step. That code
is the reference and the path for other text, and
``tests/central/test_screening_core.py`` holds this module equal to it on
generated text. A character's form and class come from tables the reference
makes (``set_tables``), so the rules live in one place.

No index into a buffer can leave it, which is why bounds checks are off: the
text is read below its length, the tables are indexed by a byte (``INFO`` holds
256 entries, ``FORMS`` two per byte), each byte of text writes at most two
characters into buffers of twice its length, and every match handed in is
checked against the text's length first.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcpy

# The bits of a character's entry in ``info``.
cdef enum:
    LENGTH = 3  # bits 0-1: how many characters its form has (0, 1 or 2)
    ALNUM = 4  # a letter or digit
    NUMERIC = 8  # a number
    TRANSPARENT = 16  # no character for word boundaries (the soft hyphen)
    DECLINE = 32  # its form is not ASCII: the reference handles the message

# The flags, as in central/screening.py.
cdef enum:
    MAY_END = 1
    MAY_START = 2
    NUMBER = 4
    FIRST = 8
    LAST = 16
    DOUBLE = 32

# A run carries the flags of its first RUN_REACH characters, as the reference's
# four doubling steps do.
cdef enum:
    RUN_REACH = 16

# What a pattern needs after its last character, as in central/screening.py: the
# bits of a letter "a" to "z" (0 to 25), of any other character, a number glued on
# and the end of a word.
cdef enum:
    OTHER_BIT = 1 << 26
    NUMBER_ENDS_HIT = 1 << 27
    ENDS_HIT = 1 << 28

# The same constants as Python values, for the test that holds them to screening.py's.
CONSTANTS = {"MAY_END": MAY_END, "MAY_START": MAY_START, "NUMBER": NUMBER, "FIRST": FIRST,
             "LAST": LAST, "DOUBLE": DOUBLE, "OTHER_BIT": OTHER_BIT,
             "NUMBER_ENDS_HIT": NUMBER_ENDS_HIT, "ENDS_HIT": ENDS_HIT, "ALNUM": ALNUM,
             "NUMERIC": NUMERIC, "TRANSPARENT": TRANSPARENT, "DECLINE": DECLINE}

cdef unsigned char FORMS[512]
cdef unsigned char INFO[256]
cdef bint READY = False


def set_tables(const unsigned char[::1] forms, const unsigned char[::1] info):
    """Take the tables: ``forms`` two bytes per Latin-1 character (its form,
    padded with NUL), ``info`` one (the bits above)."""
    global READY
    cdef Py_ssize_t code
    if forms.shape[0] != 512 or info.shape[0] != 256:
        raise ValueError("the tables hold 512 and 256 bytes")
    # The buffers hold two characters a byte, and the forms are decoded as ASCII.
    for code in range(256):
        if info[code] & LENGTH == 3:
            raise ValueError(f"a form of three characters (byte {code}) does not fit")
    for code in range(512):
        if forms[code] >= 0x80:
            raise ValueError(f"a form that is not ASCII (byte {code // 2}) is declined, "
                             "not tabled")
    memcpy(FORMS, &forms[0], 512)
    memcpy(INFO, &info[0], 256)
    READY = True


cdef Py_ssize_t _forms(const unsigned char* src, Py_ssize_t n, unsigned char* form,
                      unsigned char* flags) noexcept:
    """Write the matching form of ``src`` and one byte of flags per character of it;
    return how many, or -1 if some character's form is not ASCII."""
    cdef Py_ssize_t i = 0, nxt, count = 0
    cdef unsigned char code, bits, after, flag, previous = 0
    while i < n and INFO[src[i]] & TRANSPARENT:
        i += 1
    while i < n:
        code = src[i]
        bits = INFO[code]
        if bits & DECLINE:
            return -1
        # The next character that is not transparent decides whether this one ends a word.
        nxt = i + 1
        while nxt < n and INFO[src[nxt]] & TRANSPARENT:
            nxt += 1
        after = INFO[src[nxt]] if nxt < n else 0
        # The flags of a form of one character, without a branch: ALNUM (4) shifted
        # to MAY_START (2) and MAY_END (1) where the neighbours lack it, NUMERIC (8)
        # to NUMBER (4).
        flag = (FIRST | LAST | (bits & NUMERIC) >> 1 | (~previous & ALNUM) >> 1
                | (~after & ALNUM) >> 2)
        form[count] = FORMS[2 * code]
        if bits & LENGTH == 2:  # "ß", "½": the first takes the start, the second the end
            flags[count] = flag & ~(LAST | MAY_END)
            form[count + 1] = FORMS[2 * code + 1]
            flags[count + 1] = flag & ~(FIRST | MAY_START)
        else:  # one character, or none (written, then left behind)
            flags[count] = flag
        count += bits & LENGTH
        previous = bits
        i = nxt
    return count


cdef unsigned char* _buffer(Py_ssize_t size) except NULL:
    cdef unsigned char* buffer = <unsigned char*> PyMem_Malloc(size + 1)
    if buffer == NULL:
        raise MemoryError()
    return buffer


def squeeze_latin1(bytes text):
    """``(squeezed form, run flags)`` of a message given as its Latin-1 bytes, or
    None if some character's form is not ASCII."""
    if not READY:
        raise RuntimeError("set_tables() first")
    cdef Py_ssize_t n = len(text), count, j, kept = 0
    cdef int run = 0
    cdef unsigned char ch, last = 0, carried = 0
    # A form is at most two characters a byte.
    cdef unsigned char* form = _buffer(4 * n)
    cdef unsigned char* flags = form + 2 * n
    try:
        count = _forms(text, n, form, flags)
        if count < 0:
            return None
        # Each run of one character cut to its first, which takes the flags of the
        # run's first RUN_REACH characters, and DOUBLE if the run is two or more.
        for j in range(count):
            ch = form[j]
            if kept and ch == last:
                run += 1
                if run <= RUN_REACH:
                    carried |= flags[j]
                carried |= DOUBLE
            else:
                if kept:
                    flags[kept - 1] = carried
                form[kept] = ch
                kept += 1
                last = ch
                carried = flags[j]
                run = 1
        if kept:
            flags[kept - 1] = carried
        return (PyUnicode_DecodeASCII(<char*> form, kept, NULL),
                PyBytes_FromStringAndSize(<char*> flags, kept))
    finally:
        PyMem_Free(form)


def forms_latin1(bytes text):
    """``(form, flags, starts)`` of a message given as its Latin-1 bytes: its
    matching form, one byte of flags per character of it and, if the squeeze cuts
    any character, where each character of the squeezed form starts in the form
    (an unsigned int each, in the machine's byte order; else no bytes, as each
    starts where it is); or None if some character's form is not ASCII."""
    if not READY:
        raise RuntimeError("set_tables() first")
    cdef Py_ssize_t n = len(text), count, j, kept = 0
    cdef unsigned char* form = _buffer(12 * n)
    cdef unsigned char* flags = form + 2 * n
    # (4 * n bytes into a block malloc aligns for any type)
    cdef unsigned int* starts = <unsigned int*> (form + 4 * n)
    try:
        count = _forms(text, n, form, flags)
        if count < 0:
            return None
        for j in range(count):
            if j == 0 or form[j] != form[j - 1]:
                starts[kept] = <unsigned int> j
                kept += 1
        return (PyUnicode_DecodeASCII(<char*> form, count, NULL),
                PyBytes_FromStringAndSize(<char*> flags, count),
                PyBytes_FromStringAndSize(<char*> starts, 4 * kept) if kept < count else b"")
    finally:
        PyMem_Free(form)


def starting(list matches, bytes runs):
    """The automaton's matches ``(pattern, first, end)`` that may start a hit where
    they start: the run at ``first`` may start a word, or a number comes before
    it. ``runs`` holds the run flags of the squeezed form; a match outside it is
    an error."""
    cdef Py_ssize_t count = len(runs), first
    cdef const unsigned char* flags = runs
    cdef list kept = []
    cdef tuple match
    for item in matches:
        match = <tuple?> item
        if len(match) != 3:
            raise ValueError(f"a match is (pattern, first, end), not {match!r}")
        first = match[1]
        if first < 0 or first >= count:
            raise IndexError(f"a match at {first} lies outside {count} characters")
        if flags[first] & MAY_START or (first and flags[first - 1] & NUMBER):
            kept.append(match)
    return kept


cdef bint _spelt(str text, Py_ssize_t at, str ending, Py_ssize_t skip) noexcept:
    """Whether ``text`` spells ``ending[skip:]`` from ``at`` on."""
    cdef Py_ssize_t k, length = len(ending)
    if at + length - skip > len(text):
        return False
    for k in range(skip, length):
        if text[at + k - skip] != ending[k]:
            return False
    return True


def ending(list matches, bytes runs, str text, const unsigned int[::1] tails,
           tuple endings):
    """The matches ``(pattern, first, end)`` that may end a hit where they end: the
    run at the end may end a word or a number follows, as their pattern's
    ``tails`` allow; or the word goes on with one of their pattern's ``endings``
    (or all of it but a first letter that joined the match's last run) and ends
    after it or a number follows. ``runs`` and ``text`` are the run flags and the
    squeezed form; a match outside them is an error."""
    cdef Py_ssize_t count = len(runs), end, index, after, patterns = tails.shape[0]
    cdef const unsigned char* flags = runs
    cdef unsigned int need, got, letter
    cdef list kept = []
    cdef tuple match
    cdef str spelling
    if len(text) != count:
        raise ValueError("the run flags and the squeezed form differ in length")
    if len(endings) != patterns:
        raise ValueError("the tails and the endings are of different patterns")
    for item in matches:
        match = <tuple?> item
        if len(match) != 3:
            raise ValueError(f"a match is (pattern, first, end), not {match!r}")
        index = match[0]
        end = match[2]
        if index < 0 or index >= patterns or end < 1 or end > count:
            raise IndexError(f"a match ({index}, ..., {end}) lies outside the patterns or text")
        need = tails[index]
        got = ENDS_HIT if flags[end - 1] & MAY_END else 0
        if end < count and flags[end] & NUMBER:
            got |= NUMBER_ENDS_HIT
        if need & got:
            kept.append(match)
            continue
        if end == count:
            continue
        letter = <unsigned int> text[end]
        if not need & ((1u << (letter - 97)) if 97 <= letter <= 122 else OTHER_BIT):
            continue
        for candidate in <tuple?> endings[index]:
            spelling = <str?> candidate
            if _spelt(text, end, spelling, 0):
                after = end + len(spelling)
            elif text[end - 1] == spelling[0] and _spelt(text, end, spelling, 1):
                after = end + len(spelling) - 1
            else:
                continue
            if flags[after - 1] & (MAY_END | NUMBER) or (after < count and flags[after] & NUMBER):
                kept.append(match)
                break
    return kept
