"""A tablet's store filled as a dock would fill it, for the UI's tests and
screenshots: two family members' messages (one with a photo, one with a
captioned videogram), a song, an album of two tracks and one more song still
on its way."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.rejections import REASONS
from central.seed import tone_wav
from device_security.at_rest import Sealer
from kiosk.records import AgencyPolicy
from kiosk.terms import render
from simulators.media import png
from sync.frames import Record
from tablet.store import TabletStore

SERIAL = "JP5S-000001"
RESIDENT = "874512"
CAPTIONS = ("WEBVTT\n\n00:00.000 --> 00:03.000\nHi Marcus! This is the garden in June.\n\n"
            "00:03.000 --> 00:08.000\nWe planted the <i>tomatoes</i> you like.\n")
TERMS = render("en", AgencyPolicy(refund_window_days=21, tablet_lock_days=14))
MEDICAL_RECEIPT, GRIEVANCE_RECEIPT = "R-7KQ2-M9XD", "R-H4PW-3N8C"
WITHHELD_REASON = "identifying"


def _put(store: TabletStore, data: bytes) -> str:
    sha = hashlib.sha256(data).digest()
    sink = store.begin_blob(sha, len(data), 0)
    sink.write(0, data)
    sink.finish()
    sink.close()
    return sha.hex()


def filled_store(directory: Path) -> TabletStore:
    key = Ed25519PrivateKey.generate()
    store = TabletStore(directory, serial=SERIAL, sign=key.sign, sealer=Sealer(os.urandom(32)))
    now = int(time.time())
    photo = _put(store, png(480, 360))
    videogram = _put(store, tone_wav(8, 330.0))  # a videogram's sound is enough to time it
    songs = {i: _put(store, tone_wav(3, f)) for i, f in (("song-river", 440.0),
                                                          ("track-north-1", 523.0),
                                                          ("track-north-2", 587.0))}

    def message(seq: int, uid: str, contact: int, name: str, body: str, incoming: bool,
                at: int, attachments: list[dict[str, object]] | None = None) -> Record:
        return Record(seq, "message", uid, {
            "uid": uid, "message_id": seq, "direction": "to_resident" if incoming
            else "from_resident", "resident_id": 1, "contact_id": contact,
            "contact_name": name, "body": body, "stamps": 1, "sent_at": at,
            "attachments": attachments or []})

    def bought(seq: int, item: str, title: str, artist: str, sha: str | None,
               album: tuple[str, str] | None = None) -> Record:
        return Record(seq, "entitlement", item, {
            "entitlement_id": seq, "item_id": item, "title": title, "kind": "song",
            "sha256": sha or "ab" * 32, "size": 1000, "media_type": "audio/wav",
            "state": "verified", "price_cents": 129, "artist": artist,
            "album_id": album[0] if album else None, "album": album[1] if album else None,
            "duration_s": 3})

    records = [
        message(1, "m-rosa-1", 11, "Rosa Webb", "Hi Marcus, the garden is finally blooming. "
                "Your nephew says hi! Love, Mom", True, now - 3 * 86400),
        message(2, "m-rosa-2", 11, "Rosa Webb", "Here is the garden in the morning.", True,
                now - 2 * 86400, [{"kind": "photo", "sha256": photo, "size": 1000,
                                   "media_type": "image/png"}]),
        message(3, "m-me-1", 11, "Rosa Webb", "It looks beautiful. Thank you, Mom.", False,
                now - 86400),
        message(9, "m-rosa-3", 11, "Rosa Webb", "A little video from the garden.", True,
                now - 3600, [{"kind": "videogram", "sha256": videogram, "size": 1000,
                              "media_type": "video/mp4", "captions": CAPTIONS}]),
        message(4, "m-jim-1", 12, "Jim Porter", "Game on Saturday, we will listen on the "
                "radio and think of you.", True, now - 5 * 86400),
        bought(5, "song-river", "River Road", "The Lanterns", songs["song-river"]),
        bought(6, "track-north-1", "First Snow", "Harbor Street", songs["track-north-1"],
               ("album-north", "North Windows")),
        bought(7, "track-north-2", "Paper Boats", "Harbor Street", songs["track-north-2"],
               ("album-north", "North Windows")),
        bought(8, "song-sunday", "Sunday Light", "Maya Quill", None),
    ]
    records.sort(key=lambda r: r.seq)
    store.apply_records(records, through=len(records))
    return store


def with_what_is_owed(store: TabletStore) -> TabletStore:
    """More of what a dock brings: an attorney's legal mail, the terms
    accepted at the kiosk, the notices of two requests (a medical one
    written here and handed to a kiosk, a grievance filed at the kiosk), and
    an older message of two photos of which staff withheld the second (its
    withheld list as the central server writes it, the reason from
    central/rejections.py)."""
    now = int(time.time())
    photo = _put(store, png(320, 240))
    medical = store.write_request(resident=RESIDENT, type_="medical",
                                  body="My tooth has hurt for three days.")
    store.outbox_handed([medical])
    records = [
        Record(100, "message", "m-jim-0", {
            "uid": "m-jim-0", "message_id": 100, "direction": "to_resident",
            "resident_id": 1, "contact_id": 12, "contact_name": "Jim Porter",
            "body": "Two pictures from the game.", "stamps": 3,
            "sent_at": now - 6 * 86400, "attachments": [
                {"kind": "photo", "sha256": photo, "size": 1000, "media_type": "image/png"}],
            "withheld": [{"part": "photo", "position": 1, "reason_code": WITHHELD_REASON,
                          "reason": REASONS[WITHHELD_REASON].both()}]}),
        Record(101, "message", "m-dana-1", {
            "uid": "m-dana-1", "message_id": 101, "direction": "to_resident",
            "resident_id": 1, "contact_id": 13, "contact_name": "Dana Ortiz",
            "body": "Your hearing moved to the 14th. Call me collect on Monday.", "stamps": 0,
            "sent_at": now - 4 * 86400, "attachments": [], "legal": True}),
        Record(102, "terms", "terms:1", {"sha256": "00" * 32, "language": "en", "text": TERMS,
                                         "accepted_at": now - 6 * 86400}),
        Record(103, "notice", "request:1", {
            "notice": "request", "request_id": 1, "uid": medical, "receipt": MEDICAL_RECEIPT,
            "type": "medical", "status": "filed", "due_at": now + 86400,
            "text": f"Your medical request was received: receipt {MEDICAL_RECEIPT}."}),
        Record(104, "notice", "request:2", {
            "notice": "request", "request_id": 2, "uid": "kr-at-the-kiosk-1",
            "receipt": GRIEVANCE_RECEIPT, "type": "grievance", "status": "answered",
            "due_at": now + 9 * 86400, "text": f"Request {GRIEVANCE_RECEIPT}: staff answered."}),
    ]
    store.apply_records(records, through=104)
    return store
