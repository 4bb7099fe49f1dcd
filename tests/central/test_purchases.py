"""Media purchases charge for what is not owned, refunds give back only what
was not delivered, and a refund racing a delivery receipt leaves each file
either refunded or delivered, never both, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from central import ledger
from central.errors import CentralError, Conflict, PolicyRefused
from central.pricing import media_quote, shares
from central.schema import entitlements, ledger_accounts, ledger_entries, ledger_transactions
from central.services import accounts, deliveries, feeds, media, messaging, money
from central.services.media import Item
from device_security.ca_store import CertificateAuthority, pem
from device_security.pki import Role
from sync.receipts import delivery_fields, statement_bytes
from tests.central.api_server import ApiServer
from tests.central.facility import SYSTEM, Facility

SERIAL = "JP5S-000001"
RACE_ROUNDS = 3


# -- helpers ---------------------------------------------------------------------


def _file(f: Facility, name: str) -> str:
    stored = f.central.blobs.put([b"ID3 " + name.encode() * 300], max_size=1 << 20)
    messaging.record_upload(f.central, stored.sha256, stored.size, "audio/mpeg",
                            uploader="staff:1", purpose="media")
    return stored.sha256


def _song(f: Facility, item_id: str, price: int = 129, album: str | None = None) -> str:
    sha = _file(f, item_id)
    media.add_item(f.central, Item(item_id, "song", f"Title {item_id}", "The Lanterns", album,
                                   "Demo", price, sha, 200, False), scope=SYSTEM)
    return sha


def _album(f: Facility, album_id: str = "album-1", tracks: int = 3,
           price: int = 1000) -> dict[str, str]:
    """An album and its tracks; the tracks' hashes by track id."""
    media.add_item(f.central, Item(album_id, "album", "Night Songs", "The Lanterns", None,
                                   "Demo", price, None, 0, False), scope=SYSTEM)
    return {f"{album_id}-t{i}": _song(f, f"{album_id}-t{i}", album=album_id)
            for i in range(tracks)}


def _funded(f: Facility, agency_id: str = "100001", cents: int = 5000) -> int:
    rid = f.admit(agency_id, f"Resident {agency_id}").id
    f.central.trust.set_balance(agency_id, 100_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, rid, amount_cents=cents, key=f"fund-{agency_id}")
    return rid


def _prepaid(f: Facility, rid: int) -> int:
    return money.balances(f.central, f"resident:{rid}").prepaid_cents or 0


def _tablet(f: Facility, tmp_path: Path, rid: int, serial: str = SERIAL) -> Ed25519PrivateKey:
    """A tablet with a certificate from a facility CA, registered and given to ``rid``."""
    now = datetime.datetime.fromtimestamp(f.clock(), datetime.UTC)
    ca_dir = tmp_path / "ca"
    ca = (CertificateAuthority.open(ca_dir) if (ca_dir / "ca-key.pem").exists()
          else CertificateAuthority.create(ca_dir, "Cedar Creek",
                                           now=now - datetime.timedelta(hours=2)))
    key = Ed25519PrivateKey.generate()
    cert = ca.issue(key.public_key(), role=Role.TABLET, name=serial, serial=serial,
                    now=now - datetime.timedelta(hours=1))
    accounts.register_tablet(f.central, serial, pem(cert).decode(), scope=SYSTEM,
                             facility_id="F1")
    accounts.assign_tablet(f.central, serial, rid, scope=SYSTEM)
    return key


def _deliver(f: Facility, key: Ed25519PrivateKey, owner: str, sha: str,
             ids: list[int], serial: str = SERIAL) -> list[int]:
    """What a tablet's signed delivery receipt for ``ids`` verifies, forwarded by
    the kiosk of unit U-A."""
    fields = delivery_fields(serial=serial, owner=owner, sha=bytes.fromhex(sha),
                             entitlements=ids)
    return deliveries.delivery_receipt(
        f.central, unit_id="U-A", serial=serial, owner=owner, sha256=sha,
        entitlement_ids=fields["entitlements"],
        signature=key.sign(statement_bytes("delivery", fields)))


