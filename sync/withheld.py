"""What staff withheld of a delivered message, as the kiosk and the tablet
show it inside the conversation: "Photo 2 was withheld: <reason>".

The central server's message record carries a ``withheld`` list beside the
attachments it delivers: each entry the part (``text``, ``photo``,
``videogram``), its place among the message's attachments as the sender
placed them (``position``, from 0; none for the text), the reason code and
its wording in English and Spanish. Withheld files are never in the record,
so their places are worked out here: the delivered attachments fill the
places the withheld ones leave, in order.

Pure functions over the record's values. An entry that does not fit is
left out (logged) and never stops the rest of the message from showing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

TEXT = "text"
MAX_WITHHELD = 64  # a message has far fewer parts
MAX_REASON_CHARS = 500
T = TypeVar("T")


@dataclass(frozen=True)
class WithheldPart:
    """One part staff withheld. ``number`` is which photo (or videogram) of
    the message it was, from 1 (0 for the text); ``slot`` its place among the
    message's attachments, from 0 (-1 for the text). The reason's wording is
    empty when the record gave none."""

    part: str
    number: int
    slot: int
    reason_en: str = ""
    reason_es: str = ""

    def reason(self, language: str) -> str:
        """The reason in ``language`` (English for one not given)."""
        return self.reason_es if language == "es" and self.reason_es else self.reason_en


def withheld_parts(withheld: object, delivered_kinds: Sequence[str]) -> tuple[WithheldPart, ...]:
    """The parts of a message staff withheld, from its record's ``withheld``
    list (``delivered_kinds``: the kinds of the attachments delivered, in
    order): the text first, then by place."""
    if not isinstance(withheld, list):
        return ()
    text: list[WithheldPart] = []
    placed: dict[int, tuple[str, str, str]] = {}
    for entry in withheld[:MAX_WITHHELD]:
        try:
            part, position, en, es = _entry(entry)
        except ValueError as e:
            log.warning("a withheld part that cannot be shown: %s", e)
            continue
        if part == TEXT:
            text[:1] = [WithheldPart(TEXT, 0, -1, en, es)]
        elif position is not None and position not in placed:
            placed[position] = (part, en, es)
    slots = _slots(placed, delivered_kinds)
    parts = []
    for position, (part, en, es) in sorted(placed.items()):
        number = sum(1 for kind in slots[:position + 1] if kind == part) \
            if position < len(slots) else position + 1
        parts.append(WithheldPart(part, number, position, en, es))
    return (*text, *parts)


def in_place(delivered: Sequence[T], withheld: Sequence[WithheldPart]
             ) -> list[T | WithheldPart]:
    """The message's attachments as the sender placed them, each withheld one
    in its own place among those delivered (the text's first)."""
    by_slot = {w.slot: w for w in withheld if w.slot >= 0}
    out: list[T | WithheldPart] = [w for w in withheld if w.slot < 0]
    rest = iter(delivered)
    for slot in range(len(delivered) + len(by_slot)):
        if slot in by_slot:
            out.append(by_slot.pop(slot))
        else:
            nxt = next(rest, None)
            if nxt is not None:
                out.append(nxt)
    out += list(rest)
    out += [by_slot[s] for s in sorted(by_slot)]  # places past the end: last
    return out


def _slots(placed: dict[int, tuple[str, str, str]], delivered_kinds: Sequence[str]) -> list[str]:
    """Each place's kind: the withheld ones where they were, the delivered
    ones in the places left."""
    total = len(placed) + len(delivered_kinds)
    rest = iter(delivered_kinds)
    return [placed[i][0] if i in placed else next(rest, "") for i in range(total)]


def _entry(entry: object) -> tuple[str, int | None, str, str]:
    """One entry's part, place and reason. Raises ValueError."""
    if not isinstance(entry, dict):
        raise ValueError(f"not an object: {entry!r:.80}")
    part = entry.get("part")
    if not isinstance(part, str) or not part.isidentifier() or len(part) > 32:
        raise ValueError(f"no part: {part!r:.80}")
    position = entry.get("position")
    place: int | None = None
    if part != TEXT:
        if isinstance(position, bool) or not isinstance(position, int) \
                or not 0 <= position < MAX_WITHHELD:
            raise ValueError(f"{part} without its place: {position!r:.80}")
        place = position
    reason = entry.get("reason")
    en = es = ""
    if isinstance(reason, dict):
        en, es = _wording(reason.get("en")), _wording(reason.get("es"))
    return part, place, en, es


def _wording(value: object) -> str:
    return value.strip()[:MAX_REASON_CHARS] if isinstance(value, str) else ""


def withheld_text(t: Callable[..., str], part: WithheldPart, language: str) -> str:
    """What staff withheld of a message, said in its place in the
    conversation: "Photo 2 was withheld: <reason>" (the reason in
    ``language``, as the central server worded it), through the device's
    translator ``t``: the kiosk's and the tablet's catalogs both carry these."""
    reason = part.reason(language)
    if part.part == "text":
        return t("The text of this message was withheld: {reason}", reason=reason) \
            if reason else t("The text of this message was withheld.")
    if part.part == "photo":
        return t("Photo {number} was withheld: {reason}", number=part.number,
                 reason=reason) if reason else \
            t("Photo {number} was withheld.", number=part.number)
    if part.part == "videogram":
        return t("Videogram {number} was withheld: {reason}", number=part.number,
                 reason=reason) if reason else \
            t("Videogram {number} was withheld.", number=part.number)
    return t("An attachment was withheld: {reason}", reason=reason) if reason else \
        t("An attachment was withheld.")
