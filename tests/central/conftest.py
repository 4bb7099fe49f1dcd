"""Fixtures for the central server's tests: its databases and the systems it talks to.

Tests that take ``database_url`` run twice, on SQLite and on a real
PostgreSQL server that the session starts once. A missing PostgreSQL is a
failure, not a skip: ``make test`` installs it, and the suite must prove both
databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.trust_account import TrustAccountSimulator
from tests.central.api_server import ApiServer
from tests.central.facility import Facility
from tests.central.facility import build as build_facility
from tests.postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server on loopback for the whole run, stopped at its end."""
    server = PostgresServer()
    problem = None
    try:
        server.start()
    except PostgresUnavailable as e:
        problem = str(e)
    if problem is not None:
        pytest.fail(f"the central server's tests need PostgreSQL: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL for an empty database: a SQLite file, or a fresh
    PostgreSQL database that is dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/central.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:20]}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)


@pytest.fixture
def trust_simulator(tmp_path: Path) -> Iterator[TrustAccountSimulator]:
    """The agency's trust-account system, simulated on loopback, state in tmp_path."""
    simulator = TrustAccountSimulator(tmp_path / "trust.sqlite3")
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def facility(database_url: str, tmp_path: Path) -> Iterator[Facility]:
    """A migrated central server with one agency, facility, two units, kiosks and
    staff of every role (tests/central/facility.py), on SQLite and PostgreSQL."""
    built = build_facility(database_url, tmp_path)
    try:
        yield built
    finally:
        built.central.db.dispose()


@pytest.fixture
def api(facility: Facility, tmp_path: Path) -> Iterator[ApiServer]:
    """The facility's server over HTTPS on loopback, with kiosk certificates."""
    with ApiServer(facility, tmp_path / "api") as server:
        yield server
