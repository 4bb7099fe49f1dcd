"""The kiosk's own A/B update under its systemd unit: `sallyport kiosk boot`
lets the slots choose and execs the image's program, which is the unit's main
process; a real unix datagram socket stands in for systemd's NOTIFY_SOCKET
(checking, by the sender's credentials, that the pings come from the process
started, as NotifyAccess=main does), and the test restarts the unit as
Restart=always and TimeoutStartSec would. A good image (a real headless
kiosk) is marked good after its first watchdog period; an image that never
notifies, or exits, spends its tries and the next start runs the old slot and
says it rolled back. systemd-analyze verifies the unit itself."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.stage import prepare
from firmware_images.device import FirmwareDevice
from firmware_images.image import Manifest, build_image
from firmware_images.repository import ImageEntry
from firmware_images.slots import TRIES, SlotImage, SlotStore
from simulators.udev import mock_environment
from simulators.world import World

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "sallyport-kiosk.service"
WATCHDOG_USEC = 2_000_000  # WatchdogSec=2 for the test (the unit says 30)
START_TIMEOUT = 20.0  # TimeoutStartSec for the test: READY=1 or killed
GOOD = f'exec "{sys.executable}" -m sallyport kiosk "$@"\n'  # as the unit's: run ...


class Notify:
    """systemd's end of NOTIFY_SOCKET: datagrams with their sender's pid."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="notify-", dir="/tmp"))  # < 108 bytes
        self.path = self.directory / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def receive(self, timeout: float) -> tuple[str, int] | None:
        self.sock.settimeout(max(timeout, 0.01))
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except TimeoutError:
            return None
        pid = 0
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", value[:12])[0]
        return data.decode(), pid

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class Unit:
    """The unit's ExecStart, started and watched as systemd would."""

    def __init__(self, firmware: Path, config: Path, notify: Notify, env: dict[str, str],
                 log: Path) -> None:
        self.args = [sys.executable, "-m", "sallyport", "kiosk", "boot", "--firmware",
                     str(firmware), "--", "headless", "--config", str(config)]
        self.notify = notify
        self.env = {**env, "NOTIFY_SOCKET": str(notify.path),
                    "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = START_TIMEOUT) -> bool:
        """Start once; True when READY=1 and a WATCHDOG=1 came from the started
        process itself, False when it exited or timed out (and was killed)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, env=self.env, stdin=subprocess.PIPE,
                                            stdout=subprocess.DEVNULL, stderr=log,
                                            start_new_session=True)
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            got = self.notify.receive(min(0.5, deadline - time.monotonic()))
            if got is None:
                continue
            message, pid = got
            assert pid == self.process.pid, f"{message!r} from {pid}, not the main process"
            seen.update(message.split("\n"))
            if {"READY=1", "WATCHDOG=1"} <= seen:
                return True
        self.stop()
        return False

    def wait_pings(self, seconds: float) -> int:
        """WATCHDOG=1 pings from the main process over ``seconds``."""
        assert self.process is not None
        count = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.notify.receive(deadline - time.monotonic())
            if got is not None and got[0] == "WATCHDOG=1" and got[1] == self.process.pid:
                count += 1
        return count

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: nothing else
        if self.process is not None:
            self.process.wait(15)
            if self.process.stdin is not None:
                self.process.stdin.close()


def _kiosk_image(directory: Path, version: int, program: str) -> tuple[Path, ImageEntry]:
    source = directory / f"kiosk-{version}"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "kiosk").write_text(program)
    built = build_image(source, directory / f"kiosk-{version}.img",
                        Manifest("KX1", "kiosk", version, 1, f"kiosk {version}"))
    entry = ImageEntry(built.manifest.target_name, built.length, built.sha256, "KX1", "kiosk",
                       version, 1, built.manifest.label)
    return built.path, entry


@pytest.fixture
def kiosk(world: World, tmp_path: Path) -> Iterator[tuple[Path, Path, Notify, dict[str, str]]]:
    """A kiosk configuration (no server needed: it starts offline), its
    firmware directory with image 1 in slot a, and systemd's notify socket."""
    stage = prepare(tmp_path / "facility", [], password_cost="low",
                    hw={"settle": 0.2, "poll_interval": 0.5})
    firmware = tmp_path / "kiosk-firmware"
    image, entry = _kiosk_image(tmp_path / "images", 1, GOOD)
    from tests.firmware.world import Publisher  # a root that signs itself

    FirmwareDevice(firmware, model="KX1", kind="kiosk", time_keys={}).provision(
        Publisher(tmp_path / "agency").root(1), image,
        SlotImage(entry.name, entry.version, entry.sha256))
    notify = Notify()
    yield stage.kiosk_config, firmware, notify, mock_environment(world.testbed.root)
    notify.close()


def _install(firmware: Path, tmp_path: Path, version: int, program: str) -> None:
    image, entry = _kiosk_image(tmp_path / "images", version, program)
    staged = firmware / "staging" / "verified.img"
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, staged)
    SlotStore(firmware / "slots").install(staged, entry)


