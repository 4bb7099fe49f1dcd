"""Store and forward end to end in one process: a real central server over TLS,
the kiosk's cache and its rounds with the server, and a tablet docked over the
simulated cable. A family's photo message and a purchased song reach the
tablet; the tablet's signed receipts verify the purchase and record the feed
it committed; its draft reaches the family, once; a server outage only
queues."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from central.server import CentralServer, kiosk_trust
from central.services import media, messaging, money
from device_security.ca_store import pem
from device_security.pki import Role
from device_security.registry import Registry, TabletStatus
from device_security.secure_element import KeyFileSecureElement
from kiosk.cache import KioskCache, cache_sealer
from kiosk.central_client import CentralClient
from kiosk.rounds import CentralSync
from tests.central.api_server import ApiServer
from tests.central.test_deliveries import SONG
from tests.device_security.conftest import Facility as DeviceFacility
from tests.kiosk.test_central_client import _photo_message
from tests.sync.rig import SyncRig, as_if_unanswered

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2000
SERIAL = "JP5S-000001"


def _world(api: ApiServer, tmp_path: Path) -> tuple[SyncRig, int, int, str]:
    """A resident with a tablet, a family member's photo message, a bought song."""
    f = api.facility
    rid, _, cid = _photo_message(api)
    admin = api.staff("administrator")
    song = admin.post("/v1/staff/blobs", data=SONG,
                      headers={"Content-Type": "audio/mpeg"}).json()["sha256"]
    admin.post("/v1/staff/catalog", json={
        "id": "song-1", "kind": "song", "title": "River Road", "artist": "The Lanterns",
        "label": "Demo", "price_cents": 129, "sha256": song, "duration_s": 200})
    f.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, rid, amount_cents=1000, key="tr-0000001")
    money.buy_stamps_for_resident(f.central, rid, offer_id="bundle-20", key="stamps-000001")
    media.purchase(f.central, rid, "song-1", key="buy-song-01")
    # The tablet: a key and certificate from the facility CA, registered and assigned.
    device = DeviceFacility(tmp_path / "devices")
    device.key, device.ca = api.ca.key, api.ca.certificate
    tablet = device.issue(Role.TABLET, SERIAL, serial=SERIAL)
    tech = api.staff("technician")
    assert tech.post("/v1/staff/tablets", json={
        "serial": SERIAL, "certificate": pem(tablet.certificate).decode()}).status_code == 201
    assert tech.post(f"/v1/staff/tablets/{SERIAL}/assignment",
                     json={"resident_id": rid}).status_code == 204
    # The cache of kiosk K-A2, which talks to the server: sealed under its key.
    cache = KioskCache(tmp_path / "rig" / "kiosk",
                       cache_sealer(KeyFileSecureElement(api.kiosks["K-A2"].key)))
    rig = SyncRig(tmp_path / "rig", device, serial=SERIAL, tablet=tablet, resident_id=rid,
                  agency_id="100001", cache=cache)
    return rig, rid, cid, song


def test_down_to_the_tablet_and_back_up(api: ApiServer, client: CentralClient,
                                        tmp_path: Path) -> None:
    rig, rid, cid, song = _world(api, tmp_path)
    pump = CentralSync(client, rig.cache)
    first = pump.run_once()
    assert first.reached_central, first.error
    assert first.records == 2 and first.blobs == 2  # a message with a photo; a song
    assert rig.dock().complete
    kinds = {i["kind"] for i in rig.store.items()}
    assert {"message", "entitlement"} <= kinds
    assert song in {s.hex() for s in rig.store.complete_blobs()}
    # Receipts go up: the purchase is verified by the tablet's signature.
    assert pump.run_once().sent_receipts == 3  # two blobs and the records
    [ent] = media.entitlements_of(api.facility.central, rid)
    assert ent.state == "verified"
    # The resident answers on the tablet; the next dock and round send it, once.
    rig.store.write_draft(resident="100001", contact=cid, body="Thank you for the photo")
    assert rig.dock().complete
    stamps = money.balances(api.facility.central, f"resident:{rid}").stamps
    assert pump.run_once().sent_drafts == 1
    assert pump.run_once().sent_drafts == 0
    charged = stamps - money.balances(api.facility.central, f"resident:{rid}").stamps
    assert charged > 0
    # The server's answer is lost: the kiosk sends the draft again. Sent once, charged once.
    (uid,) = [u for (u,) in rig.cache._rows("SELECT uid FROM outbox")]
    as_if_unanswered(rig.cache, "outbox", uid)
    assert pump.run_once().sent_drafts == 1
    assert stamps - money.balances(api.facility.central, f"resident:{rid}").stamps == charged
    _, records = messaging.feed_page(api.facility.central, f"contact:{cid}", 0)
    mine = [r for r in records if r.kind == "message"
            and r.body["body"] == "Thank you for the photo"]
    assert len(mine) == 1
    # The answer comes down to the tablet too, and shows once.
    pump.run_once()
    assert rig.dock().complete
    bodies = [m["body"]["body"] for m in rig.store.items("message")]
    assert bodies.count("Thank you for the photo") == 1


