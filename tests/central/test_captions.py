"""A videogram's captions, as its sender supplied them: a WebVTT track that
travels in the message record beside the videogram, to the resident's feed
and on to the tablet. A track that is not WebVTT, too large, or on a photo is
refused with a clear error and nothing is saved or charged; the same uid
with other captions is other content."""

from __future__ import annotations

import pytest

from central.errors import Conflict, InvalidInput
from central.services import messaging, money
from central.services.messaging import Attachment
from tests.central.facility import Facility
from tests.central.test_must_never_happen import _blob, _stamps

CAPTIONS = "WEBVTT\n\n00:00.000 --> 00:03.000\nHi Marcus! This is the garden.\n"
VIDEO = b"\x00\x00\x00\x18ftypmp42 a videogram" * 100


def _family_with_video(f: Facility) -> tuple[int, int, str, str]:
    rid = f.admit("100001", "Ann Example").id
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    video = _blob(f, VIDEO, "video/mp4", uploader=f"contact:{cid}", purpose="message")
    photo = _blob(f, b"\x89PNG\r\n\x1a\n a photo" * 10, "image/png",
                  uploader=f"contact:{cid}", purpose="message")
    return rid, cid, video, photo


def test_captions_travel_with_the_videogram_to_the_residents_feed(
        facility: Facility) -> None:
    f = facility
    rid, cid, video, _ = _family_with_video(f)
    uid = f.uid()
    sent = messaging.send_from_contact(f.central, cid, uid=uid, resident_agency_id="100001",
                                       body="from the garden",
                                       attached=[Attachment("videogram", video, CAPTIONS)])
    assert sent.status == "delivered"
    _, records = messaging.feed_page(f.central, f"resident:{rid}", 0)
    (record,) = [r for r in records if r.kind == "message"]
    assert record.body["attachments"][0]["captions"] == CAPTIONS
    again = messaging.send_from_contact(f.central, cid, uid=uid, resident_agency_id="100001",
                                        body="from the garden",
                                        attached=[Attachment("videogram", video, CAPTIONS)])
    assert again.replayed
    with pytest.raises(Conflict):
        messaging.send_from_contact(f.central, cid, uid=uid, resident_agency_id="100001",
                                    body="from the garden", attached=[Attachment(
                                        "videogram", video, CAPTIONS.replace("Hi", "Yo"))])


def test_a_videogram_without_captions_carries_none(facility: Facility) -> None:
    f = facility
    rid, cid, video, _ = _family_with_video(f)
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="", attached=[Attachment("videogram", video)])
    _, records = messaging.feed_page(f.central, f"resident:{rid}", 0)
    (record,) = [r for r in records if r.kind == "message"]
    assert "captions" not in record.body["attachments"][0]


@pytest.mark.parametrize(("kind", "captions", "code"), [
    ("videogram", "not a caption file", "bad_captions"),
    ("videogram", "WEBVTT\n\n00:05.000 --> 00:01.000\nbackwards\n", "bad_captions"),
    ("videogram", "WEBVTT\n\n00:0x.000 --> 00:01.000\nunreadable\n", "bad_captions"),
    ("videogram", "WEBVTT\n\n00:00.000 --> 00:01.000\n" + "x" * 20_000 + "\n", "bad_captions"),
    ("photo", CAPTIONS, "captions_not_videogram"),
])
def test_bad_captions_are_refused_and_nothing_is_saved_or_charged(
        facility: Facility, kind: str, captions: str, code: str) -> None:
    f = facility
    rid, cid, video, photo = _family_with_video(f)
    before = _stamps(f, messaging.contact_owner(cid, "WA"))
    with pytest.raises(InvalidInput) as refused:
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="look", attached=[Attachment(
                                        kind, video if kind == "videogram" else photo,
                                        captions)])
    assert refused.value.code == code
    assert _stamps(f, messaging.contact_owner(cid, "WA")) == before
    _, records = messaging.feed_page(f.central, f"resident:{rid}", 0)
    assert [r for r in records if r.kind == "message"] == []
