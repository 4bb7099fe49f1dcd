"""The tablet signs for a file it holds as the file of its owner's purchases,
naming the owner and the entitlements: what the central server verifies a
purchase by, and what a receipt kept from before a reassignment cannot fake."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.at_rest import Sealer
from sync.errors import StatementError
from sync.frames import Record
from sync.receipts import delivery_fields, verify
from tablet.store import TabletStore

SERIAL = "JP5S-000901"


def _put(store: TabletStore, data: bytes) -> bytes:
    sha = hashlib.sha256(data).digest()
    sink = store.begin_blob(sha, len(data), 0)
    sink.write(0, data)
    sink.finish()
    return sha


def _entitlement(seq: int, ent_id: int, sha: bytes, state: str = "paid") -> Record:
    return Record(seq, "entitlement", str(ent_id), {
        "entitlement_id": ent_id, "item_id": f"song-{ent_id}", "title": "River Road",
        "kind": "song", "sha256": sha.hex(), "state": state, "price_cents": 129})


def test_the_tablet_names_its_owner_and_their_entitlements(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    store = TabletStore(tmp_path / "content", serial=SERIAL, sign=key.sign,
                        sealer=Sealer(os.urandom(32)))
    song, photo = _put(store, b"ID3 a song" * 100), _put(store, b"\x89PNG a photo" * 10)
    assert store.delivery_receipt(song) is None  # no owner yet: nobody to sign for
    store.set_owner("874512")
    song = _put(store, b"ID3 a song" * 100)  # the new owner's content starts empty
    photo = _put(store, b"\x89PNG a photo" * 10)
    store.apply_records([_entitlement(1, 41, song), _entitlement(2, 7, song),
                         _entitlement(3, 9, song, state="refunded")], through=3)
    signed = store.delivery_receipt(song)
    assert signed is not None
    fields, signature = signed
    assert fields == delivery_fields(serial=SERIAL, owner="874512", sha=song,
                                     entitlements=[7, 41])
    verify(key.public_key(), "delivery", fields, signature)
    assert store.delivery_receipt(photo) is None  # a message's photo: no purchase
    assert store.delivery_receipt(hashlib.sha256(b"not here").digest()) is None
    # The same receipt cannot stand for another owner or another purchase.
    for changed in ({**fields, "owner": "903377"}, {**fields, "entitlements": [7, 41, 42]}):
        with pytest.raises(StatementError):
            verify(key.public_key(), "delivery", changed, signature)
    # Given to someone else, it holds nothing of the first owner's to sign for.
    store.set_owner("903377")
    assert store.delivery_receipt(song) is None
