"""What staff withheld of a message, placed and numbered as the sender
placed it, from the record the central server makes (its reasons from
central/rejections.py); entries that do not fit are left out and never stop
the message from showing."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from central.rejections import REASONS
from sync.withheld import WithheldPart, in_place, withheld_parts


def _entry(part: str, position: int | None, code: str) -> dict[str, Any]:
    """An entry as central.services.messaging writes it."""
    return {"part": part, "position": position, "reason_code": code,
            "reason": REASONS[code].both()}


def test_the_second_photo_withheld_is_photo_2_in_its_place() -> None:
    # The sender attached photo, videogram, photo, photo; staff withheld the
    # third attachment (the second photo) and the text.
    withheld = [_entry("text", None, "threat"), _entry("photo", 2, "contraband")]
    parts = withheld_parts(withheld, ["photo", "videogram", "photo"])
    assert [(p.part, p.number, p.slot) for p in parts] == [("text", 0, -1), ("photo", 2, 2)]
    photo = parts[1]
    assert photo.reason("en") == REASONS["contraband"].en
    assert photo.reason("es") == REASONS["contraband"].es != photo.reason("en")
    assert in_place(["p1", "v1", "p3"], parts) == [parts[0], "p1", "v1", photo, "p3"]


def test_numbers_count_each_kind_apart() -> None:
    withheld = [_entry("videogram", 0, "threat"), _entry("photo", 3, "threat"),
                _entry("photo", 1, "threat")]
    parts = withheld_parts(withheld, ["photo", "videogram"])
    assert [(p.part, p.number, p.slot) for p in parts] == [
        ("videogram", 1, 0), ("photo", 1, 1), ("photo", 3, 3)]  # v, p, p, P, v: the third photo
    assert in_place(["p", "v"], parts) == [parts[0], parts[1], "p", parts[2], "v"]


def test_entries_that_do_not_fit_are_left_out() -> None:
    withheld: list[object] = [
        "photo 2", {"part": "photo"}, {"part": "photo", "position": True},
        {"part": "photo", "position": -1}, {"part": "../x", "position": 0},
        {"part": "photo", "position": 0, "reason": "not an object"},
        {"part": "photo", "position": 0, "reason": {"en": "again"}}]  # the same place twice
    [photo] = withheld_parts(withheld, [])
    assert (photo.part, photo.number, photo.reason("en"), photo.reason("es")) == \
        ("photo", 1, "", "")
    assert withheld_parts(None, ["photo"]) == () == withheld_parts({"x": 1}, [])
    far = withheld_parts([{"part": "photo", "position": 9}], ["photo"])
    assert [(p.number, p.slot) for p in far] == [(10, 9)]
    assert in_place(["p"], far) == ["p", far[0]]  # a place past the end comes last


@given(st.lists(st.one_of(
    st.none(), st.integers(), st.text(max_size=5),
    st.fixed_dictionaries({"part": st.sampled_from(["text", "photo", "videogram", 3]),
                           "position": st.one_of(st.none(), st.integers(-2, 70)),
                           "reason": st.one_of(st.none(), st.dictionaries(
                               st.sampled_from(["en", "es"]), st.one_of(st.text(), st.none())))
                           })), max_size=80),
    st.lists(st.sampled_from(["photo", "videogram"]), max_size=6))
def test_any_withheld_list_shows_every_delivered_attachment_once(
        withheld: list[object], kinds: list[str]) -> None:
    parts = withheld_parts(withheld, kinds)
    placed = in_place(kinds and list(range(len(kinds))), parts)
    assert [x for x in placed if not isinstance(x, WithheldPart)] == list(range(len(kinds)))
    assert [x for x in placed if isinstance(x, WithheldPart)] == \
        sorted(parts, key=lambda p: p.slot)
