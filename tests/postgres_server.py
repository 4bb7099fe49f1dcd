"""A real PostgreSQL server on loopback, for tests and benchmarks.

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` from the PostgreSQL that
the machine has (Debian's ``postgresql`` package puts them under
``/usr/lib/postgresql/VERSION/bin``) in a temporary directory, listening on
127.0.0.1 only, with durability switched off for speed. Nothing here touches
the machine's own clusters. As root, the server runs as the ``postgres``
system user, since PostgreSQL refuses to run as root.

    with PostgresServer() as server:
        url = server.create_database("ledger")   # a SQLAlchemy URL

This module imports no pytest: the benchmarks in ``bench/`` use it too.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
INSTALL_ROOT = Path("/usr/lib/postgresql")  # Debian's: VERSION/bin/initdb
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 120.0
LOG_TAIL_LINES = 30
# A Unix socket's path must fit in sockaddr_un (107 bytes and a NUL).
MAX_SOCKET_PATH = 107
PORT_ATTEMPTS = 3
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
FIX = "run scripts/system-deps.sh (it installs the Debian package postgresql)"

# Settings for a throwaway cluster: fast, small, loopback only. Durability is
# off because the data dies with the test run anyway.
SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "'32MB'",
    "max_connections": "50",
    "jit": "off",
    "unix_socket_permissions": "0700",
    "log_min_messages": "warning",
}
HBA = (
    "# Trust, but only from this machine: the Unix socket in the temporary\n"
    "# directory and 127.0.0.1.\n"
    "local all all trust\n"
    f"host all all {HOST}/32 trust\n"
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be run here; the message says what to do about it."""


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/VERSION``: numeric, newest last."""
    try:
        return tuple(int(part) for part in path.name.split("."))
    except ValueError:
        return (-1,)


def find_bin_dir(search_path: str | None = None, install_root: Path = INSTALL_ROOT) -> Path:
    """The directory that holds ``initdb`` and ``pg_ctl``: on ``search_path``
    (default: PATH) first, then under ``install_root/*/bin``, newest version
    first.

    Raises PostgresUnavailable if none has both.
    """
    candidates: list[Path] = []
    initdb = shutil.which("initdb", path=search_path)
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    installed = sorted(install_root.glob("*"), key=_version_key, reverse=True)
    candidates.extend(version / "bin" for version in installed)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return directory
    raise PostgresUnavailable(
        f"{FIX}; PostgreSQL's initdb was not found (searched PATH and "
        f"{install_root}/*/bin)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on at the moment."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


