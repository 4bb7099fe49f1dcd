"""The kiosk-tablet session over the simulated cable: what arrives, what is
never sent twice, what an unplug at any byte costs, and what a tablet or a
kiosk that lies gets."""

from __future__ import annotations

import hashlib
import itertools
import random
from pathlib import Path

import pytest

from device_security.pki import Role
from simulators.link import Fault
from sync import session as sync_session
from sync.session import CHUNK, SessionError, SessionSummary, blobs_digest
from tests.device_security.conftest import Facility
from tests.sync.rig import AGENCY_ID, SyncRig, open_cache


@pytest.fixture
def rig(tmp_path: Path) -> SyncRig:
    return SyncRig(tmp_path, Facility(tmp_path / "facility"))


def _fill(rig: SyncRig, messages: int = 40) -> dict[str, int]:
    """Messages (every fifth with a photo) and two songs; the blobs by hash."""
    for i in range(messages):
        rig.message(f"message {i}", photo_size=150_000 + i if i % 5 == 0 else None)
    rig.song("First song", 2 * CHUNK + 12345)
    rig.song("Second song", 3 * CHUNK)
    return {sha: size for sha, size, _label, _ in rig.cache._rows(
        "SELECT sha256, size, label, seq FROM wanted")}


def _check_tablet_has_everything(rig: SyncRig, blobs: dict[str, int], messages: int) -> None:
    store = rig.store
    shown = store.items("message")
    assert [m["ref"] for m in shown] == [f"m-{i:06d}" for i in
                                         sorted({int(m["ref"][2:]) for m in shown})]
    assert len(shown) == messages  # each message once
    assert store.record_count() == rig.cache._rows("SELECT count(*) FROM records")[0][0]
    held = {s.hex() for s in store.complete_blobs()}
    assert held == set(blobs)
    for sha in held:  # every stored blob's bytes match its name
        assert hashlib.sha256(store.read_blob(bytes.fromhex(sha))).hexdigest() == sha
    assert store.partials() == []


def test_a_first_dock_brings_everything_and_takes_the_drafts_up(rig: SyncRig) -> None:
    blobs = _fill(rig)
    uid = rig.store.write_draft(resident=AGENCY_ID, contact=3, body="See you Sunday")
    result = rig.dock()
    assert result.complete, (result.kiosk, result.tablet)
    assert isinstance(result.kiosk, SessionSummary)
    assert result.kiosk.records == 42 and result.kiosk.blobs == len(blobs) == 10
    assert result.kiosk.outbox == 1
    _check_tablet_has_everything(rig, blobs, 40)
    assert rig.store.outbox_count() == 0
    (item,) = rig.cache.pending_outbox()
    assert item.key == uid and item.payload["body"]["body"] == "See you Sunday"
    kinds = sorted(p.kind for p in rig.cache.pending_receipts())
    assert kinds == ["blob"] * 10 + ["records"]
    phases = [p.phase for p in result.progress]
    assert phases[0] == "outbox" and "messages" in phases and phases[-1] == "done"
    files = [p for p in result.progress if p.phase == "files"]
    assert files[-1].bytes_done == files[-1].bytes_total == sum(blobs.values())
    assert all(a.bytes_done <= b.bytes_done for a, b in itertools.pairwise(files))


def test_nothing_new_moves_nothing_and_needs_no_inventory(rig: SyncRig) -> None:
    _fill(rig, messages=10)
    assert rig.dock().complete
    sent: list[str] = []
    original = sync_session._KioskSide.send

    def spy(side: sync_session._KioskSide, frame: sync_session.Frame) -> None:
        sent.append(type(frame).__name__)
        original(side, frame)

    sync_session._KioskSide.send = spy  # type: ignore[method-assign,assignment]
    try:
        result = rig.dock()
    finally:
        sync_session._KioskSide.send = original  # type: ignore[method-assign]
    assert result.complete
    assert sent == ["Hello", "Done"]
    assert result.link_bytes["down"] < 4096


def test_new_content_after_a_dock_sends_only_what_is_new(rig: SyncRig) -> None:
    _fill(rig, messages=10)
    assert rig.dock().complete
    rig.message("one more", photo_size=5000)
    result = rig.dock()
    assert isinstance(result.kiosk, SessionSummary)
    assert (result.kiosk.records, result.kiosk.blobs, result.kiosk.blob_bytes) == (1, 1, 5000)


def test_unplugs_at_random_bytes_lose_nothing_repeat_nothing_and_resend_less_than_a_chunk(
        rig: SyncRig) -> None:
    blobs = _fill(rig, messages=30)
    rig.store.write_draft(resident=AGENCY_ID, contact=3, body="first")
    rig.store.write_draft(resident=AGENCY_ID, contact=4, body="second")
    total = sum(blobs.values())
    rand = random.Random(11)
    drops = 0
    while True:
        before = sum(size for _, size in rig.store.partials()) + sum(
            blobs[s.hex()] for s in rig.store.complete_blobs())
        remaining = total - before
        fault = Fault(drop_at=rand.randrange(0, min(3 * CHUNK, remaining))) \
            if drops < 12 and remaining > 4096 else None
        result = rig.dock(fault)
        if result.complete:
            break
        drops += 1
        assert not isinstance(result.kiosk, SessionError), result.kiosk
        assert not isinstance(result.tablet, SessionError), result.tablet
        after = sum(size for _, size in rig.store.partials()) + sum(
            blobs[s.hex()] for s in rig.store.complete_blobs())
        # What crossed the link beyond what the tablet made durable is under one chunk
        # (plus the session's own frames).
        assert result.link_bytes["down"] - (after - before) < CHUNK + 64 * 1024
    assert drops >= 8
    _check_tablet_has_everything(rig, blobs, 30)
    assert total == sum(blobs.values())
    assert sorted(i.payload["body"]["body"] for i in rig.cache.pending_outbox()) == [
        "first", "second"]


