"""The demo catalog, on both databases: its public-domain works carry their
license and why in their label, are free, and a resident takes one at no
charge (tests/central/test_price_changes.py tries to price one above zero)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from central import migrate
from central.blobs import BlobStore
from central.database import Database
from central.passwords import Passwords
from central.payments import SandboxCardPayments
from central.pricing import PUBLIC_DOMAIN
from central.schema import catalog
from central.seed import PUBLIC_DOMAIN as SEEDED_PUBLIC_DOMAIN
from central.seed import seed_demo
from central.services import legal_mail, media, money
from central.services.core import Central, Settings
from central.trust_account import InMemoryTrustAccounts
from tests.central.facility import Clock, WordTranslator, unthrottled


@pytest.fixture
def central(database_url: str, tmp_path: Path) -> Iterator[Central]:
    db = Database(database_url)
    migrate.upgrade(db)
    made = Central(db=db, blobs=BlobStore(tmp_path / "blobs"), trust=InMemoryTrustAccounts(),
                   payments=SandboxCardPayments(), passwords=Passwords("low"),
                   translator=WordTranslator(), settings=Settings(), clock=Clock(),
                   logins=unthrottled(), legal_seal=legal_mail.load_key(tmp_path))
    yield made
    db.dispose()


def test_the_demo_catalog_has_free_public_domain_works(central: Central) -> None:
    seeded = seed_demo(central)
    with central.db.read() as conn:
        rows = conn.execute(select(catalog).where(catalog.c.license == PUBLIC_DOMAIN)).all()
    assert len(rows) == len(SEEDED_PUBLIC_DOMAIN) >= 3
    assert all(r.price_cents == 0 and r.blob_sha256 and "Public domain" in r.label
               for r in rows)
    # A resident takes one, and nothing is charged.
    resident_id = next(iter(seeded.residents.values()))
    before = money.balances(central, f"resident:{resident_id}")
    taken = media.purchase(central, resident_id, "pd-ode-to-joy", key="pd-take-1")
    assert [e.price_cents for e in taken] == [0]
    assert money.balances(central, f"resident:{resident_id}") == before
