"""The throwaway PostgreSQL server that the tests and benchmarks run on."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.postgres_server import PostgresServer, PostgresUnavailable, find_bin_dir


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port`` (from /proc)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            if len(address) == 8:
                found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
            else:
                found.add(f"ipv6:{address}")
    return found


def is_running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines()
                     if line.startswith("State:"))
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "zombie" not in state


def scalar(url: str, query: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


def test_a_server_starts_serves_two_databases_and_stops_cleanly() -> None:
    with PostgresServer() as server:
        assert server.directory is not None
        directory = server.directory
        pid = server._postmaster_pid()
        assert pid is not None and is_running(pid)
        assert server.admin_url == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"

        first = server.create_database("first")
        second = server.create_database("second")
        assert first.endswith(f"127.0.0.1:{server.port}/first")
        assert scalar(first, "select 1") == 1
        assert scalar(second, "select current_database()") == "second"

        # The databases are separate.
        engine = create_engine(first)
        with engine.begin() as conn:
            conn.execute(text("create table t (x int)"))
        engine.dispose()
        assert scalar(first, "select count(*) from information_schema.tables "
                             "where table_name = 't'") == 1
        assert scalar(second, "select count(*) from information_schema.tables "
                              "where table_name = 't'") == 0

        # Loopback only: one listening socket, on 127.0.0.1, and trust from nowhere else.
        assert listening_addresses(server.port or 0) == {"127.0.0.1"}
        assert scalar(server.admin_url, "show listen_addresses") == "127.0.0.1"
        assert scalar(server.admin_url, "select string_agg(coalesce(address, type), ',' "
                                        "order by line_number) from pg_hba_file_rules") \
            == "local,127.0.0.1"
        assert scalar(server.admin_url, "show fsync") == "off"

        server.drop_database("second")
        server.drop_database("second")  # dropping what is gone is no error
        with pytest.raises(ValueError):
            server.create_database('x"; drop database first; --')

    assert server.directory is None
    assert not directory.exists()
    assert not is_running(pid)
    server.stop()  # again: nothing to do
    with pytest.raises(RuntimeError):
        _ = server.admin_url


def test_stop_before_start_is_harmless() -> None:
    server = PostgresServer()
    server.stop()
    server.stop()


def test_a_missing_postgresql_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailable, match=r"scripts/system-deps\.sh.*initdb"):
        find_bin_dir(search_path=str(tmp_path), install_root=tmp_path)


def test_the_newest_installed_version_is_chosen(tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (bin_dir / tool).write_text("#!/bin/sh\n")
            (bin_dir / tool).chmod(0o755)
    assert find_bin_dir(search_path=str(tmp_path / "nothing"), install_root=tmp_path) \
        == tmp_path / "15" / "bin"


def test_a_directory_too_deep_for_a_socket_fails_clearly_and_leaves_nothing(
        tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    server = PostgresServer(base_dir=deep)
    with pytest.raises(PostgresUnavailable, match="too deep"):
        server.start()
    assert list(deep.iterdir()) == []
    assert server.directory is None


def test_the_session_server_is_shared(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("shared_check")
    try:
        assert scalar(url, "select 1") == 1
    finally:
        postgres_server.drop_database("shared_check")


def test_database_url_runs_on_both_backends(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table resident (id integer primary key, name text)"))
            conn.execute(text("insert into resident (id, name) values (1, 'Ana'), (2, 'Bo')"))
        with engine.connect() as conn:
            rows = conn.execute(text("select id, name from resident order by id")).all()
        assert [tuple(row) for row in rows] == [(1, "Ana"), (2, "Bo")]
        expected = "postgresql" if database_url.startswith("postgresql") else "sqlite"
        assert engine.dialect.name == expected
    finally:
        engine.dispose()