def _ledger_whole(f: Facility) -> None:
    """Every unit sums to zero and every balance is the sum of its entries."""
    with f.central.db.read() as conn:
        by_unit = dict(conn.execute(select(ledger_accounts.c.unit,
                                           func.sum(ledger_accounts.c.balance))
                                    .group_by(ledger_accounts.c.unit)).all())
        sums = dict(conn.execute(select(ledger_entries.c.account_id,
                                        func.sum(ledger_entries.c.amount))
                                 .group_by(ledger_entries.c.account_id)).all())
        balances = dict(conn.execute(select(ledger_accounts.c.id,
                                            ledger_accounts.c.balance)).all())
    assert all(int(v) == 0 for v in by_unit.values()), by_unit
    assert {a: b for a, b in balances.items() if b != int(sums.get(a, 0))} == {}


# -- the pure rules ------------------------------------------------------------------


def test_shares_add_up_to_the_price_and_owned_tracks_are_not_charged() -> None:
    assert shares(1000, 3) == [334, 333, 333]
    assert sum(shares(999, 7)) == 999
    quote = media_quote("album-1", 1000, ["t0", "t1", "t2"], {"t1"})
    assert quote.price_cents == 334 + 333
    assert [t.item_id for t in quote.to_buy] == ["t0", "t2"]
    assert media_quote("album-1", 1000, ["t0", "t1"], {"t0", "t1"}).price_cents == 0
    assert media_quote("album-1", 1000, [], set()).tracks == ()


# -- 1. charge only for what is not owned ------------------------------------------------


def test_an_album_with_an_owned_track_charges_only_the_rest(facility: Facility) -> None:
    f = facility
    rid = _funded(f)
    tracks = _album(f)
    media.purchase(f.central, rid, "album-1-t1", key="buy-song-0001")  # 129 cents, alone
    before = _prepaid(f, rid)
    quote = media.quote(f.central, rid, "album-1")
    assert quote.list_price_cents == 1000 and quote.price_cents == 334 + 333
    assert [t.owned for t in quote.tracks] == [False, True, False]
    # The price shown first is the price charged, and the owned track is not bought twice.
    bought = media.purchase(f.central, rid, "album-1", key="buy-album-001",
                            expected_price_cents=quote.price_cents)
    assert sorted(e.item_id for e in bought) == ["album-1-t0", "album-1-t2"]
    assert sum(e.price_cents for e in bought) == quote.price_cents
    assert before - _prepaid(f, rid) == quote.price_cents
    owned = [e.item_id for e in media.entitlements_of(f.central, rid)]
    assert sorted(owned) == sorted(tracks)  # each track once
    # A replay charges nothing and returns the same files.
    again = media.purchase(f.central, rid, "album-1", key="buy-album-001")
    assert [e.id for e in again] == [e.id for e in bought]
    assert before - _prepaid(f, rid) == quote.price_cents
    with pytest.raises(PolicyRefused) as refused:
        media.purchase(f.central, rid, "album-1", key="buy-album-002")
    assert refused.value.code == "already_owned"
    _ledger_whole(f)


def test_a_price_that_changed_since_it_was_shown_is_refused(facility: Facility) -> None:
    """The resident was shown the full album price; meanwhile a track was bought
    (another kiosk, a double tap): the purchase is refused with the new price,
    and nothing is charged."""
    f = facility
    rid = _funded(f)
    _album(f)
    shown = media.quote(f.central, rid, "album-1").price_cents
    assert shown == 1000
    media.purchase(f.central, rid, "album-1-t0", key="buy-song-0001")
    before = _prepaid(f, rid)
    with pytest.raises(Conflict) as refused:
        media.purchase(f.central, rid, "album-1", key="buy-album-001",
                       expected_price_cents=shown)
    assert refused.value.code == "price_changed" and "$6.66" in refused.value.message
    assert _prepaid(f, rid) == before
    assert len(media.entitlements_of(f.central, rid)) == 1


def test_a_purchase_key_cannot_be_replayed_for_another_item(facility: Facility) -> None:
    f = facility
    rid = _funded(f)
    _album(f)
    media.purchase(f.central, rid, "album-1-t0", key="buy-key-00001")
    with pytest.raises(Conflict) as refused:  # one song's key, for another song
        media.purchase(f.central, rid, "album-1-t1", key="buy-key-00001")
    assert refused.value.code == "idempotency_key_reused"


