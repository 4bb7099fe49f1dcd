"""Kiosk K-A2's client of the central server the rounds talk to (``api``, a real
one on loopback over TLS, is tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.central_client import CentralClient, KioskCredentials
from tests.central.api_server import ApiServer


@pytest.fixture
def client(api: ApiServer) -> Iterator[CentralClient]:
    ident = api.kiosks["K-A2"]
    with CentralClient(api.url, KioskCredentials(ident.certificate, ident.key, api.ca_file),
                       attempts=2, backoff=0.01) as made:
        yield made
