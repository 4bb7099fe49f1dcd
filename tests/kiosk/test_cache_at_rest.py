"""The kiosk's cache is sealed at rest, as a tablet's store is: a copy of the
cache directory (a stolen disk, a backup) shows no message text, no names, no
session token and no photo bytes; it does not open under another kiosk's key;
a sealed value moved to another row does not open; and a cache an earlier
version kept in plain is sealed when opened, nothing lost. Filled the way a
kiosk fills it: rounds with a real central server over TLS, a tablet's dock,
a resident's login, a letter written while the server is away."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from device_security.at_rest import Sealer
from device_security.secure_element import KeyFileSecureElement
from kiosk.cache import _SCHEMA, CacheError, KioskCache, cache_sealer
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.letters import Letters
from kiosk.residents import ResidentSessions
from kiosk.rounds import CentralSync
from tests.central.api_server import ApiServer
from tests.kiosk.test_central_client import PHOTO
from tests.kiosk.test_rounds import _world
from tests.sync.rig import TEST_CACHE_SEALER, open_cache

DRAFT = "Meet me by the old river oak on Sunday"
LETTER = "Tell grandma the lilacs bloomed in the yard"


def everything_in(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def test_a_copy_of_the_kiosks_cache_reveals_nothing(api: ApiServer,
                                                    tmp_path: Path) -> None:
    rig, rid, cid, song = _world(api, tmp_path)
    cache = rig.cache
    ident = api.kiosks["K-A2"]
    with CentralClient(api.url, KioskCredentials(ident.certificate, ident.key, api.ca_file),
                       attempts=1) as client:
        letters = Letters(client, cache)
        assert CentralSync(client, cache, letters=letters).run_once().blobs == 2
        rig.store.write_draft(resident="100001", contact=cid, body=DRAFT)
        assert rig.dock().complete  # the draft waits in the cache for the next round
        residents = ResidentSessions(client, cache, letters, unit="U-A")
        assert residents.login("100001", "482916").ok
        assert residents.change_pin("482916", "135790").ok
        token = residents.resident.token  # type: ignore[union-attr]
        home, contacts = residents.home(), residents.contacts()
        assert home.ok and contacts.ok and contacts.get()[0].name == "Sis"
        api.server.stop()  # the server goes away: the letter waits with its writer's session
        assert residents.write_letter(cid, LETTER).get().state == "queued"
        # What the kiosk kept answers while the server is away.
        assert residents.contacts().get()[0].name == "Sis"
    cache.close()
    copy = tmp_path / "stolen"
    shutil.copytree(cache.directory, copy)
    disk = everything_in(copy)
    song_bytes = KioskCache(copy, rig.sealer).blob_bytes(song)
    secrets = {"message text": b"the garden", "the contact's name": b"photo from Sis",
               "the resident's name": b"Ann Example", "their agency ID": b"100001",
               "a song's title": b"River Road", "a draft from the tablet": DRAFT.encode(),
               "a letter": LETTER.encode(), "the writer's session token": token.encode(),
               "photo bytes": PHOTO[1000:1064], "song bytes": song_bytes[1000:1064],
               "kept contacts": b'"name"'}
    assert all(len(text) >= 6 for text in secrets.values())
    found = [what for what, text in secrets.items() if text in disk]
    assert found == []
    # Under another kiosk's key the copy does not open at all.
    with pytest.raises(CacheError, match="another key"):
        KioskCache(copy, Sealer(bytes(32)))
    # The kiosk itself, restarted, reads everything back.
    again = KioskCache(cache.directory, rig.sealer)
    assert [r.body["body"] for r in again.records_after(rid, 0, 10)
            if r.kind == "message"] == ["the garden"]
    assert again.blob_bytes(hashlib.sha256(PHOTO).hexdigest()) == PHOTO
    (letter,) = again.letters(rid)
    assert letter["body"] == LETTER
    (pending,) = again.pending_letters()
    assert pending.payload["token"] == token
    assert [i.payload["body"]["body"] for i in again.pending_outbox()] == [DRAFT]
    assert json.loads(again.kept(f"contacts:{rid}") or "{}")["value"][0]["name"] == "Sis"
    again.close()


def test_a_sealed_value_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "cache")
    cache.apply_feed(1, 2, [{"seq": 1, "kind": "message", "ref": "m-1", "body": {"body": "a"}},
                            {"seq": 2, "kind": "message", "ref": "m-2", "body": {"body": "b"}}])
    with cache.local.transaction() as conn:  # someone with the disk swaps two bodies
        (first,) = conn.execute("SELECT body FROM records WHERE seq = 1").fetchone()
        conn.execute("UPDATE records SET body = ? WHERE seq = 2", [first])
    with pytest.raises(CacheError, match="does not open"):
        cache.records_after(1, 0, 10)
    cache.close()


def test_a_plain_cache_from_an_earlier_version_is_sealed_when_opened(tmp_path: Path) -> None:
    """What a kiosk of the version before kept, as it kept it: nothing is lost
    (queued drafts and letters are the only copies), and no plaintext is left,
    not even in the database's free pages."""
    directory = tmp_path / "cache"
    (directory / "blobs").mkdir(parents=True)
    sha = hashlib.sha256(PHOTO).hexdigest()
    (directory / "blobs" / sha).write_bytes(PHOTO)
    (directory / "blobs" / f"{sha[:-1]}0.partial").write_bytes(PHOTO[:100])
    conn = sqlite3.connect(directory / "cache.db")
    conn.executescript(_SCHEMA)
    body = json.dumps({"uid": "m-1", "body": "the garden", "contact_name": "Sis",
                       "attachments": [{"kind": "photo", "sha256": sha, "size": len(PHOTO)}]})
    conn.execute("INSERT INTO records VALUES (7, 1, 'message', 'm-1', ?)", [body])
    conn.execute("INSERT INTO wanted VALUES (7, 'message:m-1', ?, ?, 'photo from Sis', 1)",
                 [sha, len(PHOTO)])
    conn.execute("INSERT INTO blobs VALUES (?, ?, 0)", [sha, len(PHOTO)])
    conn.execute("INSERT INTO tablets (serial, resident_id, resident_agency_id, status) "
                 "VALUES ('JP5S-000001', 7, '100001', 'active')")
    conn.execute("INSERT INTO outbox (uid, serial, kind, body, signature, received_at, state) "
                 "VALUES ('d-1', 'JP5S-000001', 'draft', ?, x'00', 0, 'queued')",
                 [json.dumps({"resident": "100001", "contact": 3, "body": DRAFT})])
    conn.execute("INSERT INTO letters (uid, resident_id, contact_id, body, token, written_at, "
                 "state) VALUES ('k-1', 7, 3, ?, 'tok-secret-session-0001', 0, 'queued')",
                 [LETTER])
    conn.execute("INSERT INTO meta VALUES ('contacts:7', ?)",
                 [json.dumps({"value": [{"id": 3, "name": "Sis Example"}], "as_of": 1})])
    conn.commit()
    conn.close()
    element = KeyFileSecureElement(tmp_path / "kiosk-key.pem")
    element.generate()
    cache = KioskCache(directory, cache_sealer(element))
    assert cache.records_after(7, 0, 10)[0].body["body"] == "the garden"
    assert [b.label for b in cache.blobs_for(7, "JP5S-000001")] == ["photo from Sis"]
    assert cache.blob_bytes(sha) == PHOTO
    assert cache.tablet("JP5S-000001")["resident_agency_id"] == "100001"  # type: ignore[index]
    assert cache.pending_outbox()[0].payload["body"]["body"] == DRAFT
    assert cache.pending_letters()[0].payload == {"resident_id": 7, "contact_id": 3,
                                                  "body": LETTER,
                                                  "token": "tok-secret-session-0001"}
    assert "Sis Example" in (cache.kept("contacts:7") or "")
    cache.close()
    disk = everything_in(directory)
    for text in (b"the garden", b"photo from Sis", b"100001", DRAFT.encode(), LETTER.encode(),
                 b"tok-secret-session-0001", b"Sis Example", PHOTO[1000:1064]):
        assert text not in disk, text
    assert not list((directory / "blobs").glob("*.partial"))  # an old download starts again
    KioskCache(directory, cache_sealer(element)).close()  # and it opens again as it is
    with pytest.raises(CacheError, match="another key"):
        KioskCache(directory, TEST_CACHE_SEALER)