class PostgresServer:
    """A throwaway PostgreSQL cluster on loopback in a temporary directory.

    The constructor does no I/O; ``start()`` creates and starts the cluster,
    ``stop()`` stops it and removes the directory. Usable as a context
    manager. A server left running when the interpreter exits is stopped
    then. The directory is made under ``base_dir`` (default: the system's
    temporary directory); as root, the ``postgres`` user must be able to
    reach it, and its path must be short enough for a Unix socket.
    """

    def __init__(self, base_dir: Path | None = None) -> None:
        self.base_dir = base_dir
        self.port: int | None = None
        self.directory: Path | None = None
        self._bin: Path | None = None
        self._run_as_postgres = False
        self._running = False

    # -- paths --------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._directory / "data"

    @property
    def log_path(self) -> Path:
        return self._directory / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self._directory / "sock"

    @property
    def _directory(self) -> Path:
        if self.directory is None:
            raise RuntimeError("the PostgreSQL server has not been started")
        return self.directory

    @property
    def admin_url(self) -> str:
        """A SQLAlchemy URL for the ``postgres`` database, as the superuser.

        Raises RuntimeError if the server is not running.
        """
        return self.url("postgres")

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for ``database`` on this server (which need not exist yet).

        Raises RuntimeError if the server is not running.
        """
        if not self._running or self.port is None:
            raise RuntimeError("the PostgreSQL server is not running")
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    # -- life cycle -----------------------------------------------------------

    def start(self) -> None:
        """Create the cluster, start it and wait until it accepts connections.

        Raises PostgresUnavailable if PostgreSQL is not installed, if the
        ``postgres`` user is missing (as root), or if the server does not come
        up in time (the message then ends with the server log's tail).
        Raises RuntimeError if already started.
        """
        if self.directory is not None:
            raise RuntimeError("the PostgreSQL server was already started")
        self._bin = find_bin_dir()
        self._run_as_postgres = os.geteuid() == 0
        if self._run_as_postgres:
            self._check_postgres_user()
        self.directory = Path(tempfile.mkdtemp(prefix="sallyport-pg-", dir=self.base_dir))
        atexit.register(self.stop)
        try:
            self._prepare()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        log.info("PostgreSQL from %s listening on %s:%s (%s)", self._bin, HOST, self.port,
                 self.directory)

    def _check_postgres_user(self) -> None:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                f"{FIX}; running as root, the server needs the '{SUPERUSER}' system user, "
                "which does not exist") from None
        if not (shutil.which("runuser") or shutil.which("setpriv")):
            raise PostgresUnavailable(
                "running as root, the server must run as the postgres user, but neither "
                "runuser nor setpriv (Debian package util-linux) was found")

    def _prepare(self) -> None:
        directory = self._directory
        if len(str(self.socket_dir / ".s.PGSQL.65535")) > MAX_SOCKET_PATH:
            raise PostgresUnavailable(
                f"the temporary directory {directory} is too deep for a Unix socket path; "
                "give PostgresServer a shorter base_dir")
        self.socket_dir.mkdir()
        if self._run_as_postgres:
            user = pwd.getpwnam(SUPERUSER)
            for path in (directory, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run("initdb", "--pgdata", str(self.data_dir), "--username", SUPERUSER,
                  "--encoding", "UTF8", "--locale", "C", "--auth", "trust", "--no-sync")
        settings = {**SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# A throwaway cluster for Sallyport's tests and benchmarks.\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        (self.data_dir / "pg_hba.conf").write_text(HBA)

    def _start_server(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            result = self._run("pg_ctl", "start", "--pgdata", str(self.data_dir),
                               "--log", str(self.log_path), "--wait",
                               "--timeout", str(int(START_TIMEOUT_S)),
                               "--options", f"-p {self.port}", check=False)
            self._running = result.returncode == 0
            if self._running:
                break
            log_tail = _tail(self.log_path)
            # Another process took the port between free_port() and the bind.
            if "could not bind" in log_tail and attempt < PORT_ATTEMPTS:
                log.warning("port %s was taken; trying another", self.port)
                continue
            raise PostgresUnavailable(
                f"PostgreSQL did not start ({result.stdout.strip()} {result.stderr.strip()}); "
                f"the server log ends with:\n{log_tail}")
        self._wait_for_connections()

    def _wait_for_connections(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with self._connect():
                    return
            except psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        f"PostgreSQL on {HOST}:{self.port} accepts no connections after "
                        f"{START_TIMEOUT_S:.0f} s ({e}); the server log ends with:\n"
                        f"{_tail(self.log_path)}") from e
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory.

        Does nothing if it is not started or already stopped. Raises nothing
        for a server that will not stop: it is killed instead.
        """
        directory = self.directory
        if directory is None:
            return
        atexit.unregister(self.stop)
        if self._running or (self.data_dir / "postmaster.pid").exists():
            self._stop_server()
        self._running = False
        self.directory = None
        self.port = None
        shutil.rmtree(directory, ignore_errors=True)

    def _stop_server(self) -> None:
        pid = self._postmaster_pid()
        try:
            result = self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "fast",
                               "--wait", "--timeout", str(int(STOP_TIMEOUT_S)), check=False)
            stopped = result.returncode == 0
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("pg_ctl stop failed: %s", e)
            stopped = False
        if not stopped and pid is not None:
            # The postmaster is ours (its pid file is in our directory): kill
            # it and let its children follow.
            log.warning("PostgreSQL (pid %s) did not stop; killing it", pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first)
        except (OSError, ValueError):
            return None

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL.

        Raises ValueError for a name that is not a plain lower-case
        identifier, RuntimeError if the server is not running, and
        psycopg.Error if PostgreSQL refuses (say, the database exists).
        """
        self._check_name(name)
        with self._connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connections still open to it.

        Does nothing if it does not exist. Raises ValueError for a bad name,
        RuntimeError if the server is not running.
        """
        self._check_name(name)
        with self._connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))

    @staticmethod
    def _check_name(name: str) -> None:
        if not _DATABASE_NAME.fullmatch(name) or name in {"postgres", "template0", "template1"}:
            raise ValueError(f"not a usable database name: {name!r}")

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        if self.port is None or not self._running:
            raise RuntimeError("the PostgreSQL server is not running")
        return psycopg.connect(host=HOST, port=self.port, user=SUPERUSER, dbname="postgres",
                               autocommit=True, connect_timeout=5)

    # -- commands -------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the postgres user when we are root.

        Raises PostgresUnavailable if ``check`` and the tool fails.
        """
        assert self._bin is not None
        command = [str(self._bin / tool), *args]
        if self._run_as_postgres:
            if shutil.which("runuser"):
                command = ["runuser", "-u", SUPERUSER, "--", *command]
            else:
                command = ["setpriv", f"--reuid={SUPERUSER}", f"--regid={SUPERUSER}",
                           "--init-groups", "--", *command]
        result = subprocess.run(command, cwd=self._directory, env=self._environment(),
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=COMMAND_TIMEOUT_S, check=False)
        if check and result.returncode != 0:
            raise PostgresUnavailable(
                f"{tool} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}")
        return result

    @staticmethod
    def _environment() -> dict[str, str]:
        # No preload libraries (the test suite runs under umockdev's) and no
        # PG* variables of the caller's that would point the tools elsewhere.
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PG", "UMOCKDEV")) and key != "LD_PRELOAD"}
        env["LC_ALL"] = "C"
        return env