def test_while_the_server_is_away_docks_work_and_queues_grow(
        api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    rig, _, cid, _ = _world(api, tmp_path)
    pump = CentralSync(client, rig.cache)
    assert pump.run_once().reached_central
    port = int(api.url.rsplit(":", 1)[1])
    api.server.stop()  # the server goes away
    rig.store.write_draft(resident="100001", contact=cid, body="Are you there?")
    assert rig.dock().complete  # served from the kiosk's cache
    assert len(rig.store.items("message")) == 1
    away = pump.run_once()
    assert not away.reached_central and "unreachable" in away.error
    status = rig.cache.status()
    assert status["queues"]["outbox"]["queued"] == 1
    assert status["queues"]["receipts"]["queued"] == 3
    config = dataclasses.replace(api.server.config, port=port)  # back, where it was
    api.server = CentralServer(api.facility.central, config, trust=kiosk_trust(config))
    api.server.start()
    back = pump.run_once()
    assert back.reached_central, back.error
    assert (back.sent_drafts, back.sent_receipts) == (1, 3)
    assert rig.cache.status()["queues"]["outbox"] == {"queued": 0, "sent": 1, "refused": 0}


def test_a_purchase_never_delivered_is_refunded_and_can_be_bought_again(
        api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    rig, rid, _, song = _world(api, tmp_path)
    pump = CentralSync(client, rig.cache)
    assert pump.run_once().reached_central  # the kiosk holds the song; the tablet never docks
    api.facility.clock.advance(31 * 86400)
    refunded = media.refund_undelivered(api.facility.central)
    assert refunded
    assert pump.run_once().reached_central
    assert rig.dock().complete
    assert song not in {s.hex() for s in rig.store.complete_blobs()}
    [ent] = rig.store.items("entitlement")
    assert ent["body"]["state"] == "refunded"
    notices = [n["body"]["notice"] for n in rig.store.items("notice")]
    assert "purchase_refunded" in notices
    # The right to buy stays: bought again, it arrives and is verified.
    media.purchase(api.facility.central, rid, "song-1", key="buy-song-02")
    pump.run_once()
    assert rig.dock().complete
    assert song in {s.hex() for s in rig.store.complete_blobs()}
    pump.run_once()
    states = sorted(e.state for e in media.entitlements_of(api.facility.central, rid))
    assert states == ["refunded", "verified"]


def test_the_kiosks_copy_of_the_registry_follows_the_server(
        api: ApiServer, client: CentralClient, tmp_path: Path) -> None:
    rig, _, _, _ = _world(api, tmp_path)
    registry = Registry(tmp_path / "registry.db")
    pump = CentralSync(client, rig.cache, registry=registry)
    assert pump.run_once().reached_central
    entry = registry.get(SERIAL)
    assert entry is not None and (entry.status, entry.owner_id) == (TabletStatus.ACTIVE,
                                                                     "100001")
    assert api.staff("technician").post(f"/v1/staff/tablets/{SERIAL}/status",
                                        json={"status": "lost"}).status_code == 204
    assert pump.run_once().reached_central
    entry = registry.get(SERIAL)
    assert entry is not None and entry.status == TabletStatus.LOST

