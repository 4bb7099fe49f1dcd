"""What the resident sees, read from the tablet's store: a reply shows once
(waiting, then sent), a refunded purchase is gone from the library, a record
this version cannot read is skipped, and a reply must say something."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.frames import Record
from tablet.library import MAX_DRAFT_CHARS, Library
from tests.tablet.ui_sample import (
    GRIEVANCE_RECEIPT,
    MEDICAL_RECEIPT,
    RESIDENT,
    TERMS,
    filled_store,
    with_what_is_owed,
)


def test_a_reply_waits_then_shows_once_as_sent(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    library = Library(store, resident=RESIDENT, stamps_per_message=2)
    uid = library.write(11, "  See you Sunday  ")
    rosa = library.conversation(11)
    assert rosa is not None and rosa.waiting == 1
    assert (rosa.last.uid, rosa.last.body, rosa.last.waiting) == (uid, "See you Sunday", True)
    assert library.draft_cost(rosa.last.body) == 2
    # It went up at a dock and came back down in the feed, before the outbox let go of it.
    store.apply_records([Record(10, "message", uid, {
        "uid": uid, "direction": "from_resident", "contact_id": 11,
        "contact_name": "Rosa Webb", "body": "See you Sunday", "sent_at": 1_800_000_000,
        "attachments": []})], through=10)
    rosa = library.conversation(11)
    assert rosa is not None and [m.body for m in rosa.messages].count("See you Sunday") == 1
    assert rosa.waiting == 0 and rosa.last.sent_at == 1_800_000_000


def test_refunded_purchases_leave_the_library(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    library = Library(store, resident=RESIDENT)
    assert "River Road" in [t.title for t in library.tracks()]
    (river,) = [i for i in store.items("entitlement") if i["ref"] == "song-river"]
    store.apply_records([Record(20, "entitlement", "song-river",
                                {**river["body"], "state": "refunded"})], through=20)
    assert "River Road" not in [t.title for t in library.tracks()]
    (album,) = library.albums()
    assert [t.title for t in album.tracks] == ["First Snow", "Paper Boats"]


def test_a_record_it_cannot_read_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    store.apply_records([Record(30, "message", "m-odd", {"uid": "m-odd", "contact_id": "x"})],
                        through=30)
    names = [c.contact_name for c in Library(store, resident=RESIDENT).conversations()]
    assert names == ["Rosa Webb", "Jim Porter"]


@pytest.mark.parametrize("text", ["", "   \n ", "x" * (MAX_DRAFT_CHARS + 1)])
def test_an_empty_or_overlong_reply_is_refused(tmp_path: Path, text: str) -> None:
    store = filled_store(tmp_path)
    with pytest.raises(ValueError):
        Library(store, resident=RESIDENT).write(11, text)
    assert store.outbox_count() == 0


def test_a_videograms_captions_reach_the_library_and_a_bad_track_is_ignored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = filled_store(tmp_path)
    library = Library(store, resident=RESIDENT)
    rosa = library.conversation(11)
    assert rosa is not None
    (videogram,) = [a for m in rosa.messages for a in m.attachments if a.kind == "videogram"]
    assert videogram.captions is not None
    assert videogram.captions.at(1.0) == "Hi Marcus! This is the garden in June."
    assert videogram.captions.at(5.0) == "We planted the tomatoes you like."  # tags removed
    assert videogram.captions.at(9.0) == ""
    (sent,) = [i for i in store.items("message") if i["ref"] == "m-rosa-3"]
    for bad in ("not a caption file", "WEBVTT\n\n00:05.000 --> 00:01.000\nbackwards\n",
                "WEBVTT\n\n" + "00:00.000 --> 00:01.000\nx\n\n" * 300, 12345, None):
        body = {**sent["body"], "uid": "m-rosa-4", "attachments": [
            {**sent["body"]["attachments"][0], "captions": bad}]}
        store.apply_records([Record(40, "message", "m-rosa-4", body)], through=40)
        rosa = library.conversation(11)
        assert rosa is not None
        (shown,) = [m for m in rosa.messages if m.uid == "m-rosa-4"]
        assert shown.attachments[0].captions is None  # the videogram plays without them
    assert "captions are ignored" in caplog.text


def test_requests_show_the_receipt_numbers_a_dock_brought_back(tmp_path: Path) -> None:
    store = with_what_is_owed(filled_store(tmp_path))
    library = Library(store, resident=RESIDENT)
    prea = library.write_request("prea", "  Someone threatened me.  ")
    requests = {r.key: r for r in library.requests()}
    assert requests[prea].status == "waiting" and requests[prea].text == "Someone threatened me."
    assert next(iter(library.requests())).key == prea  # waiting ones first
    medical = next(r for r in requests.values() if r.type == "medical")
    assert (medical.receipt, medical.status) == (MEDICAL_RECEIPT, "filed")
    assert medical.text == "My tooth has hurt for three days." and medical.due_at
    at_kiosk = requests["kr-at-the-kiosk-1"]
    assert (at_kiosk.type, at_kiosk.receipt, at_kiosk.status, at_kiosk.text) \
        == ("grievance", GRIEVANCE_RECEIPT, "answered", "")
    # Handed to a kiosk, a PREA report's words are no longer shown; its receipt comes back.
    store.outbox_handed([prea])
    assert {r.key: r for r in library.requests()}[prea].text == ""
    store.apply_records([Record(105, "notice", "request:3", {
        "notice": "request", "request_id": 3, "uid": prea, "receipt": "R-AAAA-BBBB",
        "type": "prea", "status": "escalated", "due_at": 1, "text": "escalated"})], through=105)
    report = {r.key: r for r in library.requests()}[prea]
    assert (report.receipt, report.status, report.text) == ("R-AAAA-BBBB", "escalated", "")


def test_a_request_must_be_one_of_the_types_and_say_something(tmp_path: Path) -> None:
    library = Library(filled_store(tmp_path), resident=RESIDENT)
    for type_, body in (("parole", "let me out"), ("medical", "   "),
                        ("medical", "x" * (MAX_DRAFT_CHARS + 1))):
        with pytest.raises(ValueError):
            library.write_request(type_, body)
    assert library.requests() == []
    # Another owner's requests, written before a reassignment, are not this resident's.
    Library(library.store, resident="999999").write_request("records", "my file")
    assert library.requests() == []


def test_legal_mail_and_the_terms_as_a_dock_brought_them(tmp_path: Path) -> None:
    library = Library(filled_store(tmp_path), resident=RESIDENT)
    assert library.terms() is None
    assert not any(c.legal for c in library.conversations())
    with_what_is_owed(library.store)
    assert library.terms() == TERMS
    legal = [c for c in library.conversations() if c.legal]
    assert [c.contact_name for c in legal] == ["Dana Ortiz"] and legal[0].last.legal
