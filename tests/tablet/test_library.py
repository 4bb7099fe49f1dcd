"""What the resident sees, read from the tablet's store: a reply shows once
(waiting, then sent), a refunded purchase is gone from the library, a record
this version cannot read is skipped, and a reply must say something."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.frames import Record
from tablet.library import MAX_DRAFT_CHARS, Library
from tests.tablet.ui_sample import RESIDENT, filled_store


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
