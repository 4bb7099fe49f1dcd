"""The kiosk's client against a real central server over TLS on loopback:
feeds, blobs resumed from a partial file and checked against their hash, the
answers it refuses, and the retry policy when the server is away."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.services import messaging, money
from central.services.messaging import Attachment
from kiosk.central_client import (
    BlobMismatch,
    CentralClient,
    CentralRefused,
    CentralUnavailable,
    KioskCredentials,
)
from sync.receipts import statement_bytes
from tests.central.api_server import ApiServer
from tests.central.test_deliveries import _tablet
from tests.sync.rig import open_cache

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 400  # 100 KiB


@pytest.fixture
def clients(api: ApiServer) -> Iterator[Callable[..., CentralClient]]:
    """Kiosk clients of the server, closed at the end of the test."""
    made: list[CentralClient] = []

    def make(kiosk: str = "K-A2", **kw: object) -> CentralClient:
        ident = api.kiosks[kiosk]
        client = CentralClient(api.url, KioskCredentials(ident.certificate, ident.key,
                                                         api.ca_file), **kw)  # type: ignore[arg-type]
        made.append(client)
        return client
    yield make
    for client in made:
        client.close()


def _photo_message(api: ApiServer) -> tuple[int, str, int]:
    """Resident 100001 with a photo message from an approved contact: (resident
    id, the photo's hash, the contact's id)."""
    f = api.facility
    rid = f.admit("100001", "Ann Example").id
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    stored = f.central.blobs.put([PHOTO], max_size=1 << 20)
    messaging.record_upload(f.central, stored.sha256, stored.size, "image/jpeg",
                            uploader=f"contact:{cid}", purpose="message")
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="the garden", attached=[Attachment("photo", stored.sha256)])
    return rid, stored.sha256, cid


def test_feeds_and_a_blob_resumed_from_a_partial_file(
        api: ApiServer, clients: Callable[..., CentralClient], tmp_path: Path) -> None:
    rid, sha, _ = _photo_message(api)
    client = clients()
    assert client.heads() == {rid: 1}
    head, records = client.feed(rid, since=0)
    assert head == 1 and records[0]["body"]["attachments"][0]["sha256"] == sha
    assert client.feed(rid, since=head) == (1, [])
    cache = open_cache(tmp_path / "cache")
    cut = cache.blob_download(sha, len(PHOTO))  # an earlier download, cut after 40 000 bytes
    cut.write(PHOTO[:40_000])
    cut.flush()
    cut.close()
    resumed = cache.blob_download(sha, len(PHOTO))
    assert resumed.position == 40_000
    client.fetch_blob(sha, len(PHOTO), resumed)
    assert cache.blobs.read(sha) == PHOTO
    assert list(cache.blobs.partial_dir.iterdir()) == []
    assert PHOTO[:1000] not in (cache.blob_dir / sha).read_bytes()  # sealed at rest


def test_a_corrupt_partial_file_is_caught_and_dropped(
        api: ApiServer, clients: Callable[..., CentralClient], tmp_path: Path) -> None:
    _, sha, _ = _photo_message(api)
    cache = open_cache(tmp_path / "cache")
    wrong = cache.blob_download(sha, len(PHOTO))
    wrong.write(b"\x00" * 40_000)  # not the blob's bytes
    with pytest.raises(BlobMismatch):
        clients().fetch_blob(sha, len(PHOTO), wrong)
    assert not cache.blobs.exists(sha) and list(cache.blobs.partial_dir.iterdir()) == []
    # The next try starts clean and succeeds.
    clients().fetch_blob(sha, len(PHOTO), cache.blob_download(sha, len(PHOTO)))
    assert hashlib.sha256(cache.blobs.read(sha)).hexdigest() == sha


def test_refusals_are_final_and_carry_the_servers_reason(
        api: ApiServer, clients: Callable[..., CentralClient], tmp_path: Path) -> None:
    rid, sha, _ = _photo_message(api)
    other_unit = clients("K-B2")
    with pytest.raises(CentralRefused) as refused:
        other_unit.feed(rid, since=0)
    assert refused.value.status == 404 and "unit" in refused.value.message
    cache = open_cache(tmp_path / "cache")
    with pytest.raises(CentralRefused) as refused:
        other_unit.fetch_blob(sha, len(PHOTO), cache.blob_download(sha, len(PHOTO)))
    assert refused.value.status == 404 and not cache.blobs.exists(sha)


def test_a_records_receipt_is_forwarded_and_a_forged_one_refused(
        api: ApiServer, clients: Callable[..., CentralClient]) -> None:
    rid, _, _ = _photo_message(api)
    key = _tablet(api, "JP5S-000001", rid)
    session, digest = bytes(range(16)), hashlib.sha256(b"the batch").digest()
    fields = {"serial": "JP5S-000001", "session": session, "through": 1,
              "batch_digest": digest}
    client = clients()
    answer = client.records_receipt("JP5S-000001", session, 1, digest,
                                    key.sign(statement_bytes("records", fields)))
    assert answer == {"serial": "JP5S-000001", "through": 1,
                      "last_dock_at": api.facility.clock()}
    forged = Ed25519PrivateKey.generate().sign(statement_bytes("records", fields))
    with pytest.raises(CentralRefused) as refused:
        client.records_receipt("JP5S-000001", session, 1, digest, forged)
    assert refused.value.status == 403 and refused.value.code == "bad_receipt"


def test_an_absent_server_is_retried_then_reported(
        api: ApiServer, clients: Callable[..., CentralClient]) -> None:
    pauses: list[float] = []
    client = clients(attempts=3, backoff=0.5, sleep=pauses.append)
    api.server.stop()
    with pytest.raises(CentralUnavailable):
        client.heads()
    assert len(pauses) == 2 and 0.5 <= pauses[0] <= 0.625 and 1.0 <= pauses[1] <= 1.25