def test_a_replacement_tablet_restores_everything_at_its_first_dock(tmp_path: Path) -> None:
    facility = Facility(tmp_path / "facility")
    old = SyncRig(tmp_path / "old", facility)
    blobs = _fill(old, messages=20)
    assert old.dock().complete
    new = SyncRig(tmp_path / "new", facility, serial="JP5S-000202", cache=old.cache)
    result = new.dock()
    assert result.complete
    _check_tablet_has_everything(new, blobs, 20)


def test_a_refunded_purchase_is_not_sent(rig: SyncRig) -> None:
    sha = rig.blob(20_000)
    rig.entitlement(9, "Refunded song", sha, 20_000, "paid")
    rig.entitlement(9, "Refunded song", sha, 20_000, "refunded")
    result = rig.dock()
    assert isinstance(result.kiosk, SessionSummary) and result.kiosk.blobs == 0
    assert rig.store.complete_blobs() == []
    assert [e["body"]["state"] for e in rig.store.items("entitlement")] == ["refunded"]


def test_a_kiosk_that_forgot_the_tablet_asks_for_its_inventory(rig: SyncRig,
                                                                tmp_path: Path) -> None:
    blobs = _fill(rig, messages=5)
    assert rig.dock().complete
    rig.cache.replace_delivered(rig.serial, set())  # as after the kiosk lost its cache
    result = rig.dock()
    assert isinstance(result.kiosk, SessionSummary) and result.kiosk.blobs == 0
    assert rig.cache.delivered(rig.serial) == {bytes.fromhex(s) for s in blobs}
    assert blobs_digest(rig.cache.delivered(rig.serial)) == blobs_digest(
        rig.store.complete_blobs())


def test_a_receipt_the_tablet_did_not_sign_is_refused(tmp_path: Path) -> None:
    facility = Facility(tmp_path / "facility")
    impostor_key = facility.issue(Role.TABLET, "tablet", serial="JP5S-000101")
    rig = SyncRig(tmp_path, facility)
    # The tablet's store signs with a key other than the one its certificate names.
    rig.store._sign = impostor_key.key.sign
    rig.message("hello", photo_size=1000)
    result = rig.dock()
    assert isinstance(result.kiosk, SessionError) and result.kiosk.code == "bad_receipt"
    assert rig.cache.pending_receipts() == []
    assert rig.cache.delivered(rig.serial) == set()


def test_a_draft_the_tablet_did_not_sign_is_dropped_at_the_kiosk(rig: SyncRig) -> None:
    good = rig.store.write_draft(resident=AGENCY_ID, contact=3, body="real")
    forged = rig.store.write_draft(resident=AGENCY_ID, contact=3, body="real")
    with rig.store.local.transaction() as conn:  # the body changed after signing
        conn.execute("UPDATE outbox SET sealed = ? WHERE uid = ?", [rig.store._seal_draft(
            forged, {"resident": AGENCY_ID, "contact": 3, "body": "forged", "attachments": []}),
            forged])
    other = rig.store.write_draft(resident="999999", contact=3, body="someone else's")
    assert rig.dock().complete
    assert [i.key for i in rig.cache.pending_outbox()] == [good]
    assert other != good


def test_a_blob_damaged_in_the_kiosks_cache_is_never_sent_and_is_fetched_again(
        rig: SyncRig) -> None:
    sha = rig.song("Damaged on the kiosk", 3 * 65536 + 50_000)
    path = rig.cache.blob_dir / sha
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # in its last segment: the first ones go before it is found
    path.write_bytes(bytes(data))
    result = rig.dock()
    assert isinstance(result.kiosk, SessionError) and result.kiosk.code == "blob_mismatch"
    assert not result.kiosk.by_peer and "damaged" in result.kiosk.message
    assert isinstance(result.tablet, SessionError) and result.tablet.by_peer
    assert rig.store.complete_blobs() == []
    assert not rig.store.has_blob(bytes.fromhex(sha))
    assert [s for s, _ in rig.cache.missing_blobs()] == [sha]  # the next round fetches it
    assert not path.exists()


def test_a_tablet_without_room_gets_what_fits(rig: SyncRig) -> None:
    rig.song("Big", 5 * CHUNK)
    small = rig.song("Small", 1000)
    rig.store.free_bytes = lambda: 100_000  # type: ignore[method-assign]
    result = rig.dock()
    assert isinstance(result.kiosk, SessionSummary)
    assert result.kiosk.skipped_no_room == 1
    assert [s.hex() for s in rig.store.complete_blobs()] == [small]


def test_the_cache_keeps_a_record_the_wire_cannot_carry_as_text(tmp_path: Path) -> None:
    cache = open_cache(tmp_path)
    cache.apply_feed(1, 2, [{"seq": 1, "kind": "message", "ref": "x" * 65, "body": {}},
                            {"seq": 2, "kind": "notice", "ref": "n", "body": {"v": -1}}])
    kinds = [r.kind for r in cache.records_after(1, 0, 10)]
    assert kinds == ["unreadable", "unreadable"]
