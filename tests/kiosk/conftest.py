"""The central server the kiosk's rounds talk to: a real one on loopback over
TLS (tests/central/api_server.py), and kiosk K-A2's client of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.central_client import CentralClient, KioskCredentials
from tests.central.api_server import ApiServer
from tests.central.facility import build


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    facility = build(f"sqlite:///{tmp_path}/central.db", tmp_path)
    with ApiServer(facility, tmp_path / "api") as server:
        yield server
    facility.central.db.dispose()


@pytest.fixture
def client(api: ApiServer) -> Iterator[CentralClient]:
    ident = api.kiosks["K-A2"]
    with CentralClient(api.url, KioskCredentials(ident.certificate, ident.key, api.ca_file),
                       attempts=2, backoff=0.01) as made:
        yield made
