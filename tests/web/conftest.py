"""Fixtures for the web pages' tests: Debian's Chromium once per run, and
the central server as a process of its own on SQLite (and PostgreSQL for the
main family flow)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.central.api_server import ApiServer
from tests.central.conftest import postgres_server  # noqa: F401 - a fixture, used by name
from tests.central.facility import Facility
from tests.central.facility import build as build_facility
from tests.postgres_server import PostgresServer
from tests.web.rig import WebServer, chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    # Generous: the machine's two cores are shared, and a slow answer is not a wrong one.
    context.set_default_timeout(90_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    """The central server as its own process on SQLite."""
    with WebServer(f"sqlite:///{tmp_path}/central.db", tmp_path / "state") as server:
        yield server


@pytest.fixture
def web_pg(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[WebServer]:  # noqa: F811
    """The central server as its own process on PostgreSQL."""
    name = f"web_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    try:
        with WebServer(url, tmp_path / "state") as server:
            yield server
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def https_site(tmp_path: Path) -> Iterator[ApiServer]:
    """The server over HTTPS on loopback, in this process (SQLite), for the
    cookie and form-protection tests that need no browser."""
    facility: Facility = build_facility(f"sqlite:///{tmp_path}/central.db", tmp_path)
    try:
        with ApiServer(facility, tmp_path / "api") as server:
            yield server
    finally:
        facility.central.db.dispose()