@pytest.mark.udev
def test_a_good_kiosk_image_is_marked_good_after_a_watchdog_period(
        kiosk: tuple[Path, Path, Notify, dict[str, str]], tmp_path: Path) -> None:
    config, firmware, notify, env = kiosk
    _install(firmware, tmp_path, 2, GOOD)
    unit = Unit(firmware, config, notify, env, tmp_path / "unit.log")
    try:
        assert unit.start(), (tmp_path / "unit.log").read_text()[-3000:]
        state = SlotStore(firmware / "slots").load()
        assert (state.trying, state.tries_left, state.event) == ("b", TRIES - 1, "trying")
        assert unit.wait_pings(3 * WATCHDOG_USEC / 1e6) >= 3  # pinged at half the period
        state = SlotStore(firmware / "slots").load()
        assert (state.good, state.trying, state.event) == ("b", None, "marked_good")
        assert state.good_image.version == 2
    finally:
        unit.stop()
    log = (tmp_path / "unit.log").read_text()
    assert "slot b (version 2) on trial, 2 tries left" in log
    # the next start runs slot b, no longer on trial
    unit = Unit(firmware, config, notify, env, tmp_path / "unit.log")
    try:
        assert unit.start()
    finally:
        unit.stop()
    assert "kiosk boot: slot b (version 2)\n" in (tmp_path / "unit.log").read_text()


@pytest.mark.udev
@pytest.mark.parametrize("program", ["exec sleep 600\n", "exit 3\n"],
                         ids=["never-notifies", "exits"])
def test_a_bad_kiosk_image_spends_its_tries_and_the_old_slot_runs(
        kiosk: tuple[Path, Path, Notify, dict[str, str]], tmp_path: Path,
        program: str) -> None:
    config, firmware, notify, env = kiosk
    _install(firmware, tmp_path, 2, program)
    log = tmp_path / "unit.log"
    for tries in range(TRIES):  # Restart=always: each start spends a try, and fails
        unit = Unit(firmware, config, notify, env, log)
        assert not unit.start(timeout=3.0)  # a shorter TimeoutStartSec: it never notifies
        state = SlotStore(firmware / "slots").load()
        assert (state.good, state.trying, state.tries_left) == ("a", "b", TRIES - 1 - tries)
    unit = Unit(firmware, config, notify, env, log)
    try:
        assert unit.start(), log.read_text()[-3000:]  # slot a's kiosk, by itself
        state = SlotStore(firmware / "slots").load()
        assert (state.good, state.trying, state.event) == ("a", None, "rolled_back")
        unit.wait_pings(1.5)
        assert SlotStore(firmware / "slots").load().event == "rolled_back"  # not on trial
    finally:
        unit.stop()
    assert f"slot b failed its health check {TRIES} times; back on slot a (version 1), " \
        "rolled back" in log.read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_unit_file_verifies(tmp_path: Path) -> None:
    """systemd-analyze verify on the unit as shipped: its directives are known
    and its ExecStart is an absolute, executable path (here, a stand-in at the
    shipped path's place, since /opt/sallyport is not installed on this machine)."""
    text = UNIT.read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "NotifyAccess=main" in text
    assert "sallyport kiosk boot --firmware" in text
    executable = "/opt/sallyport/.venv/bin/sallyport"
    stand_in = tmp_path / "sallyport"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "sallyport-kiosk.service"
    unit.write_text(text.replace(executable, str(stand_in)))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in done.stderr.splitlines()
                if "sallyport-kiosk.service" in line]
    assert done.returncode == 0 and not problems, done.stderr
