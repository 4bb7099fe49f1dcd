"""The order in which a message is displayed, so that the screening can read it
as a reader would.

A right-to-left override (U+202E) makes "sgurd" show as "drugs". This module
works out the displayed order with the explicit part of the Unicode
Bidirectional Algorithm (UAX #9): paragraphs and their base direction (P1-P3),
embeddings, overrides and isolates with their stack and overflow rules (X1-X10),
and the reversal of runs by level (L2). The implicit rules are simplified:
a character under an override takes the override's direction (exactly as UAX #9
has it), a strong letter its own, and every other character (digits, spaces,
punctuation) the direction of its embedding. That is exact for the case the
screening cares about, letters under an override or an embedding, and may
differ from a full implementation only in where numbers and punctuation next
to right-to-left letters are shown. Pure; nothing here does I/O.
"""

from __future__ import annotations

import re
import unicodedata

LRE, RLE, PDF, LRO, RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"
MAX_DEPTH = 125  # UAX #9, BD2

_EXPLICIT = re.compile("[\u202a-\u202e\u2066-\u2069]")
_EMBEDDINGS = {LRE: (False, None), RLE: (True, None), LRO: (False, "L"), RLO: (True, "R")}
_ISOLATES = {LRI: False, RLI: True}
_ISOLATE_CONTROLS = frozenset((LRI, RLI, FSI, PDI))


def has_explicit_controls(text: str) -> bool:
    """Whether text holds any embedding, override or isolate control (which may
    make the displayed order differ from the stored one)."""
    return _EXPLICIT.search(text) is not None


def _strong(ch: str) -> str | None:
    kind = unicodedata.bidirectional(ch)
    if kind == "L":
        return "L"
    if kind in ("R", "AL"):
        return "R"
    return None


def _first_strong(text: str, start: int, end: int) -> str | None:
    """P2: the first strong direction, skipping isolates and stopping at the end
    of an isolate begun before ``start``."""
    depth = 0
    for i in range(start, end):
        ch = text[i]
        if ch in _ISOLATES or ch == FSI:
            depth += 1
        elif ch == PDI:
            if depth == 0:
                return None
            depth -= 1
        elif depth == 0:
            strong = _strong(ch)
            if strong is not None:
                return strong
    return None


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph; a paragraph separator ends its paragraph (P1)."""
    spans, start = [], 0
    for i, ch in enumerate(text):
        if unicodedata.bidirectional(ch) == "B":
            spans.append((start, i + 1))
            start = i + 1
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _levels(text: str, start: int, end: int) -> list[int | None]:
    """The level of each character of one paragraph; None for the characters
    that rule X9 removes (the controls themselves and boundary neutrals)."""
    base = 1 if _first_strong(text, start, end) == "R" else 0
    stack: list[tuple[int, str | None, bool]] = [(base, None, False)]  # level, override, isolate
    overflow_isolates = overflow_embeddings = valid_isolates = 0
    levels: list[int | None] = []

    def next_level(rtl: bool) -> int:
        level = stack[-1][0]
        return level + 1 | 1 if rtl else (level + 2) & ~1

    for i in range(start, end):
        ch = text[i]
        if ch in _EMBEDDINGS:  # X2-X5
            rtl, override = _EMBEDDINGS[ch]
            level = next_level(rtl)
            if level <= MAX_DEPTH and not overflow_isolates and not overflow_embeddings:
                stack.append((level, override, False))
            elif not overflow_isolates:
                overflow_embeddings += 1
            levels.append(None)
        elif ch in _ISOLATES or ch == FSI:  # X5a-X5c
            levels.append(stack[-1][0])
            rtl = _first_strong(text, i + 1, end) == "R" if ch == FSI else _ISOLATES[ch]
            level = next_level(rtl)
            if level <= MAX_DEPTH and not overflow_isolates and not overflow_embeddings:
                valid_isolates += 1
                stack.append((level, None, True))
            else:
                overflow_isolates += 1
        elif ch == PDI:  # X6a
            if overflow_isolates:
                overflow_isolates -= 1
            elif valid_isolates:
                overflow_embeddings = 0
                while not stack[-1][2]:
                    stack.pop()
                stack.pop()
                valid_isolates -= 1
            levels.append(stack[-1][0])
        elif ch == PDF:  # X7
            if not overflow_isolates:
                if overflow_embeddings:
                    overflow_embeddings -= 1
                elif not stack[-1][2] and len(stack) >= 2:
                    stack.pop()
            levels.append(None)
        elif unicodedata.bidirectional(ch) == "BN":  # X9
            levels.append(None)
        elif unicodedata.bidirectional(ch) == "B":  # X8: the separator takes the base level
            levels.append(base)
        else:  # X6, then I1 and I2 for strong letters
            level, override, _ = stack[-1]
            direction = override or _strong(ch)
            if (direction == "R" and level % 2 == 0) or (direction == "L" and level % 2 == 1):
                level += 1
            levels.append(level)
    return levels


def _reorder(levels: list[int | None], offset: int) -> list[int]:
    """L2: from the highest level down to the lowest odd one, reverse every run
    of characters at that level or higher."""
    order = [offset + i for i, level in enumerate(levels) if level is not None]
    kept = [level for level in levels if level is not None]
    if not kept:
        return order
    lowest_odd = min(level for level in kept) | 1
    for level in range(max(kept), lowest_odd - 1, -1):
        i = 0
        while i < len(kept):
            if kept[i] >= level:
                j = i
                while j < len(kept) and kept[j] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                kept[i:j] = kept[i:j][::-1]
                i = j
            else:
                i += 1
    return order


def displayed_order(text: str) -> list[int]:
    """The indexes of text's characters in the order they are displayed, left to
    right, each paragraph in turn; the explicit controls themselves are left out.
    Raises nothing."""
    order: list[int] = []
    for start, end in _paragraphs(text):
        order.extend(i for i in _reorder(_levels(text, start, end), start)
                     if text[i] not in _ISOLATE_CONTROLS)
    return order