def test_the_catalog_and_the_quote_show_the_residents_price(api: ApiServer) -> None:
    f = api.facility
    new = api.staff("administrator").post("/v1/staff/residents", json={
        "agency_id": "100001", "agency": "WA", "name": "Ann Example", "facility_id": "F1",
        "unit_id": "U-A", "language": "en"}).json()
    _album(f)
    f.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    me = api.resident("K-A2", "100001", str(new["first_pin"]))
    me.post("/v1/resident/pin", json={"old_pin": new["first_pin"], "new_pin": "736192"})
    assert me.post("/v1/resident/transfers", json={
        "amount_cents": 2000, "idempotency_key": "tr-0000001"}).status_code == 200
    assert me.post("/v1/resident/purchases", json={
        "item_id": "album-1-t2", "idempotency_key": "buy-song-01"}).status_code == 201
    [album] = me.get("/v1/resident/catalog", params={"kind": "album"}).json()
    assert (album["price_cents"], album["list_price_cents"], album["tracks"],
            album["owned_tracks"]) == (667, 1000, 3, 1)
    songs = {i["id"]: (i["price_cents"], i["owned_tracks"])
             for i in me.get("/v1/resident/catalog", params={"kind": "song"}).json()}
    assert songs == {"album-1-t0": (129, 0), "album-1-t1": (129, 0), "album-1-t2": (0, 1)}
    quote = me.get("/v1/resident/catalog/album-1/quote").json()
    assert quote["price_cents"] == 667
    assert [(t["item_id"], t["owned"]) for t in quote["tracks"]] == [
        ("album-1-t0", False), ("album-1-t1", False), ("album-1-t2", True)]
    stale = me.post("/v1/resident/purchases", json={
        "item_id": "album-1", "idempotency_key": "buy-album-1", "expected_price_cents": 1000})
    assert stale.status_code == 409 and stale.json()["error"] == "price_changed"
    bought = me.post("/v1/resident/purchases", json={
        "item_id": "album-1", "idempotency_key": "buy-album-2", "expected_price_cents": 667})
    assert bought.status_code == 201 and len(bought.json()) == 2
    assert me.get("/v1/resident/catalog/nothing-here/quote").status_code == 404


# -- 1. a refund never takes back what was delivered -------------------------------------


def test_a_partly_delivered_album_refunds_only_the_undelivered_files(
        facility: Facility, tmp_path: Path) -> None:
    f = facility
    rid = _funded(f)
    tracks = _album(f)
    key = _tablet(f, tmp_path, rid)
    before = _prepaid(f, rid)
    bought = {e.item_id: e for e in media.purchase(f.central, rid, "album-1",
                                                   key="buy-album-001")}
    delivered = bought["album-1-t0"]
    assert _deliver(f, key, "100001", tracks["album-1-t0"], [delivered.id]) == [delivered.id]
    f.clock.advance(15 * 86400)
    refunded = media.refund_undelivered(f.central)
    assert sorted(refunded) == sorted(e.id for e in bought.values() if e is not delivered)
    states = {e.item_id: e.state for e in media.entitlements_of(f.central, rid)}
    assert states == {"album-1-t0": "verified", "album-1-t1": "refunded",
                      "album-1-t2": "refunded"}
    # Back: the two undelivered tracks' shares, not the delivered one's.
    assert _prepaid(f, rid) == before - delivered.price_cents == before - 334
    # A second sweep finds nothing more to refund.
    assert media.refund_undelivered(f.central) == []
    assert _prepaid(f, rid) == before - 334
    with f.central.db.read() as conn:
        records = feeds.since(conn, f"resident:{rid}", 0)
    [notice] = [r.body for r in records if r.kind == "notice"]
    assert notice["refunded_cents"] == 666 and "stay yours" in notice["text"]
    _ledger_whole(f)


