"""The tablet's store at rest: a copy of it reveals nothing; kill -9 during
any write leaves it consistent; a new owner never sees the old one's
content; drafts handed to a kiosk stay shown until they come back down."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.at_rest import Sealer
from simulators.media import png
from sync.frames import Record
from tablet.library import Library
from tablet.store import StoreError, TabletStore
from tests.tablet import store_writer

ROOT = Path(__file__).resolve().parents[2]
SERIAL = "JP5S-000901"
OWNER = "874512"


def _store(path: Path, key: bytes) -> TabletStore:
    return TabletStore(path, serial=SERIAL, sign=Ed25519PrivateKey.generate().sign,
                       sealer=Sealer(key))


def _put(store: TabletStore, data: bytes) -> str:
    sha = hashlib.sha256(data).digest()
    sink = store.begin_blob(sha, len(data), 0)
    sink.write(0, data)
    sink.finish()
    return sha.hex()


def _message(seq: int, uid: str, body: str, name: str, **extra: object) -> Record:
    return Record(seq, "message", uid, {"uid": uid, "direction": "to_resident",
                                        "contact_id": 11, "contact_name": name, "body": body,
                                        "sent_at": 1_790_000_000 + seq, "attachments": [],
                                        **extra})


# -- a copy reveals nothing --------------------------------------------------------------


def test_a_copied_store_reveals_no_text_names_ids_hashes_or_bytes(tmp_path: Path) -> None:
    store = _store(tmp_path / "content", os.urandom(32))
    store.set_owner(OWNER)
    photo = png(64, 48)
    song = random.Random(1).randbytes(300_000)
    photo_sha, song_sha = _put(store, photo), _put(store, song)
    half = song[:150_000] + b"\0"  # a blob received in part
    half_sha = hashlib.sha256(half + b"more").digest()
    sink = store.begin_blob(half_sha, len(half) + 4, 0)
    sink.write(0, half)
    sink.close()
    secrets_ = ["Marisol Quintanilla", "the parole hearing is on the ninth",
                "Sunflower Serenade", "Lantern Collective"]
    store.apply_records([
        _message(1, "m-secret-1", secrets_[1], secrets_[0],
                 attachments=[{"kind": "photo", "sha256": photo_sha}]),
        Record(2, "entitlement", "song-sun", {"item_id": "song-sun", "title": secrets_[2],
                                              "artist": secrets_[3], "sha256": song_sha,
                                              "state": "verified"}),
    ], through=2)
    draft = "tell grandma I got the job in the kitchen"
    uid = store.write_draft(resident=OWNER, contact=11, body=draft)
    store.outbox_handed([uid])
    assert [d.body for d in store.drafts()] == [draft]  # it is all there, for the key holder

    stolen = tmp_path / "stolen"
    shutil.copytree(tmp_path / "content", stolen)  # while open: the WAL too
    store.close()
    everything = b"".join(p.read_bytes() + p.name.encode() for p in stolen.rglob("*")
                          if p.is_file()) + b"".join(p.name.encode() for p in stolen.rglob("*"))
    revealing = [s.encode() for s in (*secrets_, draft, OWNER, "m-secret-1", "song-sun")]
    for sha in (photo_sha, song_sha, half_sha.hex()):
        revealing += [sha.encode(), bytes.fromhex(sha), sha[:16].encode()]
    revealing += [photo[16:48], song[1000:1032], song[200_000:200_032], half[100_000:100_032]]
    found = [r[:40] for r in revealing if r in everything]
    assert found == [], f"a copy of the store shows {found}"


def test_a_store_opened_under_another_key_is_refused(tmp_path: Path) -> None:
    _store(tmp_path / "content", os.urandom(32)).close()
    with pytest.raises(StoreError, match="another key"):
        _store(tmp_path / "content", os.urandom(32))


def test_an_altered_row_or_blob_does_not_open(tmp_path: Path) -> None:
    from device_security.errors import IntegrityError

    store = _store(tmp_path / "content", os.urandom(32))
    store.apply_records([_message(1, "m-1", "one", "A"), _message(2, "m-2", "two", "B")], 2)
    with store.local.transaction() as conn:  # move one sealed row onto another
        (sealed,) = conn.execute("SELECT sealed FROM items WHERE seq = 1").fetchone()
        conn.execute("UPDATE items SET sealed = ? WHERE seq = 2", [sealed])
    with pytest.raises(IntegrityError):
        store.items("message")
    data = os.urandom(200_000)
    sha = bytes.fromhex(_put(store, data))
    (path,) = [p for p in (tmp_path / "content" / "blobs").iterdir() if p.is_file()]
    raw = bytearray(path.read_bytes())
    raw[-1000] ^= 1
    path.write_bytes(bytes(raw))
    with store.open_blob(sha) as reader, pytest.raises(IntegrityError):
        reader.read()
    store.close()


# -- kill -9 during writes -----------------------------------------------------------------


def _writer(directory: Path, key: bytes, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.tablet.store_writer", str(directory),
                             key.hex(), str(seed)], cwd=ROOT, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("seed", range(6))
def test_kill_9_during_store_writes_leaves_it_consistent(tmp_path: Path, seed: int) -> None:
    key = os.urandom(32)
    directory = tmp_path / "content"
    rand = random.Random(seed)
    through = 0
    complete: set[str] = set()
    durable: dict[str, int] = {}
    drafts: set[str] = set()
    handed: set[str] = set()
    for kill in range(4):
        child = _writer(directory, key, seed)
        assert child.stdout is not None
        lines = rand.randrange(3, 40)
        for _ in range(lines):
            line = child.stdout.readline().split()
            if not line:
                break
            kind, *rest = line
            if kind == "batch":
                through = int(rest[0])
            elif kind == "chunk":
                durable[rest[0]] = int(rest[1])
            elif kind == "blob":
                complete.add(rest[0])
            elif kind == "draft":
                drafts.add(rest[0])
            elif kind == "handed":
                handed.add(rest[0])
        time.sleep(rand.random() * 0.05)  # somewhere inside the next write
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()

        store = _store(directory, key)
        try:
            # Records: every batch reported is there, whole; nothing half-applied.
            cursor = store.cursor()
            assert cursor >= through and cursor % store_writer.BATCH == 0
            seqs = sorted(item["seq"] for item in store.items("message"))
            assert seqs == list(range(1, cursor + 1)), f"kill {kill}: records {seqs[-3:]}"
            assert store.record_count() == cursor
            # Blobs: every one reported complete is here and is its bytes; a
            # partial holds at least what was reported durable, and is a prefix.
            held = {sha.hex() for sha in store.complete_blobs()}
            assert complete <= held
            for n in range(40):
                data = store_writer.blob(seed, n)
                sha = hashlib.sha256(data).hexdigest()
                if sha in held:
                    assert store.read_blob(bytes.fromhex(sha)) == data
            partial = {sha.hex(): size for sha, size in store.partials()}
            for sha, size in partial.items():
                assert sha not in held and size >= durable.get(sha, 0)
            # Drafts: every one written is here; every one handed stays handed.
            here = {d.uid: d for d in store.drafts()}
            assert drafts <= set(here)
            assert all(here[u].handed_at is not None for u in handed)
            assert {i.uid for i in store.outbox_items(1000)}.isdisjoint(handed)
        finally:
            store.close()
    assert through > 0 and complete, "the writer made progress between kills"


# -- owners and drafts ---------------------------------------------------------------------


def test_a_new_owner_never_sees_the_old_owners_content(tmp_path: Path) -> None:
    store = _store(tmp_path / "content", os.urandom(32))
    assert store.set_owner(OWNER) is False  # a fresh tablet: nothing to wipe
    store.apply_records([_message(1, "m-1", "for the first owner", "Rosa")], 1)
    photo = _put(store, png(32, 32))
    sink = store.begin_blob(hashlib.sha256(b"x" * 70_000).digest(), 70_000, 0)
    sink.write(0, b"x" * 30_000)
    sink.close()
    draft = store.write_draft(resident=OWNER, contact=11, body="written by the first owner")
    assert store.set_owner(OWNER) is False  # the same owner docks again: nothing changes
    assert store.cursor() == 1

    assert store.set_owner("990001") is True
    assert store.owner() == "990001"
    assert store.cursor() == 0 and store.items() == [] and store.record_count() == 0
    assert store.complete_blobs() == [] and store.partials() == []
    assert not store.has_blob(bytes.fromhex(photo))
    assert [p for p in (tmp_path / "content" / "blobs").rglob("*") if p.is_file()] == []
    # The first owner's draft still goes up at the dock, for the server to judge,
    # but the new owner never sees it.
    assert [i.uid for i in store.outbox_items(10)] == [draft]
    assert Library(store).conversations() == []
    store.close()


def test_a_wipe_cut_short_by_a_kill_is_finished_when_the_store_opens(tmp_path: Path) -> None:
    key = os.urandom(32)
    store = _store(tmp_path / "content", key)
    store.set_owner(OWNER)
    _put(store, png(16, 16))
    with store.local.transaction() as conn:  # as if killed between the wipe and the files
        conn.execute("DELETE FROM blobs")
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('wiping', 1)")
    store.close()
    store = _store(tmp_path / "content", key)
    assert [p for p in (tmp_path / "content" / "blobs").rglob("*") if p.is_file()] == []
    store.close()


def test_a_damaged_partial_blob_is_let_go_and_starts_afresh(tmp_path: Path) -> None:
    from sync.session import BlobMismatchError

    store = _store(tmp_path / "content", os.urandom(32))
    data = os.urandom(300_000)
    sha = hashlib.sha256(data).digest()
    sink = store.begin_blob(sha, len(data), 0)
    sink.write(0, data[:200_000])
    sink.close()
    (path,) = list((tmp_path / "content" / "blobs" / "partial").iterdir())
    raw = bytearray(path.read_bytes())
    raw[-500] ^= 0xFF  # bit rot in a durable segment
    path.write_bytes(bytes(raw))
    (listed,) = store.partials()
    with pytest.raises(BlobMismatchError):
        store.begin_blob(sha, len(data), listed[1])
    assert store.partials() == []  # the next dock starts it again
    sink = store.begin_blob(sha, len(data), 0)
    sink.write(0, data)
    sink.finish()
    assert store.read_blob(sha) == data
    store.close()


def test_a_handed_draft_shows_as_sent_until_it_comes_back_down(tmp_path: Path) -> None:
    store = _store(tmp_path / "content", os.urandom(32))
    library = Library(store, resident=OWNER)
    store.apply_records([_message(1, "m-1", "How are you?", "Rosa Webb")], 1)
    uid = library.write(11, "Doing fine, thank you")
    (mine,) = [m for m in library.conversation(11).messages if not m.incoming]  # type: ignore[union-attr]
    assert mine.waiting and not mine.handed

    store.outbox_handed([uid])  # a kiosk took it
    assert store.outbox_count() == 0 and store.outbox_items(10) == []
    (mine,) = [m for m in library.conversation(11).messages if not m.incoming]  # type: ignore[union-attr]
    assert not mine.waiting and mine.handed and mine.body == "Doing fine, thank you"

    store.apply_records([Record(2, "message", uid, {  # it comes back down, sent
        "uid": uid, "direction": "from_resident", "contact_id": 11, "contact_name": "Rosa Webb",
        "body": "Doing fine, thank you", "sent_at": 1_790_000_100, "attachments": []})], 2)
    assert list(store.drafts()) == []
    messages = library.conversation(11).messages  # type: ignore[union-attr]
    assert [(m.body, m.handed, m.waiting) for m in messages] == [
        ("How are you?", False, False), ("Doing fine, thank you", False, False)]
    store.close()


def test_what_another_process_stores_is_seen_at_once(tmp_path: Path) -> None:
    key = os.urandom(32)
    screen, link = _store(tmp_path / "content", key), _store(tmp_path / "content", key)
    assert screen.complete_blobs() == []  # read once, and kept
    sha = _put(link, b"a photo that arrived at the dock")
    assert screen.complete_blobs() == [bytes.fromhex(sha)]
    link.set_owner(OWNER)
    link.set_owner("990001")  # a wipe, by the other connection
    assert screen.complete_blobs() == []
    screen.close()
    link.close()
