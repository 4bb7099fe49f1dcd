"""Shared fixtures. The suite runs under umockdev's preload library, so that
tests can build udev testbeds that the real pyudev code path enumerates; if
pytest was started without it, this file restarts pytest with it."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.hotplug import UdevHotplug
from hw.records import HotplugEvent, UsbId
from simulators.udev import PRELOAD, UdevTestbed, in_mock_environment, mock_environment
from simulators.world import World


def pytest_configure(config: pytest.Config) -> None:
    if in_mock_environment() or not shutil.which("umockdev-wrapper"):
        return
    # Restart this very pytest command under umockdev's preload library, with
    # pytest's output capture undone so that the new process writes to the
    # terminal.
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    env = mock_environment("", base=dict(os.environ))
    del env["UMOCKDEV_DIR"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)

TABLET_ID = UsbId(0x1D6B, 0x0104)

# umockdev's preload (Debian 12, 0.17.16) keeps one saved signal mask for all
# threads: when libvlc's threads, which block SIGINT, SIGQUIT, SIGTERM and
# SIGPIPE, read files, the main thread can be left with their mask, and every
# process started afterwards (Xvfb, servers) would ignore SIGTERM. Each test
# ends by putting the main thread's mask back.
SIGNAL_MASK = signal.pthread_sigmask(signal.SIG_BLOCK, ())


@pytest.fixture(autouse=True)
def signal_mask_restored() -> Iterator[None]:
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, SIGNAL_MASK)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default=None,
                     help="a real serial port with a loopback plug (TX to RX), for the link "
                     "contract tests, e.g. serial:///dev/ttyUSB0")


@pytest.fixture
def device_address(request: pytest.FixtureRequest) -> str:
    address = request.config.getoption("--device")
    if not address:
        pytest.skip("no real serial port given (--device serial:///dev/ttyUSB0)")
    return str(address)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Any]:
    """A real central server on loopback over TLS (tests/central/api_server.py),
    with the test facility built on SQLite. Imported here, not above, so that
    this file stays light before pytest restarts under umockdev."""
    from tests.central.api_server import ApiServer
    from tests.central.facility import build
    facility = build(f"sqlite:///{tmp_path}/central.db", tmp_path)
    with ApiServer(facility, tmp_path / "api") as server:
        yield server
    facility.central.db.dispose()


def _require_umockdev() -> None:
    if not in_mock_environment():
        pytest.fail(f"udev tests need umockdev ({PRELOAD}); run scripts/system-deps.sh")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A simulated world with 4 dock ports, in this process's udev testbed."""
    _require_umockdev()
    w = World(tmp_path / "world", ports=4, testbed=UdevTestbed())
    w.open()
    try:
        yield w
    finally:
        w.close()


class EventLog:
    """Hot-plug events as they arrive, with a way to wait for one."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[HotplugEvent] = queue.SimpleQueue()
        self.seen: list[HotplugEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: HotplugEvent) -> None:
        with self._lock:
            self.seen.append(event)
        self.events.put(event)

    def wait_for(self, kind: str, serial: str, timeout: float = 5.0) -> HotplugEvent:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} event for {serial} within {timeout} s; "
                                     f"seen {[(e.kind, e.device.serial) for e in self.seen]}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.kind == kind and event.device.serial == serial:
                return event


@pytest.fixture
def watch(world: World) -> Iterator[Callable[..., tuple[UdevHotplug, EventLog]]]:
    """Start a hot-plug source on the world's testbed; stopped at the end."""
    started: list[UdevHotplug] = []

    def start(**options: float | bool) -> tuple[UdevHotplug, EventLog]:
        log = EventLog()
        source = UdevHotplug([TABLET_ID], **options)  # type: ignore[arg-type]
        source.start(log)
        started.append(source)
        return source, log

    yield start
    for source in started:
        source.stop()
