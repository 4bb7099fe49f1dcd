"""A whole facility on one machine: for the demo and the end-to-end tests.

:func:`prepare` makes, under one directory, the facility CA, the central
server's and the kiosk's identities, provisioned simulated tablets (each
with its factory firmware in slot a and the root of an agency repository of
the stage's own, devkit/firmware.py), the demo data on the server's SQLite
database (``sallyport central seed --demo``,
with the kiosk's and tablets' certificates registered), and the two
configuration files. :class:`CentralProcess` and :class:`KioskProcess` run
``sallyport central serve`` and ``sallyport kiosk headless`` on them, as
processes of their own, each with its log file.

The identities made here are for a simulator only.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.config import dump_toml
from device_security.ca_store import CertificateAuthority, IdentityFiles
from device_security.pki import Role
from device_security.secure_element import KeyFileSecureElement
from devkit.firmware import FACTORY_IMAGE, DemoFirmware
from firmware_images.device import FirmwareDevice
from simulators.ports import free_port
from tablet.device import TabletDirectory

KIOSK_ID = "K-CC-A1"  # the seeded kiosk of unit CC-A (central/seed.py)
LOCATION = "CC-A-DAYROOM"
UNIT = "CC-A"


@dataclass(frozen=True)
class StageTablet:
    """A simulated tablet to provision: its device directory and serial."""

    directory: Path
    serial: str


@dataclass
class Stage:
    root: Path
    central_port: int
    tablets: list[StageTablet] = field(default_factory=list)
    firmware: DemoFirmware | None = None  # the agency's repository the tablets trust

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def central_config(self) -> Path:
        return self.root / "central.toml"

    @property
    def kiosk_config(self) -> Path:
        return self.root / "kiosk.toml"

    @property
    def central_url(self) -> str:
        return f"https://127.0.0.1:{self.central_port}"

    @property
    def ca_certificate(self) -> Path:
        return self.ca_dir / "ca-cert.pem"

    def log(self, name: str) -> Path:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        return self.root / "logs" / f"{name}.log"


def _issue(ca: CertificateAuthority, directory: Path, role: Role, name: str,
           now: datetime.datetime, **extra: Any) -> None:
    element = KeyFileSecureElement(directory / ("secure-element.pem" if role == Role.TABLET
                                                else "key.pem"))
    directory.mkdir(parents=True, exist_ok=True)
    if not element.exists():
        element.generate()
    cert = ca.issue(element.public_key(), role=role, name=name, now=now, **extra)
    IdentityFiles(directory / "identity").install(cert, ca.certificate)


def prepare(root: Path, tablets: Sequence[StageTablet], *, central_port: int | None = None,
            smtp: tuple[str, int] | None = None, round_interval_s: float = 5.0,
            password_cost: str = "standard",  # noqa: S107 - a hashing cost
            hw: dict[str, Any] | None = None, kiosk: dict[str, Any] | None = None,
            kiosk_central_url: str | None = None, trust_account_url: str = "") -> Stage:
    """Make the facility under ``root`` (see the module docstring). ``kiosk``
    adds to the kiosk's [kiosk] table; ``kiosk_central_url`` is where the
    kiosk finds the server (by default, the server itself; the simulator's
    network switch, say, to cut the kiosk off). Raises RuntimeError, with the
    seed's output, if seeding fails. ``trust_account_url`` is the agency's
    trust-account system (by default, one inside the server's process)."""
    root.mkdir(parents=True, exist_ok=True)
    stage = Stage(root, central_port or free_port(), list(tablets))
    # Valid from a minute ago: a fresh certificate must already be valid when checked.
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    ca = CertificateAuthority.create(stage.ca_dir, "Cedar Creek Corrections Center", now=now)
    _issue(ca, root / "central-identity", Role.CENTRAL_SERVER, "central", now,
           hosts=("127.0.0.1",))
    _issue(ca, root / "kiosk", Role.KIOSK, LOCATION, now)
    for tablet in tablets:
        _issue(ca, tablet.directory, Role.TABLET, f"tablet {tablet.serial}", now,
               serial=tablet.serial)
    if tablets:  # each with its factory image in slot a and the agency's root
        stage.firmware = DemoFirmware.create(root / "firmware")
        for tablet in tablets:
            FirmwareDevice.provision_from(TabletDirectory(tablet.directory).firmware_path,
                                          stage.firmware.repository, FACTORY_IMAGE)
    stage.central_config.write_text(dump_toml({"central": {
        "state_dir": str(root / "central"), "host": "127.0.0.1", "port": stage.central_port,
        "tls_certificate": str(root / "central-identity" / "identity" / "certificate.pem"),
        "tls_key": str(root / "central-identity" / "key.pem"),
        "ca_certificate": str(stage.ca_certificate), "crl": str(stage.ca_dir / "crl.pem"),
        "card_processor": "sandbox", "password_cost": password_cost,
        "trust_account_url": trust_account_url}}))
    kiosk = {"location_code": LOCATION, "unit": UNIT, "state_dir": str(root / "kiosk-state"),
             **(kiosk or {})}
    if smtp is not None:
        kiosk.update(smtp_host=smtp[0], smtp_port=smtp[1], alert_from="kiosk@cedarcreek.test",
                     alert_to="staff@cedarcreek.test")
    stage.kiosk_config.write_text(dump_toml({
        "kiosk": kiosk,
        "sync": {"cache_dir": str(root / "kiosk-cache"),
                 "central_url": kiosk_central_url or stage.central_url,
                 "certificate": str(root / "kiosk" / "identity" / "certificate.pem"),
                 "key": str(root / "kiosk" / "key.pem"),
                 "ca_certificate": str(stage.ca_certificate),
                 "alert_queue": str(root / "kiosk-state" / "alerts.db"),
                 "round_interval_s": round_interval_s, "request_timeout_s": 10.0},
        "hw": hw or {}}))
    args = [sys.executable, "-m", "sallyport", "central", "--config", str(stage.central_config),
            "seed", "--demo", "--kiosk-certificate",
            f"{KIOSK_ID}={root / 'kiosk' / 'identity' / 'certificate.pem'}"]
    for tablet in tablets:
        args += ["--tablet-certificate",
                 f"{tablet.serial}={tablet.directory / 'identity' / 'certificate.pem'}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    stage.log("seed").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"seeding the central server failed:\n{done.stdout}{done.stderr}")
    return stage


class Child:
    """One process of the stage; its output goes to a log file."""

    def __init__(self, name: str, args: list[str], log: Path, *,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = args
        self.log_path = log
        self.env = env
        self.process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _popen(self, **kw: Any) -> subprocess.Popen[str]:
        with self.log_path.open("a") as log:
            log.write(f"--- {self.name} starts: {' '.join(self.args)}\n")
        self._log = self.log_path.open("a")
        kw.setdefault("stdout", self._log)
        self.process = subprocess.Popen(self.args, stderr=self._log, text=True, env=self.env,
                                        start_new_session=True, **kw)
        return self.process

    def kill(self) -> None:
        """kill -9: no goodbyes, as a power cut or a crash."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive:
            os.kill(self.pid, signal.SIGTERM)
            try:
                assert self.process is not None
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait(15)
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):  # a broken pipe to a killed process
                    self.process.stdin.close()
            self._log.close()

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


class CentralProcess(Child):
    """``sallyport central serve`` on the stage's configuration."""

    def __init__(self, stage: Stage) -> None:
        super().__init__("central", [sys.executable, "-m", "sallyport", "central", "--config",
                                     str(stage.central_config), "serve"],
                         stage.log("central"))
        self.port = stage.central_port

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until it accepts connections; raises RuntimeError if not."""
        self._popen(stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the central server did not start; its log ends:\n{self.tail()}")


class KioskProcess(Child):
    """``sallyport kiosk headless``: commands down its stdin, events up its stdout."""

    def __init__(self, stage: Stage, *, env: dict[str, str] | None = None) -> None:
        super().__init__("kiosk", [sys.executable, "-m", "sallyport", "kiosk", "headless",
                                   "--config", str(stage.kiosk_config)],
                         stage.log("kiosk"), env=env)
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until its dock is open (after its first round)."""
        self.events.clear()
        self._replies = queue.Queue()
        process = self._popen(stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=1)
        threading.Thread(target=self._read, args=(process,), name="kiosk-events",
                         daemon=True).start()
        self.wait_for(lambda e: e.get("event") == "dock_ready", timeout)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
                if "reply" in event:
                    self._replies.put(event)
        with self._changed:
            self._changed.notify_all()

    def command(self, op: str, timeout: float = 30.0, **args: Any) -> dict[str, Any]:
        """Send a command and return its reply; raises TimeoutError."""
        return self.send_line(json.dumps({"op": op, **args}), timeout)

    def send_line(self, line: str, timeout: float = 30.0) -> dict[str, Any]:
        """Send one line as it is and return the kiosk's reply to it."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty as e:
            raise TimeoutError(f"the kiosk did not answer {line[:80]!r}; its log ends:\n"
                               f"{self.tail()}") from e

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float,
                 after: int = 0) -> dict[str, Any]:
        """The first event from index ``after`` on that matches; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[after:]:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive:
                    raise TimeoutError(f"no such kiosk event in {timeout} s; its log ends:\n"
                                       f"{self.tail()}")
                self._changed.wait(min(left, 0.5))

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive and self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        super().stop(timeout)