def test_a_refund_never_gives_back_more_than_the_purchase_cost(facility: Facility) -> None:
    """Even if every file's state were turned back to undelivered, the refund
    sweep pays back each file once: the refund's own state change is the
    compare-and-set, and the ledger refuses to take media-sales below zero."""
    f = facility
    rid = _funded(f)
    _album(f)
    before = _prepaid(f, rid)
    media.purchase(f.central, rid, "album-1", key="buy-album-001")
    f.clock.advance(15 * 86400)
    threads = [threading.Thread(target=media.refund_undelivered, args=(f.central,))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _prepaid(f, rid) == before
    with f.central.db.read() as conn:
        kinds = conn.execute(select(ledger_transactions.c.kind)).scalars().all()
    assert kinds.count("media_refund") == 1
    _ledger_whole(f)


# -- 3. refunds racing receipts ------------------------------------------------------------


def _race(f: Facility, key: Ed25519PrivateKey, bought: list[media.Entitlement]
          ) -> tuple[list[int], list[int], list[BaseException]]:
    """Three refund sweeps and three threads of receipts (of both kinds) for
    ``bought``, started together: what the sweeps refunded, what the receipts
    verified, and what failed."""
    refunded: list[int] = []
    verified: list[int] = []
    failures: list[BaseException] = []
    gate = threading.Barrier(6)

    def sweep() -> None:
        gate.wait()
        try:
            refunded.extend(media.refund_undelivered(f.central))
        except BaseException as e:  # noqa: BLE001 - reported to the test
            failures.append(e)

    def receipts(which: list[media.Entitlement], old_form: bool) -> None:
        gate.wait()
        for e in which:
            assert e.sha256 is not None
            try:
                if old_form:
                    verified.extend(deliveries.blob_receipt(
                        f.central, unit_id="U-A", serial=SERIAL, sha256=e.sha256,
                        signature=key.sign(statement_bytes("blob", {
                            "serial": SERIAL, "sha": bytes.fromhex(e.sha256)}))))
                else:
                    verified.extend(_deliver(f, key, "100001", e.sha256, [e.id]))
            except CentralError as refused:
                failures.append(refused)

    threads = [threading.Thread(target=sweep) for _ in range(3)] + [
        threading.Thread(target=receipts, args=(bought[0::3], False)),
        threading.Thread(target=receipts, args=(list(reversed(bought[1::3])), True)),
        threading.Thread(target=receipts, args=(bought[2::3], False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return refunded, verified, failures


def test_refunds_racing_receipts_never_refund_a_delivered_file(
        facility: Facility, tmp_path: Path) -> None:
    """Refund sweeps and delivery receipts (both kinds) for the same purchases
    run at once on threads, on PostgreSQL as on SQLite. Each file ends either
    refunded or verified, never both: no id is reported by a refund and by a
    receipt, the money refunded is exactly the verified files' complement,
    and the ledger balances."""
    f = facility
    rid = _funded(f, cents=20_000)
    key = _tablet(f, tmp_path, rid)
    start = _prepaid(f, rid)
    for n in range(RACE_ROUNDS):
        files = {f"r{n}-s{i}": _song(f, f"r{n}-s{i}") for i in range(6)}
        files.update(_album(f, f"r{n}-album", tracks=4, price=999))
        bought = [e for item in [*(k for k in files if "album" not in k), f"r{n}-album"]
                  for e in media.purchase(f.central, rid, item, key=f"buy-{n}-{item}")]
        f.clock.advance(15 * 86400)  # every one of them is due for a refund now
        refunded, verified, failures = _race(f, key, bought)
        assert failures == []
        ids = {e.id for e in bought}
        assert set(refunded) & set(verified) == set(), "a file was refunded and delivered"
        assert len(refunded) == len(set(refunded)), "a file was refunded twice"
        assert set(refunded) | set(verified) == ids
        states = {e.id: e.state for e in media.entitlements_of(f.central, rid) if e.id in ids}
        assert {i for i, s in states.items() if s == "verified"} == set(verified)
        assert {i for i, s in states.items() if s == "refunded"} == set(refunded)
    kept = sum(e.price_cents for e in media.entitlements_of(f.central, rid)
               if e.state == "verified")
    assert _prepaid(f, rid) == start - kept
    with f.central.db.read() as conn:
        sales = conn.execute(select(ledger_accounts.c.balance).where(
            ledger_accounts.c.id == ledger.agency_account("WA", "media-sales").id)).scalar_one()
        verified_rows = conn.execute(select(func.count()).where(
            entitlements.c.state == "verified", entitlements.c.receipt.is_(None))).scalar_one()
    assert sales == kept
    assert verified_rows == 0  # every verified file carries the receipt it was verified by
    _ledger_whole(f)
